"""`compare`: a finished backbone is not trained again, the latency pass measures the real
default file, and the table, JSON and chart are written; bad --backbones is one line.

Cost: about 7 s (an untrained MobileNetV2 0.35 at 32 px converted to float32 TFLite, then one
LiteRT worker process; no training, and the ARM count is asked of a missing arm64 root, which
answers at once: counting is tests/test_arm_cost.py's, the full sweep tools/bench_backbones.py's
and the demo's in docs/backbones.md). The bad-name test: under 1 s.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from flowers_mobile.cli import main
from flowers_mobile.compare import (
    COMPARE_JSON,
    COMPARE_PNG,
    RESULT_JSON,
    BackboneResult,
    compare_backbones,
    parse_backbones,
)
from flowers_mobile.config import Config, ModelConfig
from flowers_mobile.errors import UserError


def _finished(folder: Path, tmp: Path) -> BackboneResult:
    """What a finished backbone leaves: its export folder (a real `convert`) and result.json."""
    from flowers_mobile.export.convert import convert
    from flowers_mobile.labels import write_labels
    from flowers_mobile.model import build_classifier

    tmp.mkdir()
    build_classifier(ModelConfig(input_size=32, alpha=0.35, weights="none"), 3).save(tmp / "model.keras")
    write_labels(tmp / "labels.txt", ["a", "b", "c"])
    convert(tmp / "model.keras", folder / "export", Config(), precisions=["float32"])
    result = BackboneResult(backbone=folder.name, input_size=64, params=123, test_accuracy=0.9,
                            test_interval=[0.8, 0.95], test_images=100, train_seconds=1.0,
                            default_precision="int8", default_bytes=1000, default_agreement=0.99,
                            default_reason="measured", tflite_bytes={"int8": 1000, "float32": 4000},
                            agreement={"int8": 0.99, "float32": 1.0})
    (folder / RESULT_JSON).write_text(json.dumps(dataclasses.asdict(result)))
    return result


def test_finished_backbone_is_kept_and_measured_side_by_side(tmp_path, monkeypatch):
    from flowers_mobile.commands.compare import render_table

    monkeypatch.setenv("FLOWERS_ARM_ROOT", str(tmp_path / "no_arm_root"))
    out = tmp_path / "cmp"
    _finished(out / "mobilenet_v2", tmp_path / "model")
    empty = tmp_path / "no_images"  # training would fail on it: proves nothing is trained
    empty.mkdir()
    report = compare_backbones(empty, out, Config(), ["mobilenet_v2"], images=3)
    row = report.results[0]
    assert not (out / "mobilenet_v2" / "run").exists()
    assert any("not trained again" in n for n in report.notes)
    assert row.litert["p50_ms"] > 0 and row.litert["throughput_ips"] > 0, row.litert
    written = json.loads((out / COMPARE_JSON).read_text())
    assert written["results"][0]["int8_agreement"] == 0.99
    # No arm64 root: one note says why, the JSON says null (not 0), the column "not measured".
    assert written["results"][0]["arm"] is None and written["arm"] is None
    assert [n for n in report.notes if n.startswith("ARM cost not measured: ARM cost: no arm64 root at ")], report.notes
    assert (out / COMPARE_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = render_table(report)
    headers = [c.header for c in table.columns]
    arm_column = table.columns[headers.index("ARM A76 M instr")]
    assert "int8 agree" in headers and headers.index("ARM A76 M instr") == headers.index("img/s") + 1
    assert list(arm_column.cells) == ["not measured"]
    row.arm = {"profile": "cortex-a76", "instructions": 12_345_678}  # what a count puts there
    table = render_table(report)
    assert list(table.columns[headers.index("ARM A76 M instr")].cells) == ["12.3"]


def test_unknown_backbone_in_the_list_is_one_line(capsys, tmp_path):
    with pytest.raises(UserError, match="'resnet' is unknown; known: mobilenet_v2"):
        parse_backbones("mobilenet_v2,resnet")
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--data", str(tmp_path), "--backbones", "vgg16,resnet", "--out", str(tmp_path / "c")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exc.value.code == 2 and len(lines) == 1 and "resnet" in lines[0], lines
    assert not (tmp_path / "c").exists()
