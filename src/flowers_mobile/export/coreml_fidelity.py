"""How closely each Core ML package answers like the Keras model, measured while converting.

The same held-out images as the TFLite choice (`fidelity`: validation and test splits, never the
training split), run through Core ML on macOS and through the numpy ML Program executor
elsewhere. Each package is held to its row of `parity.limits` by parity's own rules (intervals,
near-ties apart), and must pass every check to count as meeting them. `Flowers.mlpackage`
stays the app's package; the smallest compressed variant that meets its limits is *offered*
(named in the manifest and the convert table), and none is offered when none meets them, so a
compressed package is never suggested on faith.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.formats.manifest import Artifact


def missed_limits(art: Artifact, probs: np.ndarray, held: Any, labels: list[str], cfg: Config) -> list[str]:
    """The parity limits of `art`'s variant that its answers on `held` do not certify, one phrase
    each. The same rules as `flowers-mobile parity` (its row of `parity.limits`, intervals and
    near-ties): a check that fails or is inconclusive on this sample is named, so a package is
    offered only on evidence."""
    from flowers_mobile.parity.metrics import compare
    from flowers_mobile.parity.result import ExportParity
    from flowers_mobile.parity.verdict import judge, limits_for, variant_of

    variant = variant_of({"format": art.format, "precision": art.precision})
    limits = limits_for(variant, cfg.parity)
    result = ExportParity(file=art.file, runtime="", format=art.format, precision=art.precision,
                          variant=variant, images=len(probs))
    names = [Path(f"image_{i}") for i in range(len(probs))]
    for key, value in compare(held.reference, probs, held.true, labels, names,
                              near_tie_margin=limits.near_tie_margin).items():
        setattr(result, key, value)
    judge(result, limits, held.true is not None, strict=True)
    return [f"{c.metric} {c.verdict} ({c.value:.4g} {c.op} {c.limit:.4g})" if isinstance(c.value, float)
            else f"{c.metric} {c.verdict}" for c in result.checks if c.verdict != "pass"]


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
            probs = predictor.predict(held.images)
        figures = fidelity.measure_probs(probs, held)
        missed = missed_limits(art, probs, held, labels, cfg)
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
