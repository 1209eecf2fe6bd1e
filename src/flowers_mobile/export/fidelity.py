"""How closely each export answers like the Keras model, measured while converting, by the judge
`parity` uses (`flowers_mobile.judge`): the same held-out images (validation + test, never the
training split int8 calibrates on), the same Keras reference (the model file with the
normalization in front), the same bounds derived from the model and the same verdicts. So a
verdict `convert` records in the manifest is the one `parity --data D` reaches on that folder.

`FidelitySet` / `measure_probs` are plain point figures for tools that compare candidates on
images of their own (tools/bench_int8.py); they judge nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.judge import ExportParity, Judged, assess, judged, variant_of
from flowers_mobile.judge.figures import top2_margin


@dataclass
class FidelitySet:
    """Images with the float model's answers on them (point figures, no verdict)."""

    images: np.ndarray  # uint8 (N, H, W, 3), raw pixels
    reference: np.ndarray  # float32 (N, C)
    true: np.ndarray | None
    splits: list[str]
    margin: float

    @property
    def confident(self) -> np.ndarray:
        """Mask of the images where the reference's top-2 probability margin exceeds `margin`."""
        return top2_margin(self.reference) > self.margin


def judged_images(model_path: Path, scale: tuple[float, ...] | None, offset: tuple[float, ...] | None,
                  dataset: Any, labels: list[str], input_size: tuple[int, int], cfg: Config) -> Judged | None:
    """The held-out images (`judge.held_out_samples`) and the Keras model's answers on them; None
    without held-out images. The Keras model is loaded from its file as `parity` loads it, and
    takes `x * scale + offset` of the raw pixels (`--normalize`)."""
    from flowers_mobile.images import load_decodable
    from flowers_mobile.judge.heldout import held_out_samples
    from flowers_mobile.keras_file import load_keras_model

    samples, splits = held_out_samples(dataset, cfg.parity.max_images, cfg.data.seed)
    if not samples:
        return None
    index = {name: i for i, name in enumerate(labels)}
    known = all(c in index for c in dataset.classes)
    h, w = input_size
    # An undecodable file is left out: `data check` reports it; it must not stop a conversion.
    images, kept, _ = load_decodable([s.path for s in samples], (w, h))
    if images is None:
        return None
    true = np.array([index[dataset.classes[samples[i].label]] for i in kept], np.int64) if known else None
    return judged(lambda: load_keras_model(model_path), images, true, labels, [samples[i].path for i in kept],
                  splits, scale, offset, model_path=model_path)


def judge_probs(art_file: str, fmt: str, precision: str, runtime: str, probs: np.ndarray | None, held: Judged,
                cfg: Config, ships: bool = False, error: str | None = None) -> ExportParity:
    """One artifact's answers judged as `parity` judges them."""
    result = ExportParity(file=art_file, runtime=runtime, format=fmt, precision=precision,
                          variant=variant_of({"format": fmt, "precision": precision}), images=len(held.images),
                          ships=ships, error=error)
    assess(result, probs, held, cfg.parity, cfg.parity.strict)
    return result


def verdict_record(result: ExportParity) -> dict[str, Any]:
    """What the manifest keeps of convert's verdict on an artifact (compared with parity's)."""
    from flowers_mobile.judge import failed_phrases

    return {"runtime": result.runtime, "verdict": result.verdict, "faithful": result.faithful, "fit": result.fit,
            "ships": result.ships, "images": result.images, "agreement": result.agreement,
            "top1_agreement": result.top1_agreement, "max_abs_diff": result.max_abs_diff,
            "p99_abs_diff": result.p99_abs_diff, "mean_tv": result.mean_tv, "accuracy_change": result.accuracy_change,
            "bounds": result.bounds, "missed": failed_phrases(result)}


def measure_probs(probs: np.ndarray, held: FidelitySet) -> dict[str, Any]:
    """Agreement and probability differences of `probs` (N, C) against Keras on `held`."""
    ref_top1 = held.reference.argmax(axis=1)
    agree = probs.argmax(axis=1) == ref_top1
    confident = held.confident
    diff = np.abs(probs.astype(np.float64) - held.reference.astype(np.float64))
    out: dict[str, Any] = {
        "top1_agreement": float(agree.mean()),
        "confident_agreement": float(agree[confident].mean()) if confident.any() else None,
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }
    if held.true is not None:
        out["accuracy_change"] = float(np.mean(probs.argmax(axis=1) == held.true) - np.mean(ref_top1 == held.true))
    return out


def measure_tflite(path: str | Path, held: Judged, cfg: Config, precision: str) -> ExportParity:
    """Run the .tflite file through LiteRT on the held-out images, as `parity` runs it, and judge it."""
    from flowers_mobile.runtimes.litert import LiteRTPredictor

    with LiteRTPredictor(path) as predictor:
        probs = predictor.predict(held.images)
    return judge_probs(Path(path).name, "tflite", precision, "litert", probs, held, cfg)
