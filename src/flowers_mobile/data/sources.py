"""Image folders as datasets: class sub-folders, or pre-split train/val/test folders; or, where
no labels are needed (parity's agreement, int8 calibration, predict), any folder of images.

    DIR/<class>/*.jpg                      split here, stratified per class, fixed seed
    DIR/{train,val,test}/<class>/*.jpg     the folder's own split (test optional)
    DIR/*.jpg, DIR/any/depth/*.jpg         unlabelled (`unlabelled_images`)

Classes are the sorted sub-folder names: that order is the label order everywhere.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowers_mobile.config import DataConfig
from flowers_mobile.errors import UserError
from flowers_mobile.images import IMAGE_SUFFIXES

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass
class Dataset:
    root: Path
    classes: list[str]
    train: list[Sample] = field(default_factory=list)
    val: list[Sample] = field(default_factory=list)
    test: list[Sample] = field(default_factory=list)
    presplit: bool = False

    def split(self, name: str) -> list[Sample]:
        """'train', 'val', 'test' or 'all'."""
        if name == "all":
            return self.train + self.val + self.test
        if name not in SPLITS:
            raise UserError(f"unknown split {name!r}", hint="use train, val, test or all")
        return getattr(self, name)

    def counts(self) -> dict[str, list[int]]:
        out = {}
        for name in SPLITS:
            per = [0] * len(self.classes)
            for s in self.split(name):
                per[s.label] += 1
            out[name] = per
        return out


def check_folder(root: str | os.PathLike[str], what: str = "data folder") -> Path:
    root = Path(root)
    if not root.exists():
        raise UserError(f"{what} not found: {root}")
    if not root.is_dir():
        raise UserError(f"{what} {root} is a file, expected a folder of class sub-folders")
    return root


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_presplit(root: Path) -> bool:
    names = {p.name for p in class_folders(root)}
    return "train" in names and "val" in names and names <= set(SPLITS)


def scan_classes(root: Path) -> dict[str, list[Path]]:
    """{class name: sorted image files} for the class sub-folders of `root`."""
    return {folder.name: sorted(p for p in folder.rglob("*") if is_image_file(p)) for folder in class_folders(root)}


def load_dataset(root: str | os.PathLike[str], data_cfg: DataConfig | None = None, *,
                 min_classes: int = 2) -> Dataset:
    """Index a data folder into train/val/test samples.

    Args:
        root: class sub-folders, or train/val[/test] folders of class sub-folders.
        data_cfg: split fractions and seed (defaults when None).
        min_classes: fewer classes than this is a UserError (a classifier needs two).
    Returns:
        A Dataset whose `classes` are the sorted class names.
    """
    cfg = data_cfg or DataConfig()
    root = check_folder(root)
    if is_presplit(root):
        per_split = {name: scan_classes(root / name) if (root / name).is_dir() else {} for name in SPLITS}
        classes = sorted(per_split["train"])
        for name in ("val", "test"):
            extra = sorted(set(per_split[name]) - set(classes))
            if extra:
                raise UserError(f"{root / name} has classes not in {root / 'train'}: {', '.join(extra[:5])}",
                                hint="every split must use the training split's classes")
        _check_classes(root / "train", {c: per_split["train"][c] for c in classes}, min_classes)
        ds = Dataset(root=root, classes=classes, presplit=True)
        index = {c: i for i, c in enumerate(classes)}
        for name in SPLITS:
            samples = [Sample(p, index[c]) for c, files in sorted(per_split[name].items()) for p in files]
            setattr(ds, name, samples)
        if not ds.val:
            raise UserError(f"{root / 'val'} has no images", hint="put validation images in val/<class>/")
        return ds
    by_class = scan_classes(root)
    _check_classes(root, by_class, min_classes)
    classes = sorted(by_class)
    train, val, test = stratified_split(by_class, classes, cfg.train_fraction, cfg.val_fraction, cfg.seed)
    return Dataset(root=root, classes=classes, train=train, val=val, test=test, presplit=False)


def _check_classes(root: Path, by_class: dict[str, list[Path]], min_classes: int) -> None:
    if not by_class:
        raise UserError(f"{root} has no class sub-folders", hint="lay images out as DIR/<class>/*.jpg")
    empty = [c for c, files in by_class.items() if not files]
    if empty:
        raise UserError(f"{root}: class folder(s) without images: {', '.join(empty[:5])}",
                        hint=f"add images ({', '.join(IMAGE_SUFFIXES[:3])}, ...) or remove the folder")
    if len(by_class) < min_classes:
        raise UserError(f"{root} has {len(by_class)} class(es) ({', '.join(by_class)}); a classifier needs "
                        f"at least {min_classes}", hint="add a sub-folder of images per class")


def stratified_split(by_class: dict[str, list[Path]], classes: list[str], train_fraction: float,
                     val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Split each class on its own with a fixed seed: every class is in every split when it can be.

    A class with n images gives round(n * val) validation and round(n * test) test images, at
    least one each when n >= 3, and the rest to training (always at least one).
    """
    test_fraction = max(0.0, 1.0 - train_fraction - val_fraction)
    train: list[Sample] = []
    val: list[Sample] = []
    test: list[Sample] = []
    for label, name in enumerate(classes):
        files = list(by_class[name])
        rng = np.random.default_rng([seed, label])
        order = rng.permutation(len(files))
        n = len(files)
        n_val = int(round(n * val_fraction))
        n_test = int(round(n * test_fraction))
        if n >= 3:
            n_val = max(n_val, 1)
            n_test = max(n_test, 1) if test_fraction > 0 else 0
        while n_val + n_test > n - 1 and (n_val or n_test):  # keep one for training
            if n_test >= n_val and n_test:
                n_test -= 1
            else:
                n_val -= 1
        picked = [Sample(files[i], label) for i in order]
        val += picked[:n_val]
        test += picked[n_val:n_val + n_test]
        train += picked[n_val + n_test:]
    return train, val, test


def stratified_sample(samples: list[Sample], n: int, seed: int) -> list[Sample]:
    """Up to `n` samples spread evenly over the classes (round-robin over shuffled classes).

    Used for int8 calibration: every class is represented, never random noise.
    """
    by_label: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_label[s.label].append(s)
    rng = np.random.default_rng(seed)
    queues = {lab: [items[i] for i in rng.permutation(len(items))] for lab, items in sorted(by_label.items())}
    out: list[Sample] = []
    depth = 0
    while len(out) < n and any(depth < len(q) for q in queues.values()):
        for q in queues.values():
            if depth < len(q) and len(out) < n:
                out.append(q[depth])
        depth += 1
    return out


def find_images(root: str | os.PathLike[str]) -> list[Path]:
    """Every image file under `root`, at any depth, sorted; hidden files and folders are skipped."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if is_image_file(p)
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def unlabelled_images(root: str | os.PathLike[str], labels: Sequence[str] | None = None) -> list[Path] | None:
    """The images of `root` when it is a folder of unlabelled images, else None (a labelled dataset).

    `root` is unlabelled when it holds image files directly (then its sub-folders, at any depth,
    are images too, not classes), or, given the model's `labels`, when none of its sub-folders
    (of train/ in a pre-split folder) is named after a label. A folder some of whose sub-folders
    are labels is a labelled dataset (`load_dataset`), even when others are not.
    """
    root = check_folder(root)
    direct = any(is_image_file(p) for p in root.iterdir())
    if not direct:
        names = {p.name for p in class_folders(root / "train" if is_presplit(root) else root)}
        if labels is None or names & set(labels):
            return None
    found = find_images(root)
    if not found:
        raise UserError(f"{root} has no images ({', '.join(IMAGE_SUFFIXES[:4])}, ...)",
                        hint="give a folder of images, or of class sub-folders of images")
    return found


def spread_sample(paths: list[Path], n: int, seed: int) -> list[Path]:
    """Up to `n` of `paths`, spread evenly over their folders (seeded), in a stable order."""
    folders = {folder: i for i, folder in enumerate(sorted({p.parent for p in paths}))}
    picked = stratified_sample([Sample(p, folders[p.parent]) for p in paths], n, seed)
    return [s.path for s in picked]
