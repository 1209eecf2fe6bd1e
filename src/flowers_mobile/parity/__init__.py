"""Parity: does every export answer like the Keras model it came from?

`run_parity` loads held-out images once (the test split, else validation, of a labelled dataset;
or every image of a folder of unlabelled images), runs the Keras model and every artifact in
the export folder's manifest through its runtime, and compares the probabilities image by
image. Each export is held to its variant's row of `config.parity.limits` and gets a verdict:
pass, fail (the sample shows it is worse than a limit) or inconclusive (the sample is too small
to tell; the report says how many images would decide it). docs/parity.md explains the rules.
The report goes to `parity.json` and `parity.md` in the export folder and, in short, into
`manifest.json`.

    stats.py    exact intervals and tests        metrics.py  the figures per export
    verdict.py  limits -> verdicts               plan.py     which runtime checks which file
    data.py     the images parity runs on        run.py      run_parity
    result.py   Check, ExportParity, ParityReport report.py  parity.md and shared texts
"""

from flowers_mobile.parity.data import held_out_images
from flowers_mobile.parity.metrics import TOP_K, WORST_IMAGES, compare
from flowers_mobile.parity.plan import plan_runs, runtimes_for
from flowers_mobile.parity.report import render_markdown
from flowers_mobile.parity.result import VERDICTS, Check, ExportParity, ParityReport
from flowers_mobile.parity.run import PARITY_JSON, PARITY_MD, run_parity, write_report
from flowers_mobile.parity.verdict import judge, limits_for, variant_of

__all__ = [
    "PARITY_JSON", "PARITY_MD", "TOP_K", "VERDICTS", "WORST_IMAGES", "Check", "ExportParity", "ParityReport",
    "compare", "held_out_images", "judge", "limits_for", "plan_runs", "render_markdown", "run_parity",
    "runtimes_for", "variant_of", "write_report",
]
