"""`data check`: find what would hurt training or leak between splits, per file.

Errors (exit 1): unreadable or truncated images, decompression bombs (refused), empty classes,
fewer than two classes, the same file in more than one split (leakage) or in two classes.
Warnings (exit 0): files that are not images, images converted on load (grayscale, CMYK,
RGBA, 16-bit, palette), EXIF-rotated images (honoured on load), images smaller than the model
needs, classes with a single image, duplicates inside one class.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

from flowers_mobile.config import DataConfig
from flowers_mobile.data.sources import (
    SPLITS,
    check_folder,
    class_folders,
    is_image_file,
    is_presplit,
)

ERROR = "error"
WARNING = "warning"

# PIL modes that are converted to 8-bit RGB on load, and how a report names them.
_CONVERTED_MODES = {
    "L": "grayscale", "LA": "grayscale with alpha", "1": "1-bit", "P": "palette", "PA": "palette with alpha",
    "CMYK": "CMYK", "RGBA": "RGBA (alpha dropped onto white)", "I;16": "16-bit", "I;16B": "16-bit",
    "I;16L": "16-bit", "I": "32-bit integer", "F": "32-bit float", "YCbCr": "YCbCr", "LAB": "Lab", "HSV": "HSV",
}


@dataclass
class Finding:
    severity: str  # "error" | "warning"
    code: str  # stable machine name, e.g. "truncated", "leakage"
    path: str
    message: str


@dataclass
class CheckReport:
    root: str
    layout: str  # "class-folders" | "pre-split"
    classes: list[str] = field(default_factory=list)
    images: int = 0
    files: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def add(self, severity: str, code: str, path: Path | str, message: str) -> None:
        self.findings.append(Finding(severity, code, str(path), message))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["summary"] = {"errors": len(self.errors), "warnings": len(self.warnings)}
        return out


def inspect_image(path: Path, min_side: int, max_pixels: int) -> list[tuple[str, str, str]]:
    """Findings (severity, code, message) for one image file; empty when it is clean."""
    out: list[tuple[str, str, str]] = []
    try:
        with Image.open(path) as img:
            width, height, mode, fmt = img.width, img.height, img.mode, img.format
            if width * height > max_pixels:
                return [(ERROR, "decompression_bomb",
                         f"{width}x{height} = {width * height} pixels is over the {max_pixels} limit; refused")]
            orientation = img.getexif().get(0x0112, 1)
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()  # full decode: truncated data raises here
    except Image.DecompressionBombError as exc:
        return [(ERROR, "decompression_bomb", f"refused: {exc}")]
    except OSError as exc:
        text = str(exc)
        code = "truncated" if "truncated" in text.lower() or "broken data" in text.lower() else "unreadable"
        return [(ERROR, code, f"cannot decode ({text})")]
    except (SyntaxError, ValueError) as exc:
        return [(ERROR, "unreadable", f"cannot decode ({exc})")]
    if mode != "RGB":
        name = _CONVERTED_MODES.get(mode, mode)
        out.append((WARNING, "converted", f"{fmt} image in mode {mode} ({name}); converted to RGB on load"))
    if orientation not in (1, None):
        out.append((WARNING, "exif_rotated", f"EXIF orientation {orientation}; rotated upright on load"))
    if min(width, height) < min_side:
        out.append((WARNING, "too_small", f"{width}x{height} is smaller than {min_side} px on a side; "
                                          "upscaling loses detail"))
    return out


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def check_dataset(root: str | os.PathLike[str], data_cfg: DataConfig | None = None, *,
                  min_side: int | None = None, on_file: Callable[[], None] | None = None) -> CheckReport:
    """Inspect every file under a data folder (either layout) and report findings per file.

    Args:
        root: DIR/<class>/ or DIR/{train,val,test}/<class>/.
        data_cfg: thresholds (min_image_side, max_image_pixels).
        min_side: overrides data_cfg.min_image_side (e.g. the model's input size).
        on_file: called after each file (progress bars).
    """
    cfg = data_cfg or DataConfig()
    min_side = cfg.min_image_side if min_side is None else min_side
    root = check_folder(root)
    presplit = is_presplit(root)
    report = CheckReport(root=str(root), layout="pre-split" if presplit else "class-folders")
    groups = [(name, root / name) for name in SPLITS if (root / name).is_dir()] if presplit else [(None, root)]

    seen: dict[str, list[tuple[str | None, str, Path]]] = defaultdict(list)  # digest -> (split, class, path)
    class_sizes: dict[tuple[str | None, str], int] = {}
    classes: set[str] = set()
    for split, folder in groups:
        for cls_dir in class_folders(folder):
            classes.add(cls_dir.name)
            n_images = 0
            for path in sorted(p for p in cls_dir.rglob("*") if p.is_file()):
                report.files += 1
                if path.name.startswith("."):
                    continue
                if not is_image_file(path):
                    report.add(WARNING, "not_an_image", path, "not an image file (by its suffix); ignored")
                    if on_file:
                        on_file()
                    continue
                problems = inspect_image(path, min_side, cfg.max_image_pixels)
                for severity, code, message in problems:
                    report.add(severity, code, path, message)
                if not any(sev == ERROR for sev, _, _ in problems):
                    n_images += 1
                    report.images += 1
                    seen[_digest(path)].append((split, cls_dir.name, path))
                if on_file:
                    on_file()
            class_sizes[(split, cls_dir.name)] = n_images
        stray = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        for path in stray:
            report.add(WARNING, "outside_class", path, "file outside any class folder; ignored")

    report.classes = sorted(classes)
    train_classes = {c for (s, c) in class_sizes if s in (None, "train")}
    if len(train_classes) < 2:
        where = root / "train" if presplit else root
        report.add(ERROR, "too_few_classes", where,
                   f"{len(train_classes)} class folder(s); a classifier needs at least 2")
    for (split, cls), n in sorted(class_sizes.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        where = (root / split / cls) if split else (root / cls)
        if n == 0:
            report.add(ERROR, "empty_class", where, "class folder has no usable image")
        elif n == 1 and split in (None, "train"):
            report.add(WARNING, "single_image_class", where, "class has a single image; it cannot be split or "
                                                             "learned reliably")

    for entries in seen.values():
        if len(entries) < 2:
            continue
        splits = {s for s, _, _ in entries}
        labels = {c for _, c, _ in entries}
        first = entries[0][2]
        for _split, _cls, path in entries[1:]:
            if len(labels) > 1:
                report.add(ERROR, "duplicate_across_classes", path,
                           f"identical to {first} but filed under classes {', '.join(sorted(labels))}")
            if len(splits) > 1:
                report.add(ERROR, "leakage", path,
                           f"identical to {first}: the same image is in splits {', '.join(sorted(map(str, splits)))}")
            if len(labels) == 1 and len(splits) == 1:
                report.add(WARNING, "duplicate", path, f"identical to {first} (same class); may land in two "
                                                        "splits when split here")
    return report
