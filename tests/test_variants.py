"""The variant catalogue against the code that writes, validates, chooses and checks each variant,
and the one runtime rule with and without the native Core ML runtime."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from flowers_mobile import variants
from flowers_mobile.commands.common import flag_overrides, run_config
from flowers_mobile.config import Config, ExportConfig, ParityLimits, config_for_run, load_config
from flowers_mobile.errors import UserError
from flowers_mobile.export.choose_default import PREFERENCE
from flowers_mobile.export.convert import effective_config
from flowers_mobile.parity.plan import default_runtime, runtime_available, runtimes_for
from flowers_mobile.runtime_registry import BY_NAME as RUNTIME_SPECS
from flowers_mobile.runtimes.base import load_predictor


def test_every_name_the_config_accepts_has_a_variant_with_a_limits_row():
    rows = {f.name for f in dataclasses.fields(ParityLimits)}
    kinds = {"tflite": "tflite_precisions", "coreml_precision": "coreml_extra_precisions",
             "coreml_compression": "coreml_compression"}
    for kind, key in kinds.items():
        for name in variants.names(kind):
            variant = variants.lookup(kind, name, what=kind)
            assert variant.limits in rows, (name, variant.limits)
            load_config(None, [f"export.{key}={json.dumps([name])}"])  # accepted by validation
        with pytest.raises(UserError, match=f"export.{key} has 'int4'"):
            load_config(None, [f'export.{key}=["int4"]'])
    # No limits row without a variant held to it, and the default package's precision is a variant.
    assert variants.limits_keys() == rows
    literal = typing.get_args(typing.get_type_hints(ExportConfig)["coreml_precision"])
    assert set(literal) == set(variants.names("coreml_precision"))


def test_preference_and_file_names_are_the_exporters_own():
    from flowers_mobile.export.coreml import package_file
    from flowers_mobile.export.tflite import tflite_file_name

    assert PREFERENCE == ("int8", "int8_fallback", "dynamic", "float16", "float32")
    assert set(PREFERENCE) == set(variants.names("tflite"))  # every TFLite precision can be the default
    for v in variants.of_kind("tflite"):
        assert v.file_name() == tflite_file_name(v.precision) == variants.tflite_file(v.precision)
    for default in variants.names("coreml_precision"):
        for v in [*variants.of_kind("coreml_precision"), *variants.of_kind("coreml_compression")]:
            assert v.file_name(default) == package_file(v.precision, default)
    files = [v.file_name() for v in variants.CATALOGUE]
    assert len(set(files)) == len(files)
    assert variants.tflite_precision("fp16") == "float16" and variants.tflite_precision("none") == "float32"


def test_every_variant_runtime_is_registered_for_its_format():
    for v in variants.CATALOGUE:
        assert v.runtimes, v.name
        for runtime in v.runtimes:
            assert v.format in RUNTIME_SPECS[runtime].formats, (v.name, runtime)
    for runtime in variants.METADATA_RUNTIMES:
        assert "tflite" in RUNTIME_SPECS[runtime].formats


@pytest.mark.parametrize("variant", [v.name for v in variants.CATALOGUE])
@pytest.mark.parametrize("native_coreml", [True, False])
def test_planner_answer_per_variant_with_and_without_native_coreml(variant, native_coreml):
    v = variants.BY_NAME[variant]

    def available(name: str) -> bool:
        return native_coreml or name != "coreml"

    expected = {"tflite": ["litert"], "saved_model": ["saved_model"],
                "mlpackage": ["coreml"] if native_coreml else ["coreml_executor"]}[v.format]
    assert variants.plan_runtimes(v.format, available=available) == expected
    as_default = variants.plan_runtimes(v.format, available=available, android_default=True)
    assert as_default == expected + (list(variants.METADATA_RUNTIMES) if v.format == "tflite" else [])
    assert variants.plan_runtimes(v.format, available=available, forced=["x"]) == ["x"]


def test_parity_predict_and_benchmark_take_the_same_runtime_here(tmp_path):
    """On this machine (no native Core ML: Linux, or a Mac without coremltools' binding) an
    .mlpackage goes to the executor for parity and predict alike; predict's loader agrees."""
    from flowers_mobile.benchmark import plan_entries
    from flowers_mobile.formats.manifest import Artifact, LabelsEntry, Manifest

    native = runtime_available("coreml")
    package = tmp_path / "Flowers.mlpackage"
    package.mkdir()
    art = {"file": package.name, "format": "mlpackage", "sha256": "0" * 64, "precision": "float16", "bytes": 1}
    want = "coreml" if native else "coreml_executor"
    assert runtimes_for(art) == [want]
    assert default_runtime(package) == want
    typed = Manifest(model_name="m", labels=LabelsEntry(file="labels.txt", sha256="0" * 64, count=2),
                     artifacts=[Artifact(**art, input_shape=[1, 64, 64, 3], input_dtype="uint8", num_labels=2)])
    assert [e.runtime for e, _ in plan_entries(typed, tmp_path, None)] == [want]
    if not native:  # the native runtime, forced, says why it cannot run here
        with pytest.raises(UserError, match="Core ML"):
            load_predictor(package, "coreml")
    with pytest.raises(UserError, match="has unknown format 'onnx'"):
        runtimes_for({"file": "m.onnx", "format": "onnx"})


def test_flags_are_overrides_and_the_run_config_beside_the_model_wins(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"parity": {"max_images": 7}, "data": {"seed": 5}}))
    monkeypatch.chdir(tmp_path)  # a ./config.json that must lose against the run's own
    (tmp_path / "config.json").write_text(json.dumps({"parity": {"max_images": 9}}))
    assert config_for_run(run / "model.keras").parity.max_images == 7
    assert config_for_run(tmp_path / "elsewhere" / "model.keras").parity.max_images == 9
    given = tmp_path / "given.json"
    given.write_text(json.dumps({"data": {"seed": 11}}))
    assert config_for_run(run / "model.keras", given).data.seed == 11
    cfg = run_config(run / "model.keras", None, ["data.seed=6"],
                     {"export.coreml_compression": ["palette4"], "parity.strict": None})
    assert (cfg.data.seed, cfg.parity.max_images, cfg.export.coreml_compression) == (6, 7, ["palette4"])
    assert cfg.parity.strict is False  # an unset flag overrides nothing
    assert flag_overrides({"export.tflite_precisions": ("int8",)}) == ['export.tflite_precisions=["int8"]']
    with pytest.raises(UserError, match="data.synth_classes"):
        run_config(None, None, None, {"data.synth_classes": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.export.coreml_compression = []  # type: ignore[misc]


def test_python_options_replace_config_keys_and_empty_means_none():
    cfg = Config().with_overrides(['export.coreml_compression=["linear8"]'])
    assert effective_config(cfg).export.coreml_compression == ["linear8"]  # None: the config's
    assert effective_config(cfg, coreml_compression=[]).export.coreml_compression == []  # []: none
    both = effective_config(cfg, precisions=["fp16", "int8,none"], coreml_precision="all")
    assert both.export.tflite_precisions == ["float16", "int8", "float32"]
    assert both.export.coreml_extra_precisions == ["float16", "float32"]
    assert cfg.export.tflite_precisions == ["int8", "float16", "dynamic", "float32"]  # the original is untouched
    with pytest.raises(UserError, match="unknown Core ML compression 'palette3'"):
        effective_config(cfg, coreml_compression=["palette3"])


@pytest.mark.slow
def test_the_manifest_records_the_compression_actually_written(trained_and_exported):
    """The shared export was made with coreml_compression given as an option, not in the config."""
    manifest = json.loads((trained_and_exported[1] / "manifest.json").read_text())
    written = [a["precision"] for a in manifest["artifacts"] if a["format"] == "mlpackage"
               and variants.variant_of("mlpackage", a["precision"]).kind == "coreml_compression"]
    assert written == ["linear8", "palette6", "palette4"]
    assert manifest["export_config"]["coreml_compression"] == written
