"""Folder sources: stratified split with a fixed seed, pre-split folders, bad input."""

from __future__ import annotations

import pytest
from PIL import Image

from flowers_mobile.config import DataConfig
from flowers_mobile.data.sources import load_dataset, stratified_sample
from flowers_mobile.errors import UserError


def _make(root, layout):
    """layout: {relative class folder: image count}."""
    for rel, n in layout.items():
        d = root / rel
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (40, 40), (i * 3 % 255, 10, 20)).save(d / f"img_{i:03d}.jpg")


def test_class_folders_split_stratified_and_reproducibly(tmp_path):
    _make(tmp_path, {"b_rose": 40, "a_daisy": 20, "c_tulip": 10})
    ds = load_dataset(tmp_path, DataConfig(seed=3))
    assert ds.classes == ["a_daisy", "b_rose", "c_tulip"]
    counts = ds.counts()
    assert counts["train"] == [14, 28, 6] and counts["val"] == [3, 6, 2] and counts["test"] == [3, 6, 2]
    again = load_dataset(tmp_path, DataConfig(seed=3))
    assert again.val == ds.val
    other = load_dataset(tmp_path, DataConfig(seed=4))
    assert other.val != ds.val
    everything = {s.path for s in ds.split("all")}
    assert len(everything) == 70  # no image in two splits


def test_presplit_folders_keep_their_split(tmp_path):
    _make(tmp_path, {"train/a": 5, "train/b": 4, "val/a": 2, "val/b": 2, "test/b": 1})
    ds = load_dataset(tmp_path)
    assert ds.presplit and ds.classes == ["a", "b"]
    assert ds.counts() == {"train": [5, 4], "val": [2, 2], "test": [0, 1]}


def test_stratified_sample_covers_every_class(tmp_path):
    _make(tmp_path, {"a": 30, "b": 30, "c": 3})
    ds = load_dataset(tmp_path)
    picked = stratified_sample(ds.train, 9, seed=0)
    assert sorted(s.label for s in picked) == [0, 0, 0, 0, 1, 1, 1, 1, 2]


@pytest.mark.parametrize("layout, message", [
    ({"only": 5}, "at least 2"),
    ({"a": 5, "b": 0}, "without images"),
    ({"train/a": 3, "train/b": 3, "val/a": 1, "val/zzz": 1}, "not in"),
])
def test_bad_folders_are_one_line_errors(tmp_path, layout, message):
    _make(tmp_path, layout)
    with pytest.raises(UserError, match=message):
        load_dataset(tmp_path)


def test_missing_folder_and_file_instead_of_folder(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_dataset(tmp_path / "nope")
    f = tmp_path / "file.jpg"
    f.write_bytes(b"x")
    with pytest.raises(UserError, match="is a file"):
        load_dataset(f)
    with pytest.raises(UserError, match="no class sub-folders"):
        load_dataset(_empty(tmp_path))


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d
