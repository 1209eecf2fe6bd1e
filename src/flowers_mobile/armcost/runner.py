"""Find the arm64 root made by tools/fetch_arm_root.py, run .tflite files in it under QEMU with the
counting plugin, and turn the plugin's marks into instructions per image per CPU profile.

Layout of the root folder (default .cache/arm64/, or FLOWERS_ARM_ROOT):

    root.json                  what was installed: Debian suite, Python, LiteRT and numpy versions,
                               the QEMU the plugin was built for and its plugin API generation
    sysroot/                   Debian arm64 python3 (unpacked .debs) and, in opt/litert/site,
                               LiteRT's aarch64 wheel and numpy
    views/<profile>/           what `qemu-aarch64 -L` sees for one CPU profile: symlinks into
                               sysroot plus that profile's fake /proc/cpuinfo and
                               /sys/devices/system/cpu/{possible,present,online}
    plugin/insn_count.so       tools/arm/insn_count.c, compiled for the host's QEMU
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from flowers_mobile.errors import UserError

ROOT_ENV = "FLOWERS_ARM_ROOT"
#: The checkout this package runs from (src/flowers_mobile/armcost/runner.py -> repo root).
_REPO = Path(__file__).resolve().parents[3]
DEFAULT_ROOT = _REPO / ".cache" / "arm64"
ROOT_JSON = "root.json"
GUEST_SCRIPT = Path(__file__).with_name("guest.py")
#: Where the wheels sit inside the guest's file system.
GUEST_SITE = "/opt/litert/site"
FETCH_HINT = ("make it with `.venv/bin/python tools/fetch_arm_root.py --install-debs` "
              "(Debian packages gcc, debootstrap and qemu-user; see docs/arm_cost.md)")


class ArmCostUnavailable(UserError):
    """The root, QEMU or the plugin is missing or does not fit: one line saying which and what to do."""


class ArmCostError(UserError):
    """A model did not run in the emulated root (the guest's own error, in one line)."""


@dataclass(frozen=True)
class CpuProfile:
    """A pinned emulated phone CPU: the QEMU CPU model (its instruction set, given to the guest as
    hwcaps) and the core /proc/cpuinfo names (XNNPACK picks core-tuned kernels by it)."""

    name: str
    label: str
    #: QEMU CPU models in order of preference; the first this QEMU lists is used.
    qemu_cpus: tuple[str, ...]
    midr_variant: int
    midr_part: int
    note: str

    def cpuinfo(self) -> str:
        """A one-core /proc/cpuinfo as an arm64 Linux kernel writes it."""
        return ("processor\t: 0\nBogoMIPS\t: 50.00\n"
                "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                "asimdrdm lrcpc dcpop asimddp\n"
                f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: {self.midr_variant:#x}\n"
                f"CPU part\t: {self.midr_part:#05x}\nCPU revision\t: 0\n\n")


PROFILES: dict[str, CpuProfile] = {
    "cortex-a76": CpuProfile(
        "cortex-a76", "big core (Cortex-A76)", ("cortex-a76",), 0x4, 0xD0B,
        "ARMv8.2-A with dotprod and fp16, no i8mm: the big core of 2019-2021 mid and high-end "
        "phones (Snapdragon 855/865 class); QEMU's cortex-a76 model"),
    "cortex-a55": CpuProfile(
        "cortex-a55", "little core (Cortex-A55)", ("cortex-a55", "cortex-a76"), 0x2, 0xD05,
        "the little core of most 2018-2023 phones: the same instruction set as the A76 (ARMv8.2-A, "
        "dotprod, fp16), so where QEMU has no cortex-a55 model (7.2) its cortex-a76 model runs and "
        "/proc/cpuinfo names an A55, which makes XNNPACK pick its A55-tuned kernels"),
}
DEFAULT_PROFILES: tuple[str, ...] = ("cortex-a76", "cortex-a55")


def plugin_api_for(qemu_version: str) -> int:
    """The plugin API generation insn_count.c is compiled for: 1 before QEMU 9, 2 from 9.0 on
    (9.0 removed the plain-pointer inline counter for per-vCPU scoreboards)."""
    major = int(qemu_version.split(".")[0])
    return 1 if major < 9 else 2


def bundled_qemu(root: Path) -> tuple[str, ...] | None:
    """The command that runs the root's own QEMU (Debian 12's qemu-user and its libraries, unpacked
    into ROOT/qemu by tools/fetch_arm_root.py where the host has no dynamic qemu-aarch64), through
    its own dynamic loader: it needs nothing of the host's libraries."""
    base = root / "qemu"
    libs = base / "usr" / "lib" / "x86_64-linux-gnu"
    loader, exe = libs / "ld-linux-x86-64.so.2", base / "usr" / "bin" / "qemu-aarch64"
    if not (loader.is_file() and exe.is_file()):
        return None
    return (str(loader), "--library-path", str(libs), str(exe))


def find_qemu() -> tuple[tuple[str, ...], str]:
    """(command, version) of the host's qemu-aarch64; ArmCostUnavailable when there is none or it
    cannot load plugins."""
    qemu = shutil.which("qemu-aarch64")
    if qemu is None:
        raise ArmCostUnavailable("ARM cost: qemu-aarch64 not found",
                                 hint="install Debian's qemu-user (apt-get install qemu-user), or run "
                                      "`tools/fetch_arm_root.py --qemu bundled`")
    version = _qemu_version((qemu,))
    if not _is_dynamic(qemu):
        # Static QEMU builds have no plugin loader: Debian 13 made qemu-user static (QEMU 10).
        raise ArmCostUnavailable(
            f"ARM cost: {qemu} (QEMU {version}) is statically linked and cannot load the counting plugin",
            hint="run `tools/fetch_arm_root.py --qemu bundled` (Debian 12's QEMU in the root), or install a "
                 "dynamically linked qemu-aarch64 built with plugins; see docs/arm_cost.md")
    return (qemu,), version


def _is_dynamic(path: str) -> bool:
    """Whether an ELF executable names a program interpreter (PT_INTERP): static builds, including
    static-pie ones, do not, and QEMU disables plugins in them."""
    import struct

    with open(os.path.realpath(path), "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # not a 64-bit ELF: let QEMU itself say what is wrong
            return True
        order = "<" if head[5] == 1 else ">"
        phoff, = struct.unpack_from(order + "Q", head, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return any(struct.unpack_from(order + "I", table, i * phentsize)[0] == 3 for i in range(phnum))


@cache
def _qemu_version(qemu: tuple[str, ...]) -> str:
    try:
        out = subprocess.run([*qemu, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ArmCostUnavailable(f"ARM cost: {qemu[-1]} --version failed ({exc})") from exc
    found = re.search(r"version (\d+\.\d+(?:\.\d+)?)", out)
    if not found:
        raise ArmCostUnavailable(f"ARM cost: cannot read the version of {qemu[-1]} from {out.strip()[:80]!r}")
    return found.group(1)


@cache
def _qemu_cpus(qemu: tuple[str, ...]) -> frozenset[str]:
    out = subprocess.run([*qemu, "-cpu", "help"], capture_output=True, text=True, timeout=30).stdout
    return frozenset(line.split()[0] for line in out.splitlines()[1:] if line.strip())


@dataclass
class ArmRoot:
    """A ready arm64 root and the QEMU that runs it."""

    path: Path
    info: dict[str, Any]
    #: The command that runs qemu-aarch64 (the host's, or the root's own through its loader).
    qemu: tuple[str, ...]
    qemu_version: str

    @property
    def sysroot(self) -> Path:
        return self.path / "sysroot"

    @property
    def python(self) -> Path:
        return self.sysroot / "usr" / "bin" / "python3"

    @property
    def plugin(self) -> Path:
        return self.path / "plugin" / "insn_count.so"

    def view(self, profile: CpuProfile) -> Path:
        """The `-L` folder of `profile` (made now when missing: a few symlinks and three small files)."""
        view = self.path / "views" / profile.name
        if (view / "proc" / "cpuinfo").is_file():
            return view
        write_view(self.sysroot, view, profile)
        return view

    def qemu_cpu(self, profile: CpuProfile) -> str:
        have = _qemu_cpus(self.qemu)
        return next((c for c in profile.qemu_cpus if c in have), profile.qemu_cpus[-1])


def write_view(sysroot: Path, view: Path, profile: CpuProfile) -> None:
    """Make `view`: the top-level entries of `sysroot` as symlinks, and the profile's CPU files.

    QEMU 7.2 shows the guest the host's x86 /proc/cpuinfo, on which XNNPACK's cpuinfo fails; with
    `-L view` the guest's open("/proc/cpuinfo") finds view/proc/cpuinfo first.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile.name}-", dir=view.parent if view.parent.is_dir() else None))
    try:
        for entry in sysroot.iterdir():
            if entry.name not in ("proc", "sys"):
                (tmp / entry.name).symlink_to(os.path.relpath(entry, view.parent / view.name))
        (tmp / "proc").mkdir()
        (tmp / "proc" / "cpuinfo").write_text(profile.cpuinfo(), encoding="utf-8")
        cpu = tmp / "sys" / "devices" / "system" / "cpu"
        cpu.mkdir(parents=True)
        for name in ("possible", "present", "online"):
            (cpu / name).write_text("0\n", encoding="utf-8")
        view.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(view, ignore_errors=True)
        tmp.rename(view)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_root(path: str | os.PathLike[str] | None = None) -> ArmRoot:
    """The arm64 root at `path` (default: $FLOWERS_ARM_ROOT, else .cache/arm64) with the host's QEMU.

    Raises ArmCostUnavailable, one line, when QEMU or the root is missing or the plugin was built
    for another QEMU plugin API.
    """
    where = Path(path or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    stamp = where / ROOT_JSON
    if not stamp.is_file():
        raise ArmCostUnavailable(f"ARM cost: no arm64 root at {where}", hint=FETCH_HINT)
    try:
        info = json.loads(stamp.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArmCostUnavailable(f"ARM cost: {stamp} is not valid JSON ({exc})", hint=FETCH_HINT) from exc
    bundled = bundled_qemu(where) if info.get("qemu_source") == "bundled" else None
    qemu, version = (bundled, _qemu_version(bundled)) if bundled else find_qemu()
    root = ArmRoot(where, info, qemu, version)
    for needed in (root.python, root.plugin):
        if not needed.exists():
            raise ArmCostUnavailable(f"ARM cost: the arm64 root at {where} has no {needed.relative_to(where)}",
                                     hint=FETCH_HINT)
    built_for = info.get("plugin", {}).get("api")
    if built_for != plugin_api_for(version):
        raise ArmCostUnavailable(
            f"ARM cost: the counting plugin was built for QEMU {info.get('plugin', {}).get('qemu')} (plugin API "
            f"{built_for}), this is QEMU {version} (API {plugin_api_for(version)})",
            hint="run `.venv/bin/python tools/fetch_arm_root.py` again to rebuild it")
    return root


@dataclass
class ModelCost:
    """Instructions of one .tflite on one CPU profile."""

    file: str
    profile: str
    #: Guest instructions per image: the median invoke's count over the batch size.
    instructions: int
    #: The count of each timed invoke (after the warm-up one), whole batch.
    per_invoke: list[int]
    batch: int

    @property
    def spread(self) -> float:
        """(max - min) / median of the invokes: 0 for a deterministic run."""
        return (max(self.per_invoke) - min(self.per_invoke)) / statistics.median(self.per_invoke)


@dataclass
class ArmCostReport:
    """Counts of some .tflite files on some CPU profiles, with everything that fixes them."""

    qemu: str
    litert: str
    python: str
    numpy: str
    #: profile name -> {"label", "qemu_cpu", "note"}
    profiles: dict[str, dict[str, str]]
    costs: list[ModelCost] = field(default_factory=list)
    seconds: float = 0.0

    def get(self, file: str, profile: str) -> ModelCost | None:
        return next((c for c in self.costs if c.file == file and c.profile == profile), None)

    def by_file(self) -> dict[str, dict[str, int]]:
        """file -> profile -> instructions per image."""
        out: dict[str, dict[str, int]] = {}
        for c in self.costs:
            out.setdefault(c.file, {})[c.profile] = c.instructions
        return out

    def environment(self) -> str:
        """One line naming what the figures depend on."""
        cpus = ", ".join(f"{name} = QEMU -cpu {p['qemu_cpu']}" for name, p in self.profiles.items())
        return f"QEMU {self.qemu} user mode, LiteRT {self.litert} aarch64 on 1 thread, Python {self.python}; {cpus}"

    def to_dict(self) -> dict[str, Any]:
        return {"qemu": self.qemu, "litert": self.litert, "python": self.python, "numpy": self.numpy,
                "threads": 1, "profiles": self.profiles, "seconds": round(self.seconds, 1),
                "costs": [asdict(c) for c in self.costs]}


def measure_files(paths: Sequence[str | os.PathLike[str]], profiles: Sequence[str] = DEFAULT_PROFILES, *,
                  root: ArmRoot | None = None, invokes: int = 3, timeout: float = 300.0,
                  progress: Callable[[str], None] | None = None) -> ArmCostReport:
    """Count the guest instructions per image of each .tflite in `paths` on each profile.

    Each (file, profile) runs in its own QEMU process (as many at once as this machine has cores):
    load on one thread, one warm-up invoke, then `invokes` counted ones on fixed pseudo-random
    input; the figure is their median over the batch size. One process per file because the
    count moves by up to 0.1% with the guest heap's history (memcpy and malloc paths depend on
    where buffers land): a file's count must not depend on which files were counted before it.
    """
    say = progress or (lambda _msg: None)
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        raise UserError(f"unknown ARM CPU profile {unknown[0]!r}", hint=f"choose from {', '.join(PROFILES)}")
    if invokes < 1:
        raise UserError("invokes must be at least 1")
    files = [Path(p).resolve() for p in paths]
    for f in files:
        if not f.is_file():
            raise UserError(f"model not found: {f}")
    root = root or find_root()
    start = time.perf_counter()
    report = ArmCostReport(qemu=root.qemu_version, litert=str(root.info.get("litert", "?")),
                           python=str(root.info.get("python", "?")), numpy=str(root.info.get("numpy", "?")),
                           profiles={})
    jobs = []
    for name in profiles:
        profile = PROFILES[name]
        qemu_cpu = root.qemu_cpu(profile)
        report.profiles[name] = {"label": profile.label, "qemu_cpu": qemu_cpu, "note": profile.note}
        jobs += [(profile, qemu_cpu, f) for f in files]
    done = 0

    def run(job: tuple[CpuProfile, str, Path]) -> ModelCost:
        nonlocal done
        cost = _run_one(root, *job, invokes, timeout)
        done += 1
        say(f"ARM cost: {done}/{len(jobs)} (file, CPU profile) counted")
        return cost

    say(f"ARM cost: {len(jobs)} (file, CPU profile) to count")
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        report.costs = list(pool.map(run, jobs))  # in job order: by profile, then file
    report.seconds = time.perf_counter() - start
    return report


def measure(path: str | os.PathLike[str], profile: str = "cortex-a76", *, root: ArmRoot | None = None) -> int:
    """Instructions per image of one .tflite on one profile."""
    return measure_files([path], [profile], root=root).costs[0].instructions


def _run_one(root: ArmRoot, profile: CpuProfile, qemu_cpu: str, path: Path, invokes: int,
             timeout: float) -> ModelCost:
    view = root.view(profile)
    with tempfile.TemporaryDirectory(prefix="fm-armcost-") as tmp:
        marks_path = Path(tmp) / "marks.txt"
        cmd = [*root.qemu, "-cpu", qemu_cpu, "-plugin", f"{root.plugin},out={marks_path}", "-L", str(view),
               str(root.python), str(GUEST_SCRIPT), str(invokes), str(path)]
        # A clean, fixed environment: the host's PYTHON*, QEMU_* or thread settings must not reach
        # the guest, and a fixed hash seed keeps the guest heap's history the same run to run.
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": GUEST_SITE, "PYTHONNOUSERSITE": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1"}
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ArmCostError(f"ARM cost of {path.name} on {profile.name} timed out after {timeout:.0f} s") from exc
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("INFO:")]
            raise ArmCostError(f"ARM cost of {path.name} on {profile.name} failed (exit {proc.returncode}): "
                               f"{(lines[-1] if lines else 'no message')[:300]}")
        marks = [int(x) for x in marks_path.read_text(encoding="utf-8").split()] if marks_path.is_file() else []
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(rows) != 1 or len(marks) != 2 * invokes:
        raise ArmCostError(f"ARM cost of {path.name} on {profile.name}: expected {2 * invokes} marks, "
                           f"the plugin wrote {len(marks)}")
    seen = rows[0].get("cpu_part")
    if seen != f"{profile.midr_part:#05x}":
        raise ArmCostUnavailable(
            f"ARM cost: QEMU {root.qemu_version} showed the guest CPU part {seen}, not the "
            f"{profile.label}'s {profile.midr_part:#05x}: this QEMU does not take /proc/cpuinfo from -L, "
            "so the profile cannot be pinned")
    per_invoke = [end - begin for begin, end in zip(marks[::2], marks[1::2], strict=True)]
    batch = max(1, int(rows[0]["batch"]))
    return ModelCost(file=path.name, profile=profile.name, instructions=round(statistics.median(per_invoke) / batch),
                     per_invoke=per_invoke, batch=batch)
