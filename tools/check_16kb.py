#!/usr/bin/env python3
"""Check that an APK runs on Android devices with 16 KB memory pages (Google Play's requirement for
apps targeting Android 15+).

Two things must hold, and this checks both:

1. Every 64-bit native library (lib/<abi>/*.so, ELF class 64) has all its LOAD segments aligned
   to at least 16 KiB (2**14), read from `readelf -lW` (GNU binutils or the NDK's llvm-readelf).
   32-bit libraries run on 4 KB-page devices only and are listed but not held to it.
2. The APK is zip-aligned for 16 KiB pages: every native library stored uncompressed starts at a
   16 KiB boundary inside the APK (so it can be mapped straight from it), other stored entries at
   4 bytes. Checked from the zip's local headers here and, with --zipalign, also by the build
   tools' own `zipalign -c -P 16 -v 4`.

An APK with no 64-bit native library fails too: the check must not pass by finding nothing.

Usage: tools/check_16kb.py [--readelf PATH] [--zipalign PATH] APP.apk
Exit status: 0 ready, 1 not ready (every problem listed), 2 bad input (one line).
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

PAGE = 16 * 1024
#: Alignment zipalign gives stored entries that are not native libraries.
STORED_ALIGN = 4
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # zip local file header, 30 bytes
_LOAD = re.compile(r"^\s*LOAD\s+.*\s(0x[0-9a-fA-F]+|\d+)\s*$")


class BadInput(Exception):
    """The APK or a tool cannot be used at all (exit 2)."""


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    skipped_32bit: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_alignments(readelf: str, so_path: Path) -> list[int]:
    """The Align of every LOAD program header of an ELF file, from `readelf -lW`."""
    proc = subprocess.run([readelf, "-lW", str(so_path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BadInput(f"{readelf} -lW failed on {so_path.name}: {proc.stderr.strip()[:200]}")
    return [int(m.group(1), 0) for line in proc.stdout.splitlines() if (m := _LOAD.match(line))]


def _data_offset(apk: Path, info: zipfile.ZipInfo) -> int:
    """Where an entry's bytes start in the file: after its local header, name and extra field."""
    with apk.open("rb") as f:
        f.seek(info.header_offset)
        fields = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04":
        raise BadInput(f"{apk}: no local header for {info.filename}")
    name_len, extra_len = fields[-2], fields[-1]
    return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len


def check_apk(apk: Path, readelf: str) -> Report:
    """Both checks on `apk` (see the module docstring); problems are listed, not raised."""
    report = Report()
    try:
        zf = zipfile.ZipFile(apk)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BadInput(f"{apk}: not an APK (zip) file ({exc})") from exc
    with zf, tempfile.TemporaryDirectory(prefix="check16kb-") as tmp:
        for info in zf.infolist():
            native = info.filename.startswith("lib/") and info.filename.endswith(".so")
            if info.compress_type == zipfile.ZIP_STORED and not info.is_dir():
                need = PAGE if native else STORED_ALIGN
                offset = _data_offset(apk, info)
                if offset % need:
                    report.problems.append(f"{info.filename}: stored at offset {offset}, not {need}-byte "
                                           f"aligned in the APK (zipalign -P 16)")
            if not native:
                continue
            so = Path(tmp) / "lib.so"
            so.write_bytes(zf.read(info))
            with so.open("rb") as f:
                ident = f.read(5)
            if ident[:4] != b"\x7fELF":
                report.problems.append(f"{info.filename}: not an ELF file")
                continue
            if ident[4] != 2:  # EI_CLASS: 1 = 32-bit, 2 = 64-bit
                report.skipped_32bit.append(info.filename)
                continue
            aligns = load_alignments(readelf, so)
            report.checked.append(info.filename)
            if not aligns:
                report.problems.append(f"{info.filename}: no LOAD segments found by {readelf}")
            low = [a for a in aligns if a < PAGE]
            if low:
                report.problems.append(f"{info.filename}: LOAD segment aligned to {min(low):#x} (2**{min(low).bit_length() - 1}), "
                                       f"needs >= {PAGE:#x} (2**14): rebuild it with -Wl,-z,max-page-size=16384")
    if not report.checked:
        report.problems.append(f"{apk}: no 64-bit native library (lib/<abi>/*.so) to check")
    return report


def run_zipalign(zipalign: str, apk: Path) -> str | None:
    """None when `zipalign -c -P 16 -v 4` accepts the APK, else its last lines."""
    proc = subprocess.run([zipalign, "-c", "-P", "16", "-v", "4", str(apk)], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    return f"zipalign -c -P 16 -v 4 failed (exit {proc.returncode}): {tail}"


def _tool(name: str, given: str | None) -> str:
    found = shutil.which(given or name)
    if not found:
        raise BadInput(f"{given or name} not found (or not executable): install it or pass --{name} PATH")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apk", type=Path)
    parser.add_argument("--readelf", help="readelf or llvm-readelf to use (default: readelf on PATH)")
    parser.add_argument("--zipalign", help="also run the build tools' zipalign -c -P 16 -v 4")
    args = parser.parse_args(argv)
    try:
        if not args.apk.is_file():
            raise BadInput(f"APK not found: {args.apk}")
        readelf = _tool("readelf", args.readelf)
        report = check_apk(args.apk, readelf)
        if args.zipalign:
            failure = run_zipalign(_tool("zipalign", args.zipalign), args.apk)
            if failure:
                report.problems.append(failure)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in report.checked:
        print(f"ok   {name}")
    for name in report.skipped_32bit:
        print(f"32-bit (4 KB pages only, not checked) {name}")
    for problem in report.problems:
        print(f"FAIL {problem}")
    verdict = "not ready" if report.problems else "ready"
    print(f"{args.apk.name}: {len(report.checked)} 64-bit native libraries checked; 16 KB pages: {verdict}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
