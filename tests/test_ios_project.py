"""The iOS app's project files: the XcodeGen spec, Info.plist, the asset catalog, ignores, README.

Xcode and XcodeGen do not run here; these tests check what they would read: that project.yml
parses and every path it names exists, that the plist is valid with the usage strings App Review
requires, and that the asset catalog is complete.
"""

from __future__ import annotations

import json
import plistlib
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
IOS = ROOT / "ios_app"
APP = IOS / "Flowers"


@pytest.fixture(scope="module")
def spec() -> dict:
    return YAML(typ="safe").load((IOS / "project.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def target(spec) -> dict:
    return spec["targets"]["Flowers"]


def source_entries(target: dict) -> list[dict]:
    return [s if isinstance(s, dict) else {"path": s} for s in target["sources"]]


def test_project_yml_describes_an_ios_16_app(spec, target):
    assert spec["name"] == "Flowers"
    assert target["type"] == "application"
    assert target["platform"] == "iOS"
    assert str(target["deploymentTarget"]) == "16.0"
    assert str(spec["options"]["deploymentTarget"]["iOS"]) == "16.0"


def test_every_source_path_exists(target):
    for entry in source_entries(target):
        assert (IOS / entry["path"]).exists(), f"project.yml names {entry['path']}, which is not in ios_app/"


def test_every_swift_file_of_the_app_is_in_a_source_path(target):
    """A Swift file outside the listed source folders would silently not be compiled."""
    compiled = [IOS / e["path"] for e in source_entries(target) if e.get("buildPhase") in (None, "sources")]
    stray = [p for p in APP.rglob("*.swift") if not any(root in p.parents for root in compiled)]
    assert not stray, f"not in any source path of project.yml: {stray}"


def test_model_folder_is_a_folder_reference_copied_as_a_resource(target):
    """Flowers/Model is copied whole, so a build without a model still succeeds (see README)."""
    model = [e for e in source_entries(target) if e["path"] == "Flowers/Model"]
    assert model == [{"path": "Flowers/Model", "type": "folder", "buildPhase": "resources"}]
    assert (APP / "Model" / "README.md").is_file()


def test_app_depends_on_the_local_flowers_core_package(spec, target):
    package = spec["packages"]["FlowersCore"]
    assert (IOS / package["path"] / "Package.swift").is_file()
    assert {"package": "FlowersCore"} in target["dependencies"]
    ios_line = re.search(r"\.iOS\(\.v(\d+)\)", (IOS / package["path"] / "Package.swift").read_text())
    assert ios_line and ios_line.group(1) == "16"


def test_build_settings_point_at_real_files(target):
    settings = target["settings"]["base"]
    assert (IOS / settings["INFOPLIST_FILE"]).is_file()
    catalogs = list(APP.rglob("*.xcassets"))
    assert len(catalogs) == 1
    assert (catalogs[0] / f"{settings['ASSETCATALOG_COMPILER_APPICON_NAME']}.appiconset").is_dir()
    assert (catalogs[0] / f"{settings['ASSETCATALOG_COMPILER_GLOBAL_ACCENT_COLOR_NAME']}.colorset").is_dir()
    assert settings["PRODUCT_BUNDLE_IDENTIFIER"].count(".") >= 2


def test_scheme_builds_the_app(spec):
    assert spec["schemes"]["Flowers"]["build"]["targets"] == {"Flowers": "all"}


def test_info_plist_is_valid_with_the_usage_strings():
    with open(APP / "Info.plist", "rb") as fh:
        info = plistlib.load(fh)
    for key in ("NSCameraUsageDescription", "NSPhotoLibraryUsageDescription"):
        assert isinstance(info.get(key), str) and len(info[key]) > 20, key
    assert info["CFBundleExecutable"] == "$(EXECUTABLE_NAME)"
    assert info["CFBundleIdentifier"] == "$(PRODUCT_BUNDLE_IDENTIFIER)"
    assert "UILaunchScreen" in info
    # The app's orientation handling starts from portrait (FrameOrientationTracker's default).
    assert info["UISupportedInterfaceOrientations"] == ["UIInterfaceOrientationPortrait"]


def test_asset_catalog_is_complete():
    catalog = APP / "Resources" / "Assets.xcassets"
    for contents in catalog.rglob("Contents.json"):
        json.loads(contents.read_text(encoding="utf-8"))  # every one is valid JSON
    icon_set = catalog / "AppIcon.appiconset"
    images = json.loads((icon_set / "Contents.json").read_text())["images"]
    assert [(i["size"], i["platform"]) for i in images] == [("1024x1024", "ios")]
    with Image.open(icon_set / images[0]["filename"]) as icon:
        assert icon.size == (1024, 1024)
        assert icon.mode == "RGB"  # App Store icons must not have an alpha channel
    colors = json.loads((catalog / "AccentColor.colorset" / "Contents.json").read_text())["colors"]
    assert colors and "components" in colors[0]["color"]


def git_ignores(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


def test_bundled_model_files_and_the_generated_project_are_ignored():
    for path in ("ios_app/Flowers/Model/Flowers.mlpackage/Manifest.json", "ios_app/Flowers/Model/labels.txt",
                 "ios_app/Flowers/Model/manifest.json", "ios_app/Flowers.xcodeproj/project.pbxproj"):
        assert git_ignores(path), f"{path} should be git-ignored"
    assert not git_ignores("ios_app/Flowers/Model/README.md")
    assert not git_ignores("ios_app/project.yml")


def test_readme_documents_generation_bundling_and_what_the_app_shows():
    readme = (IOS / "README.md").read_text(encoding="utf-8")
    for needed in ("brew install xcodegen && xcodegen generate",
                   "flowers-mobile bundle --exports models/demo/export --platform ios",
                   "flowers-mobile bundle --platform ios",
                   "CODE_SIGNING_ALLOWED=NO",
                   "Swap in another model",
                   "What the app shows",
                   "No confident prediction",
                   "scaleFill"):
        assert needed in readme, needed
