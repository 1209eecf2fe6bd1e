"""`convert`'s TFLite target: every precision with metadata, int8 calibrated in a second process
while the other targets run, and `flowers.tflite`, the default chosen by measured fidelity."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from flowers_mobile import variants
from flowers_mobile.config import Config
from flowers_mobile.export.choose_default import measure_and_choose
from flowers_mobile.export.fidelity import verdict_record
from flowers_mobile.export.job import Job
from flowers_mobile.export.steps import Steps
from flowers_mobile.export.tflite import DEFAULT_TFLITE
from flowers_mobile.formats.manifest import DEFAULT_ARTIFACTS, Artifact, describe_artifact
from flowers_mobile.fsutil import atomic_write_bytes
from flowers_mobile.judge import limits_for, settle


class TFLiteWork:
    """The TFLite target in two halves, so that other targets run between them while int8
    calibrates in the `background` process: `convert_here()` traces the model, hands int8 to the
    background process (its result is a future) and converts the other precisions here;
    `finish()` collects int8, writes every file with metadata and makes `flowers.tflite` (the
    `forced` precision, else the one `choose_default` picks on the dataset's held-out images)."""

    def __init__(self, job: Job, model: Any, info: Any, representative: Any, tmp: Path, steps: Steps,
                 background: Any | None) -> None:
        self.job, self.model, self.info, self.representative = job, model, info, representative
        self.tmp, self.steps, self.background = tmp, steps, background
        self.scratch = tmp / ".work"  # inside the temp export: removed with it whatever happens
        self.flatbuffers: dict[str, bytes] = {}
        self.function: Any = None
        self._int8_handle: Any = None

    def convert_here(self) -> None:
        from flowers_mobile.export import tflite

        with self.steps.step("trace and freeze the model"):
            self.function = tflite.frozen_function(self.model, self.info.input_size)
        if self.background is not None:
            self.background.submit(self.function, "int8", self.representative, self.scratch)
            self._int8_handle = self.steps.start(
                f"int8: calibrate on {len(self.representative)} images (second process)")
        for precision in self.job.precisions:
            if precision == "int8" and self.background is not None:
                continue
            with self.steps.step(f"TFLite {precision}"):
                self.flatbuffers[precision] = tflite.convert_tflite(self.function, precision, self.representative)

    def finish(self) -> list[Artifact]:
        job, tmp, steps, cfg = self.job, self.tmp, self.steps, self.job.cfg
        try:
            if self.background is not None:
                self.flatbuffers["int8"] = self.background.result()
                steps.finish(self._int8_handle)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
        artifacts: dict[str, Artifact] = {}
        with steps.step("TFLite metadata (written and read back)"):
            for precision in job.precisions:
                artifacts[precision] = _write_tflite(tmp, precision, self.flatbuffers[precision], job.labels, cfg,
                                                     self.representative)
        fallback = self._fallback(artifacts) if cfg.export.int8_fallback_budget > 0 \
            and self.representative is not None else None
        with steps.step("TFLite fidelity on held-out images, default choice"):
            choice, results = measure_and_choose(tmp, job.precisions, job.held, cfg, job.forced, fallback)
        for precision, result in results.items():  # every judged artifact carries its own verdict
            artifacts[precision].extra["fidelity"] = verdict_record(result)
        default = choice.precision
        shutil.copyfile(tmp / variants.tflite_file(default), tmp / DEFAULT_TFLITE)
        first = _tflite_artifact(tmp, DEFAULT_TFLITE, default, (tmp / DEFAULT_TFLITE).read_bytes(), job.labels,
                                 self.representative)
        first.default_for = [p for p, f in DEFAULT_ARTIFACTS.items() if f == DEFAULT_TFLITE]
        shipped = None
        if default in results:  # the same figures, judged as the file that ships
            shipped = replace(results[default], file=DEFAULT_TFLITE, ships=True, checks=list(results[default].checks))
            settle(shipped, cfg.parity.strict)
        first.extra.update(copy_of=variants.tflite_file(default), default_choice=choice.to_dict(),
                           fidelity=None if shipped is None else verdict_record(shipped))
        return [first, *artifacts.values()]

    def _fallback(self, artifacts: dict[str, Artifact]) -> Any:
        """int8 with float fallback, written when plain int8 misses the limits (`measure_and_choose` calls it)."""
        cfg = self.job.cfg

        def run() -> None:
            from flowers_mobile.export.int8_fallback import convert_with_fallback

            with self.steps.step("int8 with float fallback for its most sensitive layers"):
                result = convert_with_fallback(self.function, self.representative,
                                               limits_for("int8_fallback", cfg.parity),
                                               budget=cfg.export.int8_fallback_budget)
                art = _write_tflite(self.tmp, "int8_fallback", result.flatbuffer, self.job.labels, cfg,
                                    self.representative)
            art.extra["fallback"] = {"float_layers": result.float_layers, "plain_int8_bytes": result.plain_bytes,
                                     "budget": cfg.export.int8_fallback_budget, "steps": result.steps}
            artifacts["int8_fallback"] = art

        return run


def _write_tflite(tmp: Path, precision: str, flatbuffer: bytes, labels: list[str], cfg: Config,
                  representative: Any) -> Artifact:
    """`flowers_<precision>.tflite` with metadata (checked by reading it back), and its Artifact."""
    from flowers_mobile.export.metadata import add_metadata, verify_metadata

    data = add_metadata(flatbuffer, labels, cfg.export, precision=precision)
    verify_metadata(data, labels, cfg.export)
    name = variants.tflite_file(precision)
    atomic_write_bytes(tmp / name, data)
    return _tflite_artifact(tmp, name, precision, data, labels, representative)


def _tflite_artifact(tmp: Path, name: str, precision: str, data: bytes, labels: list[str],
                     representative: Any) -> Artifact:
    from flowers_mobile.export.tflite import tensor_facts

    facts = tensor_facts(data)
    extra: dict[str, Any] = {"metadata": True, "output_shape": facts["output_shape"]}
    if precision in ("int8", "int8_fallback"):
        extra["representative_images"] = len(representative)
    return describe_artifact(
        tmp, name, format="tflite", precision=precision, input_shape=facts["input_shape"],
        input_dtype=facts["input_dtype"], num_labels=len(labels), input_quantization=facts["input_quantization"],
        output_dtype=facts["output_dtype"], output_quantization=facts["output_quantization"], extra=extra)
