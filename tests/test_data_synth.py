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


def test_a_test_split_of_its_own_seed_stream_makes_a_presplit_folder(tmp_path):
    from flowers_mobile.data.sources import load_dataset

    names = generate_dataset(tmp_path / "a", 2, 7, 48, seed=4, test_per_class=5, val_share=0.3)
    generate_dataset(tmp_path / "b", 2, 7, 48, seed=4, test_per_class=9, val_share=0.3)
    ds = load_dataset(tmp_path / "a")
    assert ds.presplit and ds.classes == names
    assert ds.counts() == {"train": [5, 5], "val": [2, 2], "test": [5, 5]}
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    # More test images leave train and val as they were, and the first test images too.
    assert {k: v for k, v in a.items() if not k.startswith("test/")} == \
        {k: v for k, v in b.items() if not k.startswith("test/")}
    assert {k: v for k, v in a.items() if k.startswith("test/")}.items() <= b.items()
    # The test stream is not the train/val stream: no test image repeats a training one.
    assert not {v for k, v in a.items() if k.startswith("test/")} & {v for k, v in a.items() if not k.startswith("test/")}
    # Class folders as before without a test split: the same images as train + val.
    generate_dataset(tmp_path / "c", 2, 7, 48, seed=4)
    assert sorted(_digests(tmp_path / "c").values()) == sorted(v for k, v in a.items() if not k.startswith("test/"))


def test_synth_cli_takes_the_test_split_and_the_seed_from_config(tmp_path, capsys):
    from flowers_mobile.cli import main
    from flowers_mobile.data.sources import load_dataset

    with pytest.raises(SystemExit) as exc:
        main(["data", "synth", str(tmp_path / "d"), "--set", "data.synth_classes=2", "--set", "data.synth_per_class=6",
              "--set", "data.synth_image_size=32", "--set", "data.synth_test_per_class=4", "--set", "data.seed=9"])
    assert exc.value.code in (0, None)
    printed = capsys.readouterr()
    assert "8 test" in printed.out + printed.err
    assert load_dataset(tmp_path / "d").counts()["test"] == [4, 4]
    generate_dataset(tmp_path / "e", 2, 6, 32, seed=9, test_per_class=4)
    assert _digests(tmp_path / "d") == _digests(tmp_path / "e")
