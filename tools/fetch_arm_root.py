"""Make the arm64 root the ARM cost runner needs (.cache/arm64/, ignored by git). Safe to run again.

What it makes, without emulating anything (no second debootstrap stage, no pip inside the guest):

    .cache/arm64/sysroot/            Debian 12 arm64 python3 (3.11) and what it needs: the .debs
                                     `debootstrap --foreign --variant=minbase --include=python3`
                                     fetches (signed Release, sha256-checked packages), unpacked
                                     with `dpkg-deb -x`; their docs, man pages and locales dropped
    .cache/arm64/sysroot/opt/litert/site/
                                     LiteRT's aarch64 wheel and numpy (tools/arm/wheels-aarch64.txt,
                                     sha256-pinned, fetched by `pip download --platform`), unpacked
    .cache/arm64/views/<profile>/    each CPU profile's fake /proc/cpuinfo and /sys/devices/system/cpu
                                     files beside symlinks into sysroot (what `qemu-aarch64 -L` sees)
    .cache/arm64/plugin/insn_count.so
                                     tools/arm/insn_count.c compiled with gcc for the host's QEMU
                                     (plugin API 1 before QEMU 9, 2 from 9.0)
    .cache/arm64/root.json           versions: Debian suite, Python, LiteRT, numpy, QEMU, plugin API

    .cache/arm64/qemu/               only where the host has no dynamic qemu-aarch64 (Debian 13's
                                     qemu-user is static and cannot load plugins): Debian 12's amd64
                                     qemu-aarch64 7.2 and its shared libraries, run through their own
                                     loader (`--qemu bundled` asks for it anywhere)

Host needs: gcc, debootstrap, dpkg-deb, Debian's qemu-user where it is dynamic (Debian 12), and the
Debian mirror plus the package index (PyPI). `--install-debs` installs the Debian packages with
apt-get first. The sysroot is made once; a later run only
rebuilds the plugin when QEMU or the plugin's source changed, and ends with a short emulated
import of LiteRT to prove the root works.

Offline outside CI it says what is missing and exits 0 (the ARM cost tests then skip with that
reason); with CI=true a failure exits 1.

    .venv/bin/python tools/fetch_arm_root.py [--install-debs] [--cache DIR] [--mirror URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from flowers_mobile.armcost.runner import (  # noqa: E402
    GUEST_SITE,
    PROFILES,
    ROOT_JSON,
    _is_dynamic,
    _qemu_version,
    bundled_qemu,
    find_qemu,
    plugin_api_for,
    write_view,
)
from flowers_mobile.errors import UserError  # noqa: E402

DEFAULT_CACHE = ROOT / ".cache" / "arm64"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
WHEELS = ROOT / "tools" / "arm" / "wheels-aarch64.txt"
PLUGIN_SOURCE = ROOT / "tools" / "arm" / "insn_count.c"
HOST_DEBS = {"gcc": "gcc", "debootstrap": "debootstrap", "dpkg-deb": "dpkg"}
#: Parts of the unpacked packages the guest's Python never reads.
TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt", "debootstrap")


class FetchError(Exception):
    pass


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise FetchError(f"{what} failed: {tail[0][:300]}")
    return proc


def host_qemu_usable() -> bool:
    """A dynamic qemu-aarch64 on PATH (a static one, like Debian 13's, cannot load plugins)."""
    qemu = shutil.which("qemu-aarch64")
    return qemu is not None and _is_dynamic(qemu)


def install_debs(qemu: str) -> None:
    missing = sorted({deb for tool, deb in HOST_DEBS.items() if shutil.which(tool) is None})
    if qemu != "bundled" and shutil.which("qemu-aarch64") is None:
        missing.append("qemu-user")
    if shutil.which("gcc") is None or not Path("/usr/include/stdio.h").is_file():
        missing = sorted(set(missing) | {"gcc", "libc6-dev"})
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"fetch_arm_root: installing Debian packages: {' '.join(missing)}", file=sys.stderr)
    _run(sudo + ["apt-get", "update", "-qq"], "apt-get update")
    _run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], "apt-get install",
         env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def check_host() -> None:
    missing = [f"{tool} (Debian package {deb})" for tool, deb in HOST_DEBS.items() if shutil.which(tool) is None]
    if missing:
        raise FetchError(f"missing on this machine: {', '.join(missing)}; run with --install-debs or "
                         f"apt-get install {' '.join(sorted(set(HOST_DEBS.values())))}")


def _pins() -> dict[str, tuple[str, str]]:
    """name -> (version, sha256) from tools/arm/wheels-aarch64.txt."""
    out = {}
    for line in WHEELS.read_text(encoding="utf-8").splitlines():
        found = re.match(r"([\w.-]+)==([\w.]+)\s+--hash=sha256:([0-9a-f]{64})", line)
        if found:
            out[found.group(1).replace("-", "_").lower()] = (found.group(2), found.group(3))
    return out


def _first_stage(root: Path, arch: str, include: str, mirror: str) -> list[Path]:
    """Debian's minbase for `arch` plus `include` in `root`, without emulating anything: the first
    debootstrap stage (signed Release, sha256-checked packages) unpacks only the Required packages;
    the rest waits for a second stage that would run under emulation. dpkg-deb -x unpacks them all
    here; maintainer scripts are not run (neither python3 nor qemu-user needs them to run).
    Returns the unpacked .debs."""
    _run(["debootstrap", "--foreign", f"--arch={arch}", "--variant=minbase", f"--include={include}", SUITE,
          str(root), mirror], f"debootstrap --foreign of {include}")
    debs = sorted((root / "var" / "cache" / "apt" / "archives").glob("*.deb"))
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")
    return debs


def make_sysroot(cache: Path, mirror: str) -> dict[str, str]:
    """sysroot/ with python3, LiteRT and numpy; returns the versions it holds."""
    tmp = Path(tempfile.mkdtemp(prefix="sysroot.", dir=cache))
    try:
        print(f"fetch_arm_root: Debian {SUITE} arm64 python3 from {mirror} (first debootstrap stage only)",
              file=sys.stderr)
        debs = _first_stage(tmp, "arm64", "python3", mirror)
        python = next((d.name.split("_")[1].split("-")[0] for d in debs
                       if d.name.startswith("python3.11-minimal_")), None)
        if python is None:
            raise FetchError(f"debootstrap fetched no python3.11-minimal for {SUITE} arm64")
        for rel in TRIM:
            shutil.rmtree(tmp / rel, ignore_errors=True)
        versions = {"suite": SUITE, "python": python, **install_wheels(cache, tmp / GUEST_SITE.lstrip("/"))}
        _precompile(tmp)
        final = cache / "sysroot"
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        return versions
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def install_wheels(cache: Path, site: Path) -> dict[str, str]:
    """pip download the pinned aarch64 wheels (hash-checked) into cache/wheels, unpack into `site`."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--require-hashes",
          "--platform", "manylinux_2_27_aarch64", "--python-version", "3.11", "--implementation", "cp",
          "-d", str(wheels), "-r", str(WHEELS)], "pip download of the aarch64 wheels")
    versions = {}
    site.mkdir(parents=True, exist_ok=True)
    for name, (version, sha) in _pins().items():
        found = [w for w in wheels.glob(f"{name}-{version}-*.whl")]
        if not found:
            raise FetchError(f"pip download left no {name} {version} wheel in {wheels}")
        digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
        if digest != sha:
            raise FetchError(f"{found[0]}: sha256 {digest[:12]}… is not the pinned {sha[:12]}…")
        with zipfile.ZipFile(found[0]) as zf:
            zf.extractall(site)
        versions[name.replace("ai_edge_litert", "litert")] = version
    return versions


def _precompile(sysroot: Path) -> None:
    """Byte-compile the guest's standard library and wheels with this Python when it is a 3.11 too
    (the same .pyc format): the guest then skips compiling on every start, under emulation."""
    if sys.version_info[:2] != (3, 11):
        return
    import compileall

    for folder, guest in ((sysroot / "usr" / "lib" / "python3.11", "/usr/lib/python3.11"),
                          (sysroot / GUEST_SITE.lstrip("/"), GUEST_SITE)):
        compileall.compile_dir(folder, quiet=2, ddir=guest, workers=1)


def build_plugin(cache: Path, qemu_version: str) -> dict[str, object]:
    api = plugin_api_for(qemu_version)
    out = cache / "plugin" / "insn_count.so"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(".insn_count.so.tmp")
    _run(["gcc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror",
          f"-DFM_PLUGIN_API={api}", "-o", str(tmp), str(PLUGIN_SOURCE)], "gcc of tools/arm/insn_count.c")
    tmp.rename(out)
    return {"api": api, "qemu": qemu_version, "source_sha256": _sha(PLUGIN_SOURCE)}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def smoke_test(cache: Path, qemu: tuple[str, ...]) -> None:
    """Import what guest.py imports, under emulation with the plugin loaded: proves the root, the CPU
    files and the plugin. Where the host could not byte-compile for the guest (its Python is not a
    3.11), this writes those modules' .pyc files, once: every later run then starts the same way,
    which keeps its heap, and so its count, the same run to run."""
    view = cache / "views" / "cortex-a76"
    with tempfile.TemporaryDirectory() as tmp:
        _run([*qemu, "-cpu", "cortex-a76", "-plugin", f"{cache / 'plugin' / 'insn_count.so'},out={tmp}/marks",
              "-L", str(view), str(cache / "sysroot" / "usr" / "bin" / "python3"), "-c",
              "import ctypes, json, numpy; from ai_edge_litert.interpreter import Interpreter"],
             "the emulated import of LiteRT", env={"PYTHONPATH": GUEST_SITE, "PATH": "/usr/bin:/bin"}, timeout=300)


def make_qemu_bundle(cache: Path, mirror: str) -> None:
    """cache/qemu: Debian 12's amd64 qemu-aarch64 (7.2, dynamic, plugins on) and the shared libraries
    it loads, from the first debootstrap stage of an amd64 minbase + qemu-user (no emulation, no
    installing): for hosts whose own QEMU cannot load plugins (Debian 13's is static). It runs
    through its own dynamic loader, so the figures are those of Debian 12's QEMU on any x86-64 Linux."""
    tmp = Path(tempfile.mkdtemp(prefix="qemu.", dir=cache))
    keep = Path(tempfile.mkdtemp(prefix="qemu-keep.", dir=cache))
    try:
        print(f"fetch_arm_root: Debian {SUITE} amd64 qemu-user from {mirror} (its own libraries beside it)",
              file=sys.stderr)
        _first_stage(tmp, "amd64", "qemu-user", mirror)
        (keep / "usr" / "bin").mkdir(parents=True)
        shutil.copy2(tmp / "usr" / "bin" / "qemu-aarch64", keep / "usr" / "bin" / "qemu-aarch64")
        libs = tmp / "usr" / "lib" / "x86_64-linux-gnu"
        (keep / "usr" / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
        for lib in libs.iterdir():  # the shared libraries only (not perl, gconv, ...)
            if ".so" in lib.name and (lib.is_file() or lib.is_symlink()):
                shutil.copy2(lib, keep / "usr" / "lib" / "x86_64-linux-gnu" / lib.name, follow_symlinks=False)
        final = cache / "qemu"
        shutil.rmtree(final, ignore_errors=True)
        keep.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(keep, ignore_errors=True)


def fetch(cache: Path, mirror: str, qemu_choice: str = "auto") -> dict[str, object]:
    check_host()
    cache.mkdir(parents=True, exist_ok=True)
    stamp = cache / ROOT_JSON
    info = json.loads(stamp.read_text(encoding="utf-8")) if stamp.is_file() else {}
    start = time.perf_counter()
    # Made again when missing or when the pinned wheels (LiteRT's version) changed.
    if info.get("wheels_sha256") != _sha(WHEELS) or not (cache / "sysroot" / "usr" / "bin" / "python3").exists():
        info = {"mirror": mirror, **make_sysroot(cache, mirror), "wheels_sha256": _sha(WHEELS)}
        info["sysroot_seconds"] = round(time.perf_counter() - start, 1)
    source = qemu_choice if qemu_choice != "auto" else ("host" if host_qemu_usable() else "bundled")
    if source == "bundled":
        if bundled_qemu(cache) is None:
            started = time.perf_counter()
            make_qemu_bundle(cache, mirror)
            info["qemu_bundle_seconds"] = round(time.perf_counter() - started, 1)
        qemu = bundled_qemu(cache)
        assert qemu is not None
        qemu_version = _qemu_version(qemu)
    else:
        qemu, qemu_version = find_qemu()
    info["qemu_source"] = source
    plugin = info.get("plugin") or {}
    if (plugin.get("qemu") != qemu_version or plugin.get("source_sha256") != _sha(PLUGIN_SOURCE)
            or not (cache / "plugin" / "insn_count.so").is_file()):
        info["plugin"] = build_plugin(cache, qemu_version)
    for profile in PROFILES.values():
        write_view(cache / "sysroot", cache / "views" / profile.name, profile)
    smoke_test(cache, qemu)
    info["sysroot_bytes"] = sum(f.stat().st_size for f in (cache / "sysroot").rglob("*")
                                if f.is_file() and not f.is_symlink())
    tmp = stamp.with_name(".root.json.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    tmp.rename(stamp)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="root folder (default .cache/arm64)")
    parser.add_argument("--mirror", default=MIRROR, help=f"Debian mirror (default {MIRROR})")
    parser.add_argument("--install-debs", action="store_true",
                        help="apt-get install the missing Debian packages (gcc libc6-dev debootstrap, qemu-user "
                             "for --qemu host) first")
    parser.add_argument("--qemu", choices=("auto", "host", "bundled"), default="auto",
                        help="host: the machine's qemu-aarch64; bundled: Debian 12's, unpacked into the root; "
                             "auto (default): host when it is dynamic (plugins), else bundled")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.install_debs:
            install_debs(args.qemu)
        info = fetch(args.cache, args.mirror, args.qemu)
    except (FetchError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"fetch_arm_root: {exc}", file=sys.stderr)
        if os.environ.get("CI", "").lower() == "true":
            return 1
        print("fetch_arm_root: continuing without the arm64 root; ARM cost figures are left out and their "
              "tests skip (run tools/fetch_arm_root.py again once this is fixed)", file=sys.stderr)
        return 0
    except UserError as exc:  # find_qemu's: qemu-aarch64 missing or its version unreadable
        print(f"fetch_arm_root: {exc.one_line()}", file=sys.stderr)
        return 1 if os.environ.get("CI", "").lower() == "true" else 0
    print(f"fetch_arm_root: ready: {args.cache} (Python {info['python']}, LiteRT {info['litert']}, numpy "
          f"{info['numpy']}, {int(info['sysroot_bytes']) / 1e6:.0f} MB; plugin API {info['plugin']['api']} for "
          f"{info['qemu_source']} QEMU {info['plugin']['qemu']}) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
