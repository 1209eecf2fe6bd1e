"""ARM cost (docs/arm_cost.md): the shared really trained MobileNetV2 (alpha 0.35, 64 px) really
converted, really run by LiteRT's aarch64 build under QEMU with the counting plugin.

The root comes from tools/fetch_arm_root.py (setup). Without it these tests skip, saying why; with
CI=true a missing root fails them. The missing-root and missing-QEMU cases need neither.
"""

from __future__ import annotations

import json
import os

import pytest

from flowers_mobile.armcost import ArmCostUnavailable, find_root, measure_files
from tests.runtime_fixtures import cli_exit as _cli
from tests.runtime_fixtures import sub_export


def _root():
    try:
        return find_root()
    except ArmCostUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the arm64 root: {exc.one_line()}")
        pytest.skip(exc.one_line())


@pytest.mark.slow
def test_benchmark_counts_every_tflite_file_repeatably_and_int8_costs_less(export_dir, tmp_path, capsys):
    """About 40 s: the benchmark's x86 workers, its ARM run on both profiles, one more ARM run."""
    root = _root()
    export = sub_export(export_dir, tmp_path / "export", ["flowers_float32.tflite", "flowers_int8.tflite"])
    code = _cli(["benchmark", "--exports", str(export), "--images", "3", "--batch", "2", "--threads", "1",
                 "--no-task-library", "--no-mediapipe"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ARM cortex-a76" in out and "ARM cortex-a55" in out and "M instr/img" in out and f"QEMU {root.qemu_version}" in out
    report = json.loads((export / "benchmark.json").read_text())
    assert report["arm"]["litert"] == root.info["litert"] and report["arm"]["threads"] == 1
    arm = {e["file"]: e["arm"] for e in report["entries"] if e["runtime"] == "litert"}
    for profile in ("cortex-a76", "cortex-a55"):
        f32, int8 = arm["flowers_float32.tflite"][profile], arm["flowers_int8.tflite"][profile]
        assert f32["ratio_float32"] == 1.0
        # int8 runs XNNPACK's qs8 kernels (sdot on these cores): far fewer instructions than f32 GEMMs.
        assert int8["instructions"] < 0.8 * f32["instructions"]
        assert int8["ratio_float32"] == pytest.approx(int8["instructions"] / f32["instructions"])
    # A second run, its own QEMU process: the same counts to 0.01%.
    again = measure_files([export / "flowers_float32.tflite", export / "flowers_int8.tflite"], ["cortex-a76"],
                          root=root)
    for cost in again.costs:
        first = arm[cost.file]["cortex-a76"]["instructions"]
        assert abs(cost.instructions - first) <= 1e-4 * first, (cost.file, first, cost.instructions)


@pytest.mark.slow
def test_convert_arm_cost_records_counts_and_explains_the_default(tmp_path, capsys):
    """About 20 s: a tiny conv classifier (not MobileNetV2) converted to float32 and dynamic, each
    counted on both profiles; the manifest keeps the counts, the table shows them beside agreement."""
    from tests.convert_fixtures import TINY_LABELS, draw_shapes, tiny_classifier

    root = _root()
    draw_shapes(tmp_path / "data")
    tiny_classifier().save(tmp_path / "model.keras")
    (tmp_path / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")
    out = tmp_path / "export"
    code = _cli(["convert", "--model", str(tmp_path / "model.keras"), "--target", "tflite", "--quantize", "none",
                 "--quantize", "dynamic", "--data", str(tmp_path / "data"), "--out", str(out), "--no-progress",
                 "--arm-cost"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "ARM cortex-a76" in printed and "ARM cost of the default on cortex-a76" in printed
    arm = json.loads((out / "manifest.json").read_text())["arm_cost"]
    assert arm["qemu"] == root.qemu_version and arm["litert"] == root.info["litert"]
    assert set(arm["profiles"]) == {"cortex-a76", "cortex-a55"}
    counts = arm["artifacts"]
    assert set(counts) == {"flowers.tflite", "flowers_float32.tflite", "flowers_dynamic.tflite"}
    for profile in arm["profiles"]:
        assert counts["flowers_float32.tflite"][profile]["ratio_float32"] == 1.0
        assert counts["flowers_float32.tflite"][profile]["instructions"] > 0
        assert counts["flowers_dynamic.tflite"][profile]["instructions"] > 0
    # flowers.tflite is a copy of one precision file: the same count, not counted again.
    chosen = next(f for f in ("flowers_float32.tflite", "flowers_dynamic.tflite")
                  if (out / f).read_bytes() == (out / "flowers.tflite").read_bytes())
    assert counts["flowers.tflite"] == counts[chosen]


def test_convert_arm_cost_without_root_or_qemu_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """Under a second: the check runs before converting."""
    out = tmp_path / "export"
    args = ["convert", "--model", str(tmp_path / "model.keras"), "--out", str(out), "--arm-cost"]
    monkeypatch.setenv("FLOWERS_ARM_ROOT", str(tmp_path / "no-root"))
    assert _cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert "no arm64 root at" in err and "fetch_arm_root.py" in err and len(err.splitlines()) == 1
    assert not out.exists()
    # A root that uses the host's QEMU (no bundled one), on a machine without qemu-aarch64.
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "root.json").write_text(json.dumps({"qemu_source": "host"}))
    monkeypatch.setenv("FLOWERS_ARM_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no qemu-aarch64 anywhere on it
    assert _cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert "qemu-aarch64 not found" in err and "qemu-user" in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_benchmark_without_root_says_so_in_one_line_and_keeps_the_x86_table(export_dir, tmp_path, monkeypatch,
                                                                            capsys):
    """About 10 s: one LiteRT worker on x86."""
    export = sub_export(export_dir, tmp_path / "export", ["flowers_float32.tflite"])
    monkeypatch.setenv("FLOWERS_ARM_ROOT", str(tmp_path / "no-root"))
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    code = _cli(["benchmark", "--exports", str(export), "--images", "3", "--batch", "2", "--threads", "1",
                 "--no-task-library", "--no-mediapipe"])
    captured = capsys.readouterr()
    assert code == 0
    assert "flowers_float32.tflite" in captured.out and "p50 ms @1" in captured.out
    notes = [line for line in captured.err.splitlines() if "ARM cost not counted" in line]
    assert len(notes) == 1, captured.err
    assert "no arm64 root at" in notes[0] or "qemu-aarch64 not found" in notes[0]
    report = json.loads((export / "benchmark.json").read_text())
    assert report["arm"] is None and all(not e["arm"] for e in report["entries"])


def test_manifest_arm_cost_is_optional_and_round_trips(tmp_path):
    """Milliseconds: a manifest without ARM counts has no arm_cost key (older readers see the same
    JSON); with them, the counts come back as written."""
    from flowers_mobile.formats.manifest import (
        build_manifest,
        describe_artifact,
        read_manifest,
        record_arm_cost,
        write_manifest,
    )

    (tmp_path / "labels.txt").write_text("a\nb\n")
    (tmp_path / "m.tflite").write_bytes(b"model bytes")
    art = describe_artifact(tmp_path, "m.tflite", format="tflite", precision="float32", input_shape=[1, 8, 8, 3],
                            input_dtype="float32", num_labels=2)
    write_manifest(tmp_path, build_manifest(model_name="m", source_model=tmp_path / "m.tflite",
                                            labels_file=tmp_path / "labels.txt", labels=["a", "b"], artifacts=[art]))
    assert "arm_cost" not in json.loads((tmp_path / "manifest.json").read_text())
    counts = {"qemu": "7.2.22", "litert": "2.3.0", "profiles": {"cortex-a76": {"qemu_cpu": "cortex-a76"}},
              "artifacts": {"m.tflite": {"cortex-a76": {"instructions": 123, "ratio_float32": 1.0}}}}
    record_arm_cost(tmp_path, counts)
    assert read_manifest(tmp_path).arm_cost == counts
    assert json.loads((tmp_path / "manifest.json").read_text())["arm_cost"] == counts
