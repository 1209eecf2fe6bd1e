"""The iOS app's Swift sources: every file parses (tree-sitter-swift), and the app keeps the
project's contracts (the one resize rule, labels from the model, the missing-model screen).

The app target needs UIKit, AVFoundation, Vision and Core ML, so no compiler here can build it;
FlowersCore is built and tested with `swift test` by tools/test_swift.sh. This test catches
syntax errors in both on any machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tree_sitter_swift
from tree_sitter import Language, Node, Parser

ROOT = Path(__file__).resolve().parents[1]
IOS = ROOT / "ios_app"
APP_SOURCES = IOS / "Flowers" / "Sources"
CORE = IOS / "FlowersCore"
SWIFT_FILES = sorted(p for p in IOS.rglob("*.swift") if ".build" not in p.parts)


@pytest.fixture(scope="module")
def parser() -> Parser:
    return Parser(Language(tree_sitter_swift.language()))


def syntax_problems(parser: Parser, source: bytes) -> list[str]:
    """ERROR and MISSING nodes of a parse, as 'line:col kind' strings (1-based lines)."""
    problems = []
    stack: list[Node] = [parser.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            line, col = node.start_point
            kind = f"MISSING {node.type}" if node.is_missing else "ERROR"
            problems.append(f"{line + 1}:{col + 1} {kind}")
        stack.extend(node.children)
    return sorted(problems)


def app_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(APP_SOURCES.rglob("*.swift")))


def test_sources_of_both_targets_are_found():
    names = {p.relative_to(IOS).as_posix() for p in SWIFT_FILES}
    assert "FlowersCore/Package.swift" in names
    assert "Flowers/Sources/App/FlowersApp.swift" in names
    assert "Flowers/Sources/Camera/CameraController.swift" in names
    assert any(n.startswith("FlowersCore/Sources/FlowersCore/") for n in names)
    assert any(n.startswith("FlowersCore/Tests/FlowersCoreTests/") for n in names)
    assert len(SWIFT_FILES) >= 30


@pytest.mark.parametrize("path", SWIFT_FILES, ids=lambda p: p.relative_to(IOS).as_posix())
def test_swift_file_parses_without_errors(parser, path):
    problems = syntax_problems(parser, path.read_bytes())
    assert not problems, f"{path.relative_to(ROOT)}: syntax errors at {', '.join(problems[:10])}"


@pytest.mark.parametrize("snippet, expected", [
    (b"struct A {\n    func f( {\n    }\n}\n", "MISSING )"),      # unbalanced parameter list
    (b"let x = compute(1, 2\n", "MISSING )"),                    # a call left open
    (b"switch x {\ncase .a\n    break\n}\n", "ERROR"),           # "case" without ":"
    (b"class { }\n", "ERROR"),                                   # a class without a name
    (b"if ready {\n    start()\n", "ERROR"),                     # a block left open
])
def test_the_check_catches_broken_swift(parser, snippet, expected):
    problems = syntax_problems(parser, snippet)
    assert problems and any(expected in p for p in problems), problems


def test_a_real_source_with_one_character_removed_fails(parser):
    """The check fails on the app's own code once it is broken, not only on toy snippets."""
    source = (APP_SOURCES / "Classification" / "ImageClassifier.swift").read_text(encoding="utf-8")
    assert not syntax_problems(parser, source.encode())
    broken = source.replace("try handler.perform([request])", "try handler.perform([request]", 1)
    assert broken != source
    assert syntax_problems(parser, broken.encode())


def test_vision_stretches_the_whole_frame():
    """The project's one resize rule: stretch the whole image (training, TFLite Task Library,
    parity). A center crop or aspect fit here would feed the model another picture."""
    text = app_text()
    assert re.search(r"imageCropAndScaleOption\s*=\s*\.scaleFill", text)
    assert ".centerCrop" not in text and ".scaleFit" not in text


def test_camera_drops_late_frames_and_orients_them():
    camera = (APP_SOURCES / "Camera" / "CameraController.swift").read_text(encoding="utf-8")
    assert re.search(r"alwaysDiscardsLateVideoFrames\s*=\s*true", camera)
    assert "AVCaptureVideoDataOutput" in camera
    # Frames go to Vision with their orientation (FlowersCore's tracker), not as if upright.
    assert "FrameOrientationTracker" in camera
    assert "orientation: frameOrientation" in camera


def test_labels_come_from_the_model_not_from_the_app():
    from flowers_mobile.data.synth import KINDS

    text = app_text()
    assert "classLabels" in text
    # The demo's class names and some real flower names must not appear as string literals.
    known = {k.name.lower() for k in KINDS} | {"daisy", "dandelion", "rose", "sunflower", "tulip"}
    string_literals = {s.lower() for s in re.findall(r'"([^"\\]*)"', text)}
    assert not known & string_literals


def test_missing_model_screen_names_the_bundle_command():
    view = (APP_SOURCES / "Views" / "MissingModelView.swift").read_text(encoding="utf-8")
    assert "flowers-mobile bundle --platform ios" in view
    root = (APP_SOURCES / "Views" / "RootView.swift").read_text(encoding="utf-8")
    assert "MissingModelView(" in root


def test_model_file_names_match_what_bundle_writes():
    """ModelLocator looks where `flowers-mobile bundle --platform ios` writes."""
    from flowers_mobile.export.bundle import APP_MODEL_DIRS
    from flowers_mobile.formats.manifest import DEFAULT_ARTIFACTS

    # FlowersCore holds the names; its XCTest suite checks them against tests/vectors/names.json
    # (test_app_vectors.py checks that file against the exporter). The app target, which no
    # compiler here builds, must take them from FlowersCore rather than spell them out again.
    locator = (APP_SOURCES / "Classification" / "ModelLocator.swift").read_text(encoding="utf-8")
    assert "static let packageName = ModelFolderCheck.packageName" in locator
    assert "static let folderName = ModelFolderCheck.folderName" in locator
    assert f'"{DEFAULT_ARTIFACTS["ios"]}"' not in app_text()
    assert (IOS / APP_MODEL_DIRS["ios"]).is_dir()


def test_compute_units_offer_all_and_cpu_only():
    core = (CORE / "Sources" / "FlowersCore" / "ComputeUnitsChoice.swift").read_text(encoding="utf-8")
    for case in ("all", "cpuOnly", "cpuAndGPU"):
        assert re.search(rf"\bcase {case}\b", core)
    loader = (APP_SOURCES / "Classification" / "ModelLoader.swift").read_text(encoding="utf-8")
    for unit in (".all", ".cpuOnly", ".cpuAndGPU"):
        assert f"return {unit}" in loader


def test_flowers_core_uses_foundation_and_cryptokit_only_where_it_exists():
    """Foundation everywhere; CryptoKit (Apple platforms) only under #if canImport(CryptoKit),
    whose #else is the plain-Swift SHA-256 that Linux builds and tests."""
    imports = set()
    for path in (CORE / "Sources").rglob("*.swift"):
        text = path.read_text(encoding="utf-8")
        imports |= set(re.findall(r"^\s*import\s+(\w+)", text, re.M))
        if re.search(r"^\s*import\s+CryptoKit", text, re.M):
            guard = text.index("#if canImport(CryptoKit)")
            assert guard < text.index("import CryptoKit") < text.index("#endif"), path.name
    assert imports == {"Foundation", "CryptoKit"}
    fallback = (CORE / "Sources" / "FlowersCore" / "SHA256.swift").read_text(encoding="utf-8")
    assert fallback.index("#if !canImport(CryptoKit)") < fallback.index("public struct SHA256")
    manifest = (CORE / "Package.swift").read_text(encoding="utf-8")
    assert manifest.startswith("// swift-tools-version:5.9")
    assert ".iOS(.v16)" in manifest and ".macOS(.v13)" in manifest
    assert "dependencies: [" not in manifest.split("targets:")[0]  # no external packages
