"""ARM cost of every TFLite file of an export folder, in the shape the manifest and the benchmark keep."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flowers_mobile.armcost.runner import DEFAULT_PROFILES, ArmRoot, measure_files
from flowers_mobile.formats.manifest import Manifest


def count_export(export_dir: str | Path, manifest: Manifest, profiles: Sequence[str] | None = None, *,
                 root: ArmRoot | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """Count each TFLite file once (a copy such as flowers.tflite shares its original's count).

    Returns None when the export has no TFLite file, else what the counts depend on (QEMU, LiteRT,
    Python, numpy versions, the profiles) and "artifacts": file -> profile -> {"instructions": per
    image, "ratio_float32": x the float32 file's count (None without a float32 file)}, plus
    "invokes": file -> profile -> each counted invoke's instructions (their spread is the
    run's repeatability). Raises ArmCostUnavailable / ArmCostError (UserErrors) when it cannot count.
    """
    counted: dict[str, str] = {}  # sha256 -> the file counted for it
    for art in manifest.artifacts:
        if art.format == "tflite":
            counted.setdefault(art.sha256, art.file)
    if not counted:
        return None
    report = measure_files([Path(export_dir) / f for f in counted.values()], profiles or DEFAULT_PROFILES,
                           root=root, progress=progress)
    by_file = report.by_file()
    float32 = next((a.file for a in manifest.artifacts if a.format == "tflite" and a.precision == "float32"), None)
    reference = by_file.get(counted.get(manifest.artifact(float32).sha256, "") if float32 else "", {})
    artifacts: dict[str, dict[str, dict[str, float | None]]] = {}
    invokes: dict[str, dict[str, list[int]]] = {}
    for art in manifest.artifacts:
        if art.format != "tflite":
            continue
        source = counted[art.sha256]
        artifacts[art.file] = {profile: {"instructions": n, "ratio_float32": n / reference[profile]
                                         if reference.get(profile) else None}
                               for profile, n in by_file[source].items()}
        invokes[art.file] = {c.profile: c.per_invoke for c in report.costs if c.file == source}
    env = report.to_dict()
    env.pop("costs")
    return {**env, "artifacts": artifacts, "invokes": invokes}
