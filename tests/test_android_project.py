"""The Android project is complete and consistent: manifest, permissions, resources, layouts,
icons, Gradle files, the version catalog, the workflow, and the bundle contract.

Nothing here needs the Android SDK; each check reads the files as AAPT2 and Gradle would.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flowers_mobile.export.bundle import APP_MODEL_DIRS
from flowers_mobile.formats.manifest import DEFAULT_ARTIFACTS

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "android_app"
MAIN = APP / "app/src/main"
RES = MAIN / "res"
ANDROID = "{http://schemas.android.com/apk/res/android}"
WORKFLOW = REPO / ".github/workflows/android.yml"

# Resource types stored as files (res/<type>[-qualifiers]/<name>.xml) vs. as <values> entries.
FILE_TYPES = {"drawable", "mipmap", "layout", "xml"}
VALUE_TAGS = {"string": "string", "color": "color", "dimen": "dimen", "style": "style", "bool": "bool",
              "integer": "integer"}


def _defined_resources() -> dict[str, set[str]]:
    defined: dict[str, set[str]] = {}
    for folder in RES.iterdir():
        rtype = folder.name.split("-")[0]
        for f in folder.glob("*.xml"):
            if rtype in FILE_TYPES:
                defined.setdefault(rtype, set()).add(f.stem)
            elif rtype == "values":
                for el in ET.parse(f).getroot():
                    kind = VALUE_TAGS.get(el.tag)
                    if kind:
                        defined.setdefault(kind, set()).add(el.get("name"))
    for layout in (RES / "layout").glob("*.xml"):
        for el in ET.parse(layout).iter():
            ident = el.get(f"{ANDROID}id", "")
            if ident.startswith("@+id/"):
                defined.setdefault("id", set()).add(ident[5:])
    return defined


def _xml_references() -> list[tuple[Path, str, str]]:
    refs = []
    for f in [MAIN / "AndroidManifest.xml", *RES.rglob("*.xml")]:
        for rtype, name in re.findall(r'"@(?:\+)?(\w+)/([\w.]+)"', f.read_text(encoding="utf-8")):
            refs.append((f, rtype, name))
    return refs


def test_manifest_declares_camera_permission_launcher_activity_and_resources():
    root = ET.parse(MAIN / "AndroidManifest.xml").getroot()
    perms = {p.get(f"{ANDROID}name") for p in root.iter("uses-permission")}
    assert "android.permission.CAMERA" in perms
    features = {f.get(f"{ANDROID}name"): f.get(f"{ANDROID}required") for f in root.iter("uses-feature")}
    assert features.get("android.hardware.camera.any") == "false", "the gallery fallback needs camera optional"
    app = root.find("application")
    assert app.get(f"{ANDROID}icon") == "@mipmap/ic_launcher"
    assert app.get(f"{ANDROID}roundIcon") == "@mipmap/ic_launcher_round"
    activities = root.findall("application/activity")
    launcher = [a for a in activities if any(c.get(f"{ANDROID}name") == "android.intent.category.LAUNCHER"
                                             for c in a.iter("category"))]
    assert len(launcher) == 1 and launcher[0].get(f"{ANDROID}exported") == "true"
    name = launcher[0].get(f"{ANDROID}name")
    namespace = re.search(r'namespace\s*=\s*"([\w.]+)"', (APP / "app/build.gradle.kts").read_text()).group(1)
    cls = name[1:] if name.startswith(".") else name.rsplit(".", 1)[1]
    source = MAIN / "kotlin" / Path(*namespace.split(".")) / f"{cls}.kt"
    assert source.is_file(), f"manifest activity {name} has no {source.relative_to(APP)}"
    assert re.search(rf"^package {re.escape(namespace)}$", source.read_text(), re.M)
    assert re.search(rf"class {cls}\b", source.read_text())


def test_every_resource_reference_resolves():
    defined = _defined_resources()
    missing = []
    for f, rtype, name in _xml_references():
        if rtype in ("android", "id") or name.startswith(("Theme.Material3", "Widget.Material3", "TextAppearance.Material3")):
            continue
        if name not in defined.get(rtype, set()):
            missing.append(f"{f.relative_to(APP)}: @{rtype}/{name}")
    kotlin = "\n".join(p.read_text() for p in (MAIN / "kotlin").rglob("*.kt"))
    for rtype, name in set(re.findall(r"\bR\.(string|color|dimen|drawable|layout|mipmap|style)\.(\w+)", kotlin)):
        if name not in defined.get(rtype, set()):
            missing.append(f"Kotlin: R.{rtype}.{name}")
    assert not missing, "unresolved resources:\n" + "\n".join(sorted(missing))


def _binding_field(view_id: str) -> str:
    """ViewBinding's field name for an id: snake_case to camelCase (row_1 and row1 -> row1)."""
    head, *rest = view_id.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def test_view_binding_fields_exist_in_layouts():
    """`binding.fooBar` in Kotlin needs a view with android:id="@+id/foo_bar" in the layouts."""
    fields = {_binding_field(i) for i in _defined_resources()["id"]}
    kotlin = "\n".join(p.read_text() for p in (MAIN / "kotlin").rglob("*.kt"))
    unknown = set()
    for first, second in re.findall(r"\bbinding\.(\w+)(?:\.(\w+))?", kotlin):
        if first not in fields and first != "root":
            unknown.add(first)
        # binding.<include>.<view>: the included layout's views are fields of its own binding.
        if first in {"permissionPanel", "missingModelPanel", "row1", "row2", "row3"} and second \
                and second != "root" and second not in fields:
            unknown.add(f"{first}.{second}")
    assert not unknown, f"ViewBinding fields without a view: {sorted(unknown)}"
    for layout in ("activity_main", "view_result_row", "view_permission", "view_missing_model"):
        assert (RES / "layout" / f"{layout}.xml").is_file()


def test_launcher_icons_exist_for_every_api_level():
    # API 26+: adaptive icon with a monochrome layer; API 24-25 (minSdk): the layered fallback.
    for name in ("ic_launcher", "ic_launcher_round"):
        adaptive = ET.parse(RES / "mipmap-anydpi-v26" / f"{name}.xml").getroot()
        assert adaptive.tag == "adaptive-icon"
        assert {c.tag for c in adaptive} == {"background", "foreground", "monochrome"}
        assert (RES / "mipmap" / f"{name}.xml").is_file()
    for vector in (RES / "drawable").glob("ic_*.xml"):
        root = ET.parse(vector).getroot()
        assert root.tag == "vector", vector.name
        for path in root.iter("path"):
            data = path.get(f"{ANDROID}pathData")
            assert data and re.fullmatch(r"[MmLlHhVvCcSsQqTtAaZz0-9.,\s-]+", data), f"{vector.name}: bad pathData"


def test_missing_model_screen_names_the_bundle_command_and_the_asset_matches_bundle():
    strings = {el.get("name"): el.text for el in ET.parse(RES / "values/strings.xml").getroot()}
    assert strings["missing_model_command"] == "flowers-mobile bundle --platform android"
    layout = (RES / "layout/view_missing_model.xml").read_text()
    assert "@string/missing_model_command" in layout
    # The app loads the files `bundle` places from the folder it places them in. The names live in
    # the core's BundleNames, which its JUnit suite checks against tests/vectors/names.json (and
    # test_app_vectors.py checks that file against the exporter); the app module, which no
    # toolchain here compiles, must not spell them out again.
    assert APP / APP_MODEL_DIRS["android"] == MAIN / "assets"
    app_code = "\n".join(p.read_text() for p in (MAIN / "kotlin").rglob("*.kt"))
    for name in (DEFAULT_ARTIFACTS["android"], "labels.txt", "manifest.json"):
        assert f'"{name}"' not in app_code, f"the app spells out {name!r}; use org.flowersmobile.core.BundleNames"
    assert "BundleNames.MODEL" in app_code and "BundleNames.LABELS" in app_code


def test_gradle_build_is_complete():
    settings = (APP / "settings.gradle.kts").read_text()
    assert 'include(":app")' in settings and 'include(":core")' in settings
    app = (APP / "app/build.gradle.kts").read_text()
    assert re.search(r"minSdk\s*=\s*24\b", app)
    assert int(re.search(r"targetSdk\s*=\s*(\d+)", app).group(1)) >= 34
    assert 'noCompress += "tflite"' in app, "the model must be stored uncompressed to be memory-mapped"
    assert 'implementation(project(":core"))' in app
    assert "viewBinding = true" in app
    assert re.search(r"isMinifyEnabled\s*=\s*true", app) and (APP / "app/proguard-rules.pro").is_file()
    assert "-keep class com.google.mediapipe.**" in (APP / "app/proguard-rules.pro").read_text()
    props = (APP / "gradle/wrapper/gradle-wrapper.properties").read_text()
    assert re.search(r"distributionUrl=https\\://services\.gradle\.org/distributions/gradle-8\.\d+(\.\d+)?-bin\.zip", props)
    assert "android.useAndroidX=true" in (APP / "gradle.properties").read_text()


def test_version_catalog_covers_every_alias_used():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    catalog = tomllib.loads((APP / "gradle/libs.versions.toml").read_text())
    libraries = {k.replace("-", ".").replace("_", ".") for k in catalog["libraries"]}
    plugins = {k.replace("-", ".").replace("_", ".") for k in catalog["plugins"]}
    scripts = "\n".join(re.sub(r"//.*", "", p.read_text()) for p in APP.rglob("*.gradle.kts"))
    used_plugins = set(re.findall(r"libs\.plugins\.([\w.]+)", scripts))
    used_libs = set(re.findall(r"libs\.(?!plugins\.)([\w.]+)", scripts))
    assert used_plugins and used_plugins <= plugins, used_plugins - plugins
    assert used_libs and used_libs <= libraries, used_libs - libraries
    for entry in [*catalog["libraries"].values(), *catalog["plugins"].values()]:
        assert entry.get("version.ref", entry.get("version", {}).get("ref") if isinstance(entry.get("version"), dict)
                         else None) in catalog["versions"] or "version" in entry, entry
    libs = {f'{v["group"]}:{v["name"]}' for v in catalog["libraries"].values()}
    assert {"com.google.mediapipe:tasks-vision", "androidx.camera:camera-camera2", "androidx.camera:camera-view"} <= libs
    # MediaPipe Tasks replaced the TFLite Task Library and its GPU artifacts (not 16 KB page aligned).
    assert not [lib for lib in libs if lib.startswith("org.tensorflow:")], libs
    version = catalog["versions"][catalog["libraries"]["mediapipe-tasks-vision"]["version"]["ref"]]
    assert tuple(int(p) for p in version.split(".")) >= (0, 10, 29), f"tasks-vision {version} is not 16 KB aligned"


def test_the_app_runs_mediapipe_tasks_on_camerax_frames():
    """LIVE_STREAM ImageClassifier fed by ImageAnalysis (RGBA_8888, keep-only-latest), CPU by
    default and the GPU delegate on demand; no TensorFlow Lite class left anywhere."""
    kotlin = {p.name: p.read_text() for p in (MAIN / "kotlin").rglob("*.kt")}
    sources = "\n".join([*kotlin.values(), *(p.read_text() for p in APP.rglob("*.gradle.kts")),
                         (APP / "app/proguard-rules.pro").read_text()])
    assert "org.tensorflow" not in sources
    classifier = kotlin["FlowerClassifier.kt"]
    for needed in ("import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier", "RunningMode.LIVE_STREAM",
                   "classifyAsync(", "setResultListener", "Delegate.GPU", "Delegate.CPU",
                   "setModelAssetPath(MODEL_ASSET)", "setRotationDegrees"):
        assert needed in classifier, needed
    # What the model sees: the whole frame (no region of interest, no ViewPort crop), and the
    # preview letterboxes that same frame, like the iOS app.
    assert "setRegionOfInterest" not in classifier
    assert "setViewPort" not in kotlin["MainActivity.kt"]
    assert 'app:scaleType="fitCenter"' in (RES / "layout/activity_main.xml").read_text()
    assert "setMaxResults" not in classifier  # every class comes back for the smoother
    activity = kotlin["MainActivity.kt"]
    assert "ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888" in activity and "ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST" in activity
    model = kotlin["ClassifierViewModel.kt"]
    assert "switchBackend(Backend.CPU)" in model and "Backend.GPU" in model  # CPU first, GPU as the option


def test_workflow_builds_the_apk():
    # Its schema is checked with every other workflow's by test_workflows.py.
    text = WORKFLOW.read_text()
    assert "actions/setup-java@" in text and 'java-version: "17"' in text
    assert "./gradlew --stacktrace test assembleDebug" in text
    assert "gradle wrapper --gradle-version" in text and "actions/upload-artifact@" in text
    # 16 KB pages: the built APK goes through the ELF and zip-alignment checks, with zipalign -P 16.
    check = re.search(r"python3 tools/check_16kb\.py --zipalign \S+/zipalign\"? \\\n\s+(\S+)", text)
    assert check and check.group(1) == "android_app/app/build/outputs/apk/debug/app-debug.apk"
    assert text.index("./gradlew --stacktrace test assembleDebug") < text.index("python3 tools/check_16kb.py")
    assert (REPO / "tools/check_16kb.py").is_file()


def test_readme_tells_how_to_build_run_and_swap_the_model():
    readme = (APP / "README.md").read_text()
    for needed in ("flowers-mobile bundle --platform android", "gradle wrapper", "./gradlew", "assembleDebug",
                   "installDebug", "tools/test_kotlin.sh", "metadata"):
        assert needed in readme, f"android_app/README.md does not mention {needed!r}"
