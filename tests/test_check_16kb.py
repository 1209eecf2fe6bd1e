"""tools/check_16kb.py on real ELF files: tiny shared libraries linked here with 16 KB and 4 KB
maximum page sizes, packed into APK-shaped zips with their native libraries stored at 16 KiB
boundaries (as zipalign -P 16 leaves them) or not."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools/check_16kb.py"

pytestmark = pytest.mark.skipif(not (shutil.which("cc") and shutil.which("readelf")),
                                reason="needs a C compiler and binutils' readelf")


@pytest.fixture(scope="module")
def libs(tmp_path_factory) -> dict[str, bytes]:
    """{'16k': ..., '4k': ...}: the same one-function library linked with each max page size."""
    root = tmp_path_factory.mktemp("so")
    src = root / "f.c"
    src.write_text("int flowers_answer(void) { return 42; }\n")
    out = {}
    for name, page in (("16k", 16384), ("4k", 4096)):
        so = root / f"lib{name}.so"
        subprocess.run(["cc", "-shared", "-fPIC", f"-Wl,-z,max-page-size={page}", "-o", str(so), str(src)],
                       check=True, capture_output=True, timeout=60)
        out[name] = so.read_bytes()
    return out


def _apk(path: Path, entries: dict[str, bytes], *, align_libs: bool = True) -> Path:
    """A zip with `entries` stored uncompressed; native libraries padded (through the local
    header's extra field, as zipalign does) to start at a 16 KiB boundary, or left where they fall."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            native = name.startswith("lib/") and name.endswith(".so")
            step = 16384 if native and align_libs else 4
            start = zf.fp.tell() + 30 + len(name.encode()) + 4  # 4: the padding field's own header
            pad = -start % step
            if native and not align_libs and pad == 0:
                pad = 4  # make sure it really is off the boundary
            info.extra = struct.pack("<HH", 0xD935, pad) + b"\0" * pad
            zf.writestr(info, data)
    return path


def _check(apk: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args, str(apk)], capture_output=True, text=True, timeout=60)


def test_16k_libraries_stored_on_16k_boundaries_are_ready(libs, tmp_path):
    apk = _apk(tmp_path / "ok.apk", {"AndroidManifest.xml": b"<manifest/>", "lib/x86_64/libflowers.so": libs["16k"],
                                     "lib/arm64-v8a/libother.so": libs["16k"]})
    result = _check(apk)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 64-bit native libraries checked; 16 KB pages: ready" in result.stdout


def test_a_4k_library_fails_and_is_named(libs, tmp_path):
    apk = _apk(tmp_path / "4k.apk", {"lib/x86_64/libgood.so": libs["16k"], "lib/arm64-v8a/libold.so": libs["4k"]})
    result = _check(apk)
    assert result.returncode == 1
    assert "FAIL lib/arm64-v8a/libold.so: LOAD segment aligned to 0x1000 (2**12)" in result.stdout
    assert "libgood.so" not in result.stdout.split("FAIL", 1)[1]  # only the bad one is blamed


def test_a_16k_library_off_its_zip_boundary_fails(libs, tmp_path):
    apk = _apk(tmp_path / "unaligned.apk", {"lib/x86_64/libflowers.so": libs["16k"]}, align_libs=False)
    result = _check(apk)
    assert result.returncode == 1
    assert "lib/x86_64/libflowers.so: stored at offset" in result.stdout and "not 16384-byte aligned" in result.stdout


def test_nothing_to_check_is_not_ready_and_bad_input_is_exit_2(tmp_path):
    apk = _apk(tmp_path / "empty.apk", {"classes.dex": b"dex\n035\0"})
    result = _check(apk)
    assert result.returncode == 1 and "no 64-bit native library" in result.stdout
    (tmp_path / "not.apk").write_text("plain text")
    result = _check(tmp_path / "not.apk")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    result = _check(apk, "--zipalign", str(tmp_path / "no-such-zipalign"))
    assert result.returncode == 2 and "no-such-zipalign not found" in result.stderr
