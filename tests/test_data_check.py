"""`data check` finds every planted defect, per file, and exits 1 on errors, 0 on warnings."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from flowers_mobile.cli import main
from flowers_mobile.config import DataConfig
from flowers_mobile.data.check import check_dataset


def _rgb(seed: int, size=(64, 64)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


@pytest.fixture()
def planted(tmp_path):
    """A pre-split folder with one of each defect; returns (root, {code: relative path})."""
    root = tmp_path / "flowers"
    for split in ("train", "val"):
        for cls in ("daisy", "rose"):
            (root / split / cls).mkdir(parents=True)
    for i in range(3):
        _rgb(i).save(root / "train" / "daisy" / f"ok_{i}.jpg")
        _rgb(10 + i).save(root / "train" / "rose" / f"ok_{i}.jpg")
    _rgb(20).save(root / "val" / "daisy" / "ok.jpg")
    _rgb(21).save(root / "val" / "rose" / "ok.jpg")
    t = root / "train" / "daisy"
    (t / "garbage.jpg").write_bytes(b"this is not a jpeg at all" * 10)
    buf = io.BytesIO()
    _rgb(30, (200, 200)).save(buf, "JPEG", quality=95)
    (t / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (t / "notes.txt").write_text("not an image")
    _rgb(31).convert("L").save(t / "gray.png")
    _rgb(32).convert("CMYK").save(t / "cmyk.jpg")
    rgba = _rgb(33).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(t / "alpha.png")
    deep = Image.new("I;16", (64, 64))
    deep.frombytes((np.arange(64 * 64, dtype="<u2") * 16).tobytes())
    deep.save(t / "deep.png")
    _rgb(34).convert("P").save(t / "palette.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    _rgb(35).save(t / "rotated.jpg", exif=exif.tobytes())
    _rgb(36, (12, 12)).save(t / "tiny.png")
    _rgb(37, (1200, 1000)).save(t / "bomb.png")  # over the test's pixel limit of 1e6
    # Same bytes in two classes, and in two splits.
    _rgb(40).save(root / "train" / "rose" / "twin.jpg")
    shutil.copy(root / "train" / "rose" / "twin.jpg", root / "train" / "daisy" / "twin_copy.jpg")
    _rgb(41).save(root / "train" / "rose" / "leak.jpg")
    shutil.copy(root / "train" / "rose" / "leak.jpg", root / "val" / "rose" / "leak.jpg")
    # An empty class and a single-image class.
    (root / "train" / "tulip").mkdir()
    (root / "train" / "lily").mkdir()
    _rgb(50).save(root / "train" / "lily" / "one.jpg")
    expected = {
        "unreadable": "train/daisy/garbage.jpg", "truncated": "train/daisy/truncated.jpg",
        "not_an_image": "train/daisy/notes.txt", "exif_rotated": "train/daisy/rotated.jpg",
        "too_small": "train/daisy/tiny.png", "decompression_bomb": "train/daisy/bomb.png",
        "duplicate_across_classes": None, "leakage": None, "empty_class": "train/tulip",
        "single_image_class": "train/lily",
    }
    return root, expected


def test_every_planted_defect_is_found_at_its_file(planted):
    root, expected = planted
    report = check_dataset(root, DataConfig(max_image_pixels=1_000_000, min_image_side=32))
    by_code: dict[str, set[str]] = {}
    for f in report.findings:
        by_code.setdefault(f.code, set()).add(str(f.path).replace(str(root) + "/", ""))
    for code, rel in expected.items():
        assert code in by_code, f"{code} not reported; got {sorted(by_code)}"
        if rel is not None:
            assert rel in by_code[code], (code, by_code[code])
    assert {"train/daisy/twin_copy.jpg", "train/rose/twin.jpg"} & by_code["duplicate_across_classes"]
    assert {"val/rose/leak.jpg", "train/rose/leak.jpg"} & by_code["leakage"]
    converted = by_code["converted"]
    for name in ("gray.png", "cmyk.jpg", "alpha.png", "deep.png", "palette.png"):
        assert f"train/daisy/{name}" in converted
    severities = {f.code: f.severity for f in report.findings}
    for code in ("unreadable", "truncated", "decompression_bomb", "empty_class", "leakage",
                 "duplicate_across_classes"):
        assert severities[code] == "error"
    for code in ("not_an_image", "converted", "exif_rotated", "too_small", "single_image_class"):
        assert severities[code] == "warning"
    # Clean files are not reported.
    assert not any("ok_" in f.path for f in report.findings)


def test_cli_exit_codes_and_json(planted, tmp_path, capsys):
    root, _ = planted
    with pytest.raises(SystemExit) as exc:
        main(["data", "check", str(root), "--json", "--set", "data.max_image_pixels=1000000"])
    assert exc.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["errors"] == 6 and report["layout"] == "pre-split"

    clean = tmp_path / "clean"
    for cls in ("a", "b"):
        (clean / cls).mkdir(parents=True)
        for i in range(3):
            _rgb(hash((cls, i)) % 1000).save(clean / cls / f"{i}.jpg")
    _rgb(99).convert("L").save(clean / "a" / "gray.png")  # a warning only
    with pytest.raises(SystemExit) as exc:
        main(["data", "check", str(clean)])
    assert exc.value.code == 0  # warnings only
    assert "1 warning" in capsys.readouterr().out


def test_fewer_than_two_classes_is_an_error(tmp_path):
    (tmp_path / "only").mkdir()
    _rgb(1).save(tmp_path / "only" / "a.jpg")
    report = check_dataset(tmp_path)
    assert [f.code for f in report.errors] == ["too_few_classes"]
