"""How closely each Core ML package answers like the Keras model, measured while converting.

The same held-out images as the TFLite choice (`fidelity`: validation and test splits, never the
training split), run through Core ML on macOS and through the numpy ML Program executor
elsewhere. Each package is held to its parity limits (`parity.limits_for`: float16 must agree
and stay close; linear8 / palette6 / palette4 have limits of their own). `Flowers.mlpackage`
stays the app's package; the smallest compressed variant that meets its limits is *offered*
(named in the manifest and the convert table), and none is offered when none meets them, so a
compressed package is never suggested on faith.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flowers_mobile.config import Config
from flowers_mobile.export.manifest import Artifact


def missed_limits(precision: str, figures: dict[str, Any], cfg: Config) -> list[str]:
    """The parity limits of `precision` that `figures` miss, one phrase each."""
    from flowers_mobile.parity import limits_for

    out = []
    for metric, op, limit in limits_for(precision, cfg.parity):
        if metric == "accuracy_drop":
            if figures.get("accuracy_change") is None:
                continue
            value = -figures["accuracy_change"]
        else:
            value = figures[metric]
        ok = value >= limit - 1e-12 if op == ">=" else value <= limit + 1e-12
        if not ok:
            out.append(f"{metric} {value:.4g} {'<' if op == '>=' else '>'} {limit:.4g}")
    return out


def measure_packages(packages: list[Artifact], export_dir: Path, model: Any, dataset: Any, labels: list[str],
                     input_size: tuple[int, int], cfg: Config) -> dict[str, Any] | None:
    """Measure every package on the held-out images; the figures go into each artifact's
    `extra["fidelity"]`, the summary into the default package's `extra["default_choice"]`.
    None (and nothing measured) without held-out images."""
    from flowers_mobile.export import fidelity
    from flowers_mobile.runtimes.base import load_predictor

    held = fidelity.fidelity_set(model, dataset, labels, input_size, cfg.parity.max_images, cfg.data.seed,
                                 cfg.parity.confident_margin)
    if held is None or not packages:
        return None
    runtime = "coreml" if sys.platform == "darwin" else "coreml_executor"
    for art in packages:
        with load_predictor(Path(export_dir) / art.file, runtime) as predictor:
            figures = fidelity.measure_probs(predictor.predict(held.images), held)
        missed = missed_limits(art.precision, figures, cfg)
        art.extra["fidelity"] = {**figures, "runtime": runtime, "missed": missed, "meets_limits": not missed}
    default = next(a for a in packages if "ios" in a.default_for)
    passing = [a for a in packages if a is not default and a.extra["fidelity"]["meets_limits"]
               and a.bytes < default.bytes]
    offered = min(passing, key=lambda a: a.bytes) if passing else None
    if offered is not None:
        reason = (f"{offered.file} ({offered.precision}, {offered.bytes / default.bytes:.2f}x the size) meets its "
                  "limits and is offered; ship it by copying it over Flowers.mlpackage")
    else:
        rejected = [f"{a.precision} ({'; '.join(a.extra['fidelity']['missed'])})" for a in packages
                    if a is not default]
        reason = "no compressed variant meets its limits" + (f": {', '.join(rejected)}" if rejected else
                                                              " (none was exported)")
    summary = {"package": default.file, "precision": default.precision,
               "meets_limits": default.extra["fidelity"]["meets_limits"], "missed": default.extra["fidelity"]["missed"],
               "offered": None if offered is None else offered.file, "reason": reason, **held.describe()}
    default.extra["default_choice"] = summary
    return summary
