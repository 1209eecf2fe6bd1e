"""Folders of unlabelled images: how a folder is read (labelled dataset or unlabelled images), and
int8 calibration on a flat folder of photos, converted and run for real (a tiny classifier)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from flowers_mobile.config import Config
from flowers_mobile.data.sources import find_images, spread_sample, unlabelled_images
from flowers_mobile.errors import UserError
from tests.convert_fixtures import TINY_LABELS, TINY_SIZE, draw_shapes, tiny_classifier


def _flatten(classes_root: Path, root: Path) -> Path:
    """The drawn shapes without class folders: reds directly inside, the rest in nested folders."""
    for p in sorted(classes_root.rglob("*.png")):
        target = root if p.parent.name == "red" else root / "more" / p.parent.name.upper()
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target / p.name)
    return root


def test_how_a_folder_is_read(tmp_path):
    classes = draw_shapes(tmp_path / "classes", per_class=4)
    flat = _flatten(classes, tmp_path / "flat")
    (flat / ".thumbs").mkdir()
    shutil.copy2(next(flat.glob("*.png")), flat / ".thumbs" / "t.png")
    # Images directly inside: unlabelled, at any depth, hidden folders skipped.
    found = unlabelled_images(flat, TINY_LABELS)
    assert found == find_images(flat) and len(found) == 12
    assert sum("more" in p.parts for p in found) == 8
    # Class folders named after the labels: a labelled dataset.
    assert unlabelled_images(classes, TINY_LABELS) is None
    # Only sub-folders, none of them a label (a camera's DCIM/100APPLE): unlabelled images.
    renamed = tmp_path / "camera"
    shutil.copytree(classes, renamed / "DCIM")
    assert len(unlabelled_images(renamed, TINY_LABELS)) == 12
    with pytest.raises(UserError, match="has no images"):
        (tmp_path / "empty" / "sub").mkdir(parents=True)
        unlabelled_images(tmp_path / "empty", TINY_LABELS)


def test_spread_sample_takes_every_folder_and_is_seeded(tmp_path):
    flat = _flatten(draw_shapes(tmp_path / "classes", per_class=5), tmp_path / "flat")
    picked = spread_sample(find_images(flat), 6, seed=3)
    assert len(picked) == 6 and len({p.parent for p in picked}) == 3  # two from each folder
    assert spread_sample(find_images(flat), 6, seed=3) == picked
    assert len(spread_sample(find_images(flat), 100, seed=3)) == 15


@pytest.mark.slow
def test_int8_calibrates_on_a_flat_folder_of_images(tmp_path):
    from flowers_mobile.export.convert import convert
    from flowers_mobile.export.tflite import calibration_paths
    from flowers_mobile.images import load_image
    from flowers_mobile.runtimes.litert import LiteRTPredictor

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    tiny_classifier().save(model_dir / "model.keras")
    (model_dir / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")
    flat = _flatten(draw_shapes(tmp_path / "classes", per_class=6), tmp_path / "photos")
    cfg = Config().with_overrides(["export.representative_size=12"])
    paths = calibration_paths(flat, TINY_LABELS, cfg.data, 12)
    assert len(paths) == 12 and {p.parent.name for p in paths} == {"photos", "GREEN", "BLUE"}

    manifest = convert(model_dir / "model.keras", tmp_path / "export", cfg, precisions=["int8"], data_dir=flat,
                       progress=False)
    written = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert written["export_config"]["representative_images"] == 12 and written["export_config"]["data_dir"] == str(flat)
    assert "flowers_int8.tflite" in {a["file"] for a in manifest["artifacts"]}
    pixels = np.stack([load_image(p, (TINY_SIZE, TINY_SIZE)) for p in paths[:4]])
    with LiteRTPredictor(tmp_path / "export" / "flowers_int8.tflite") as predictor:
        probs = predictor.predict(pixels)
    assert probs.shape == (4, 3) and np.allclose(probs.sum(1), 1, atol=0.02)
    assert pixels.shape[1:3] == (TINY_SIZE, TINY_SIZE)
