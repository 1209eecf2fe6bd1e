"""The images parity runs on: the held-out images of a labelled dataset (`judge.heldout`, the
same `convert` judges), or every image of a folder of unlabelled images (agreement only),
decoded once as uint8 (N, H, W, 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.errors import UserError
from flowers_mobile.images import load_decodable

#: The `split` name of a folder of unlabelled images.
UNLABELLED = "unlabelled"


@dataclass
class HeldOut:
    split: str
    images: np.ndarray
    #: True label indices into the model's labels, or None (no labels, or classes not all labels).
    true: np.ndarray | None
    paths: list[Path]
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cap(cfg: Config, max_images: int | None) -> int:
    cap = max_images if max_images is not None else cfg.parity.max_images
    if cap < 1:
        raise UserError(f"--max-images must be at least 1, got {cap}")
    return cap


def _labelled(data_dir: Path, cfg: Config, labels: list[str], cap: int) -> tuple[str, list[Path], list[int], list[str]]:
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.judge.heldout import held_out_samples

    dataset = load_dataset(data_dir, cfg.data)
    samples, splits = held_out_samples(dataset, cap, cfg.data.seed)
    if not samples:
        raise UserError(f"{data_dir} has no test or validation images", hint="give a folder with held-out images")
    split = "+".join(splits)
    index = {name: i for i, name in enumerate(labels)}
    notes = []
    missing = [c for c in dataset.classes if c not in index]
    if missing:
        notes.append(f"the data's classes {', '.join(missing[:5])} are not among the model's labels: "
                     "accuracy is not computed, agreement is")
    truth = [-1 if missing else index[dataset.classes[s.label]] for s in samples]
    return split, [s.path for s in samples], truth, notes


def held_out_images(data_dir: Path, cfg: Config, labels: list[str], image_size: tuple[int, int],
                    max_images: int | None) -> HeldOut:
    """Load parity's images once.

    A labelled dataset (class folders named after the labels, or pre-split) gives its validation
    and test splits (`judge.heldout.held_out_samples`), stratified over classes down to the cap. A folder of unlabelled images
    (`data.sources.unlabelled_images`: images directly inside, or no sub-folder named after a
    label) gives all its images at any depth, spread over its folders down to the cap; there is
    no accuracy then. Undecodable images are skipped and reported; none decodable is a UserError.
    """
    from flowers_mobile.data.sources import spread_sample, unlabelled_images

    cap = _cap(cfg, max_images)
    flat = unlabelled_images(data_dir, labels)
    if flat is not None:
        split, paths = UNLABELLED, spread_sample(flat, cap, cfg.data.seed) if len(flat) > cap else flat
        truth: list[int] | None = None
        notes = [f"{data_dir} is a folder of images without class folders: agreement only, accuracy n/a"]
    else:
        split, paths, truth, notes = _labelled(data_dir, cfg, labels, cap)
    images, indices, skipped = load_decodable(paths, (image_size[1], image_size[0]))
    kept = [paths[i] for i in indices]
    kept_truth = [] if truth is None else [truth[i] for i in indices]
    if images is None:
        raise UserError(f"none of the {len(paths)} {split} images in {data_dir} could be decoded",
                        hint="run `flowers-mobile data check` on the folder")
    true = None if truth is None or -1 in kept_truth else np.array(kept_truth, dtype=np.int64)
    return HeldOut(split, images, true, kept, skipped, notes)
