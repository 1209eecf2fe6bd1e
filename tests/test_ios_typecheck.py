"""Type-check the iOS app's own Swift code on Linux: the app target's sources and FlowersCore's,
compiled together by `swiftc -typecheck` against small stand-ins for the Apple frameworks
(ios_app/LinuxTypecheck/AppleStubs.swift).

This catches the app breaking against itself or against FlowersCore (a renamed API, a wrong
label, a missing case) on any machine with Swift; it cannot vouch for the use of Apple's APIs,
which only `xcodebuild` on macOS checks (.github/workflows/ios.yml). Skipped without a Swift
toolchain, except under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IOS = ROOT / "ios_app"
APP_SOURCES = IOS / "Flowers" / "Sources"
CORE_SOURCES = IOS / "FlowersCore" / "Sources" / "FlowersCore"
STUBS = IOS / "LinuxTypecheck" / "AppleStubs.swift"
# Modules the stand-ins replace; FlowersCore's sources are compiled into the same module instead.
REPLACED_IMPORTS = re.compile(
    r"^import (SwiftUI|UIKit|AVFoundation|Vision|CoreML|PhotosUI|Combine|ImageIO|FlowersCore)\n", re.M)
SWIFTC = shutil.which("swiftc")

pytestmark = pytest.mark.skipif(SWIFTC is None and os.environ.get("CI") != "true",
                                reason="no Swift toolchain (swiftc) on PATH")


def assemble(out: Path, edit: dict[str, tuple[str, str]] | None = None) -> list[Path]:
    """Copy the app's and FlowersCore's sources to `out` without the replaced imports.

    Args:
        out: an empty folder.
        edit: {file name: (old, new)}: one replacement to make in that file (to break it on purpose).
    """
    files = [STUBS]
    for group, folder in (("app", APP_SOURCES), ("core", CORE_SOURCES)):
        for source in sorted(folder.rglob("*.swift")):
            text = REPLACED_IMPORTS.sub("", source.read_text(encoding="utf-8"))
            if edit and source.name in edit:
                old, new = edit[source.name]
                assert old in text, f"{old!r} not in {source.name}"
                text = text.replace(old, new, 1)
            dest = out / group / source.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
            files.append(dest)
    return files


def typecheck(files: list[Path]) -> subprocess.CompletedProcess:
    assert SWIFTC, "CI=true needs a Swift toolchain for this test"
    return subprocess.run([SWIFTC, "-typecheck", "-parse-as-library", "-swift-version", "5", *map(str, files)],
                          capture_output=True, text=True, timeout=600)


def errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if ": error:" in line]


def test_every_app_source_is_checked(tmp_path):
    files = assemble(tmp_path)
    app_files = {p.name for p in files if "app" in p.parts}
    assert {"FlowersApp.swift", "CameraController.swift", "ImageClassifier.swift", "ModelLoader.swift",
            "LiveCameraView.swift", "SettingsView.swift"} <= app_files
    assert len(app_files) == len(list(APP_SOURCES.rglob("*.swift")))


def test_app_and_core_typecheck_together(tmp_path):
    result = typecheck(assemble(tmp_path))
    assert result.returncode == 0, "\n".join(errors(result)[:20]) or result.stderr[-3000:]


def test_a_broken_call_into_flowers_core_is_caught(tmp_path):
    """The check fails when the app and FlowersCore stop agreeing (here: a wrong argument label)."""
    files = assemble(tmp_path, edit={"LiveViewModel.swift": ("pipeline.process(frame:", "pipeline.process(frames:")})
    result = typecheck(files)
    assert result.returncode != 0
    assert any("LiveViewModel.swift" in line for line in errors(result)), result.stderr[-3000:]
