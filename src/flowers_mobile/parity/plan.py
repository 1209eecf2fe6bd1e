"""Which runtime checks which artifact of an export folder, and which files are copies of another."""

from __future__ import annotations

import sys
from typing import Any

from flowers_mobile.errors import UserError
from flowers_mobile.formats.manifest import DEFAULT_ARTIFACTS

#: Runtimes that read a .tflite's metadata (labels, normalization), as the apps do: their
#: categories must carry the export's label names and their top-1 must be LiteRT's.
METADATA_RUNTIMES = ("task_library", "mediapipe")


def runtimes_for(artifact: dict[str, Any], overrides: dict[str, str] | None = None) -> list[str]:
    """Runtime names an artifact is checked through.

    Defaults: .tflite through LiteRT, and the Android default (`flowers.tflite`) also through
    MediaPipe Tasks (the Android app's classifier) and the Task Library; both read labels and
    normalization from the model's metadata;
    .mlpackage through Core ML on macOS, the numpy executor elsewhere; SavedModel through TF.
    `overrides` maps an artifact file name or a format to a runtime name (or "a,b" for several).
    """
    if overrides:
        forced = overrides.get(artifact["file"]) or overrides.get(artifact["format"])
        if forced:
            return [name.strip() for name in forced.split(",") if name.strip()]
    fmt = artifact["format"]
    if fmt == "tflite":
        names = ["litert"]
        if artifact["file"] == DEFAULT_ARTIFACTS["android"] or "android" in (artifact.get("default_for") or []):
            names += list(METADATA_RUNTIMES)
        return names
    if fmt == "mlpackage":
        return ["coreml" if sys.platform == "darwin" else "coreml_executor"]
    if fmt == "saved_model":
        return ["saved_model"]
    raise UserError(f"manifest artifact {artifact['file']!r} has unknown format {fmt!r}",
                    hint="expected tflite, mlpackage or saved_model")


def plan_runs(artifacts: list[dict[str, Any]], overrides: dict[str, str] | None = None
              ) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """(artifact, runtime) pairs to run, in manifest order, and notes.

    Every artifact runs, including `flowers.tflite`, a copy of the precision `convert` chose as
    the default: it is the file the Android app ships, so its own row shows it through LiteRT
    beside MediaPipe Tasks and the Task Library (one more LiteRT run costs milliseconds).
    """
    plan: list[tuple[dict[str, Any], str]] = []
    notes: list[str] = []
    copies: dict[str, str] = {}
    for art in artifacts:
        if art["sha256"] in copies:
            notes.append(f"{art['file']} has the same bytes as {copies[art['sha256']]}")
        copies.setdefault(art["sha256"], art["file"])
        plan += [(art, runtime) for runtime in runtimes_for(art, overrides)]
    return plan, notes
