"""The synthetic flowers: deterministic, laid out as class folders, varied."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from flowers_mobile.data.synth import KINDS, generate_dataset
from flowers_mobile.errors import UserError


def _digests(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.png"))}


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a = generate_dataset(tmp_path / "a", 3, 4, 64, seed=1)
    generate_dataset(tmp_path / "b", 3, 4, 64, seed=1)
    generate_dataset(tmp_path / "c", 3, 4, 64, seed=2)
    assert a == sorted(k.name for k in KINDS[:3])
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert _digests(tmp_path / "a") != _digests(tmp_path / "c")
    assert len(_digests(tmp_path / "a")) == 12


def test_images_are_rgb_of_the_asked_size_and_vary_within_a_class(tmp_path):
    generate_dataset(tmp_path, 2, 6, 80, seed=0)
    files = sorted((tmp_path / KINDS[0].name).glob("*.png"))
    arrays = [np.asarray(Image.open(f)) for f in files]
    assert all(a.shape == (80, 80, 3) and a.dtype == np.uint8 for a in arrays)
    # Position, scale, rotation and background differ: no two images of a class are near-identical.
    diffs = [np.abs(arrays[i].astype(int) - arrays[j].astype(int)).mean()
             for i in range(len(arrays)) for j in range(i + 1, len(arrays))]
    assert min(diffs) > 5


def test_bad_arguments_write_nothing(tmp_path):
    with pytest.raises(UserError):
        generate_dataset(tmp_path / "x", 1, 4, 64)
    with pytest.raises(UserError):
        generate_dataset(tmp_path / "x", 13, 4, 64)
    with pytest.raises(UserError):
        generate_dataset(tmp_path / "x", 3, 4, 16)
    assert not (tmp_path / "x").exists()
