"""`bundle`: copy an export's default artifacts into the sample apps, checked and atomic.

The only writer into the app folders (docs/artifact-contract.md). Every check runs before anything is written:
the manifest loads, each platform's default artifact is listed with the right format, its
sha256 and the labels file's sha256 match the manifest, the labels are valid and their count
agrees with the artifact. Then every destination is staged beside its final name, the copies are
hashed again, and only when all of them are complete are they renamed into place.

Layout in the apps:

- Android: ``<android_dir>/app/src/main/assets/{flowers.tflite, labels.txt, manifest.json}``
- iOS: ``<ios_dir>/Flowers/Model/{Flowers.mlpackage/, labels.txt, manifest.json}``
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowers_mobile.errors import UserError
from flowers_mobile.formats.manifest import (
    DEFAULT_ARTIFACTS,
    MANIFEST_NAME,
    Artifact,
    Manifest,
    read_manifest,
    verify_file,
)
from flowers_mobile.fsutil import atomic_dir, atomic_path, path_bytes, sha256_path
from flowers_mobile.labels import read_labels

PLATFORMS = ("android", "ios")
#: Where each platform's files go, relative to its app folder.
APP_MODEL_DIRS = {"android": Path("app/src/main/assets"), "ios": Path("Flowers/Model")}
#: The artifact format each platform's default file must have.
PLATFORM_FORMATS = {"android": "tflite", "ios": "mlpackage"}
#: A file that marks a folder as the app (checked so a typo in --android-dir writes nothing).
APP_MARKERS = {"android": ("settings.gradle.kts", "settings.gradle"), "ios": ("project.yml", "Flowers")}


@dataclass(frozen=True)
class PlacedFile:
    """One file (or package folder) that `bundle` put into an app."""

    platform: str
    source: Path
    dest: Path
    bytes: int
    sha256: str


@dataclass(frozen=True)
class _Copy:
    platform: str
    source: Path
    dest: Path
    sha256: str


def resolve_platforms(platform: str) -> list[str]:
    """`android`, `ios` or `all` -> the platform list; UserError otherwise."""
    name = platform.strip().lower()
    if name == "all":
        return list(PLATFORMS)
    if name in PLATFORMS:
        return [name]
    raise UserError(f"unknown platform {platform!r}", hint="use --platform android, ios or all")


def plan_bundle(export_dir: Path, platform: str, android_dir: Path, ios_dir: Path) -> list[_Copy]:
    """Check everything `bundle` relies on and return the copies to make; writes nothing."""
    platforms = resolve_platforms(platform)
    export_dir = Path(export_dir)
    manifest = read_manifest(export_dir)  # a manifest without a valid labels entry is refused here
    labels_entry = manifest.labels
    labels_path = verify_file(export_dir, labels_entry.file, labels_entry.sha256)
    labels = read_labels(labels_path)
    if len(labels) != labels_entry.count:
        raise UserError(f"{labels_path} has {len(labels)} labels but {export_dir / MANIFEST_NAME} counts "
                        f"{labels_entry.count}", hint="re-run `flowers-mobile convert`")
    manifest_path = export_dir / MANIFEST_NAME
    manifest_sha = sha256_path(manifest_path)

    app_dirs = {"android": Path(android_dir), "ios": Path(ios_dir)}
    copies: list[_Copy] = []
    for name in platforms:
        art = _default_artifact(manifest, name, export_dir)
        src = verify_file(export_dir, art.file, art.sha256)
        if art.num_labels != len(labels):
            raise UserError(f"{src} outputs {art.num_labels} classes but {labels_path} has {len(labels)} labels",
                            hint="re-run `flowers-mobile convert` so the model and labels come from one run")
        model_dir = _app_model_dir(name, app_dirs[name])
        copies += [
            _Copy(name, src, model_dir / DEFAULT_ARTIFACTS[name], art.sha256),
            _Copy(name, labels_path, model_dir / labels_path.name, labels_entry.sha256),
            _Copy(name, manifest_path, model_dir / MANIFEST_NAME, manifest_sha),
        ]
    return copies


def bundle(export_dir: Path, platform: str, android_dir: Path = Path("android_app"),
           ios_dir: Path = Path("ios_app")) -> list[PlacedFile]:
    """Copy the default artifacts, labels.txt and manifest.json of an export into the apps.

    Args:
        export_dir: an export folder with manifest.json (`flowers-mobile convert --out`).
        platform: "android", "ios" or "all".
        android_dir: the Android app's root (the folder with settings.gradle.kts).
        ios_dir: the iOS app's root (the folder with project.yml / Flowers/).

    Returns:
        One `PlacedFile` per file or package placed, in the order placed.

    Raises:
        UserError: unknown platform, missing or malformed manifest, a missing or tampered
            artifact or labels file, an app folder that is not there. Nothing is written then.
    """
    copies = plan_bundle(export_dir, platform, android_dir, ios_dir)
    # Stage every copy beside its destination; the ExitStack renames them all into place only
    # after the last one is complete and re-hashed, and removes every stage on any error.
    with contextlib.ExitStack() as stack:
        for c in copies:
            _stage(stack, c)
    return [PlacedFile(c.platform, c.source, c.dest, path_bytes(c.dest), sha256_path(c.dest)) for c in copies]


def _stage(stack: contextlib.ExitStack, copy: _Copy) -> None:
    if copy.source.is_dir():
        tmp = stack.enter_context(atomic_dir(copy.dest))
        shutil.copytree(copy.source, tmp, dirs_exist_ok=True, copy_function=_copy_file)
    else:
        tmp = stack.enter_context(atomic_path(copy.dest))
        _copy_file(copy.source, tmp)
    actual = sha256_path(tmp)
    if actual != copy.sha256:  # the source changed while we copied it, or the disk lied
        raise UserError(f"copying {copy.source} to {copy.dest} gave sha256 {actual[:12]}…, "
                        f"expected {copy.sha256[:12]}…", hint="nothing was written; run bundle again")


def _copy_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Any:
    # Contents only: permission bits and times of the export are not the app's business.
    return shutil.copyfile(src, dst)


def _default_artifact(manifest: Manifest, platform: str, export_dir: Path) -> Artifact:
    file = DEFAULT_ARTIFACTS[platform]
    try:
        art = manifest.artifact(file)
    except UserError as exc:
        raise UserError(f"{export_dir / MANIFEST_NAME} lists no {file}, the {platform} app's model "
                        f"({exc.hint or 'no artifacts'})",
                        hint=f"export it with `flowers-mobile convert` (target {PLATFORM_FORMATS[platform]})") from exc
    if art.format != PLATFORM_FORMATS[platform]:
        raise UserError(f"{file} in {export_dir / MANIFEST_NAME} has format {art.format!r}, "
                        f"the {platform} app needs {PLATFORM_FORMATS[platform]!r}")
    return art


def _app_model_dir(platform: str, app_dir: Path) -> Path:
    flag = f"--{platform}-dir"
    if not app_dir.is_dir():
        raise UserError(f"{platform} app folder not found: {app_dir}", hint=f"pass {flag} with the app's root folder")
    if not any((app_dir / marker).exists() for marker in APP_MARKERS[platform]):
        raise UserError(f"{app_dir} does not look like the {platform} app (no {' or '.join(APP_MARKERS[platform])})",
                        hint=f"pass {flag} with the app's root folder")
    return app_dir / APP_MODEL_DIRS[platform]


