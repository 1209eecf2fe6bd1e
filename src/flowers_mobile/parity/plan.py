"""Which runtime checks which artifact of an export folder, and which files are copies of another.

The rule itself is `variants.plan_runtimes` (one rule for parity, predict and benchmark); this
module applies it to a manifest's artifacts with this machine's runtime availability.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flowers_mobile.formats.manifest import DEFAULT_ARTIFACTS, Artifact
from flowers_mobile.runtimes.base import runtime_available, unavailable_reason
from flowers_mobile.variants import METADATA_RUNTIMES, plan_runtimes

__all__ = ["METADATA_RUNTIMES", "default_runtime", "is_android_default", "plan_runs", "runtime_available", "runtimes_for"]


def is_android_default(artifact: dict[str, Any] | Artifact) -> bool:
    """Whether a manifest artifact (typed or as its JSON dict) is the Android default."""
    if isinstance(artifact, Artifact):
        file, default_for = artifact.file, artifact.default_for
    else:
        file, default_for = artifact["file"], artifact.get("default_for") or []
    return file == DEFAULT_ARTIFACTS["android"] or "android" in default_for


def runtimes_for(artifact: dict[str, Any], overrides: dict[str, str] | None = None) -> list[str]:
    """Runtime names an artifact is checked through (`variants.plan_runtimes`).

    Defaults: .tflite through LiteRT, and the Android default (`flowers.tflite`) also through
    MediaPipe Tasks (the Android app's classifier) and the Task Library; both read labels and
    normalization from the model's metadata; .mlpackage through the native Core ML runtime where
    it is available (macOS with coremltools' binding), the numpy executor elsewhere; SavedModel
    through TF. `overrides` maps an artifact file name or a format to a runtime name (or "a,b").
    """
    forced = None
    if overrides:
        given = overrides.get(artifact["file"]) or overrides.get(artifact["format"])
        if given:
            forced = [name.strip() for name in given.split(",") if name.strip()]
    return plan_runtimes(artifact["format"], available=runtime_available,
                         android_default=is_android_default(artifact), forced=forced,
                         where=f"manifest artifact {artifact['file']!r}")


def default_runtime(path: str | os.PathLike[str]) -> str | None:
    """The runtime `predict` opens a model file with when none is named: the planner's choice for
    its format. None for a missing path (`load_predictor` then says so)."""
    from flowers_mobile.runtimes.base import model_format

    if not Path(path).exists():
        return None
    return plan_runtimes(model_format(path), available=runtime_available, where=str(path))[0]


def plan_runs(artifacts: list[dict[str, Any]], overrides: dict[str, str] | None = None
              ) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """(artifact, runtime) pairs to run, in manifest order, and notes.

    Every artifact runs, including `flowers.tflite`, a copy of the precision `convert` chose as
    the default: it is the file the Android app ships, so its own row shows it through LiteRT
    beside MediaPipe Tasks and the Task Library (one more LiteRT run costs milliseconds). A
    metadata runtime that is not installed here (the Task Library is optional) is skipped with
    a note; a runtime that is installed but cannot run a file gets an `error` row instead.
    """
    plan: list[tuple[dict[str, Any], str]] = []
    notes: list[str] = []
    copies: dict[str, str] = {}
    for art in artifacts:
        if art["sha256"] in copies:
            notes.append(f"{art['file']} has the same bytes as {copies[art['sha256']]}")
        copies.setdefault(art["sha256"], art["file"])
        forced = bool(overrides) and bool(overrides.get(art["file"]) or overrides.get(art["format"]))
        for runtime in runtimes_for(art, overrides):
            reason = None if forced or runtime not in METADATA_RUNTIMES else unavailable_reason(runtime)
            if reason is not None:
                notes.append(f"{art['file']} not run through {runtime}: {reason}")
                continue
            plan.append((art, runtime))
    return plan, notes
