"""How closely each Core ML package answers like the Keras model, measured while converting.

The judge `parity` uses (`flowers_mobile.judge`): the same held-out images, the same Keras
reference and bounds derived from the model, the same verdicts, each package through the runtime
`parity` would pick here (the native Core ML runtime where it is available, else the numpy
executor; the runtime registry says which). `Flowers.mlpackage` stays the app's package; the
smallest compressed variant the judge finds faithful and fit to ship is *offered* (named in the
manifest and the convert table), and none is offered when none is, so a compressed package is
never suggested on faith: an inconclusive bar is not a pass. A package the runtime cannot run
gets an `error` verdict with its reason, and is not offered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowers_mobile.config import Config
from flowers_mobile.formats.manifest import Artifact


def measure_packages(packages: list[Artifact], export_dir: Path, held: Any, cfg: Config) -> dict[str, Any] | None:
    """Judge every package on `held` (`fidelity.judged_images`); each artifact's verdict goes into
    its `extra["fidelity"]`, the summary into the default package's `extra["default_choice"]`.
    None (and nothing measured) without held-out images."""
    from flowers_mobile.export.fidelity import judge_probs, verdict_record
    from flowers_mobile.runtimes.base import load_predictor, runtime_available
    from flowers_mobile.variants import plan_runtimes

    if held is None or not packages:
        return None
    runtime = plan_runtimes("mlpackage", available=runtime_available)[0]  # the one parity would pick here
    for art in packages:
        probs, error = None, None
        try:
            with load_predictor(Path(export_dir) / art.file, runtime) as predictor:
                probs = predictor.predict(held.images)
        except Exception as exc:  # this runtime cannot run this package: an error verdict, not a crash
            error = f"{runtime} could not run it: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        result = judge_probs(art.file, art.format, art.precision, runtime, probs, held, cfg,
                             ships=bool(art.default_for), error=error)
        art.extra["fidelity"] = verdict_record(result)
    default = next(a for a in packages if "ios" in a.default_for)
    passing = [a for a in packages if a is not default and _shippable(a) and a.bytes < default.bytes]
    offered = min(passing, key=lambda a: a.bytes) if passing else None
    if offered is not None:
        reason = (f"{offered.file} ({offered.precision}, {offered.bytes / default.bytes:.2f}x the size) is faithful "
                  "and fit to ship, and is offered; ship it by copying it over Flowers.mlpackage")
    else:
        rejected = [f"{a.precision} ({'; '.join(a.extra['fidelity']['missed']) or a.extra['fidelity']['verdict']})"
                    for a in packages if a is not default]
        reason = "no compressed variant is faithful and fit to ship" + (
            f": {', '.join(rejected)}" if rejected else " (none was exported)")
    mine = default.extra["fidelity"]
    summary = {"package": default.file, "precision": default.precision, "verdict": mine["verdict"],
               "meets_limits": mine["verdict"] == "pass", "missed": mine["missed"],
               "offered": None if offered is None else offered.file, "reason": reason, **held.describe()}
    default.extra["default_choice"] = summary
    return summary


def _shippable(art: Artifact) -> bool:
    """Faithful and fit to ship, both decided (as the file that would ship)."""
    f = art.extra["fidelity"]
    return f["faithful"] == "pass" and f["fit"] in ("pass", None)
