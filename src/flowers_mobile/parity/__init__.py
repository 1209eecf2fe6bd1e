"""Parity: does every export answer like the Keras model it came from?

`run_parity` loads held-out images once (the validation and test splits of a labelled dataset;
or every image of a folder of unlabelled images), runs the Keras model and every artifact in
the export folder's manifest through its runtime, and compares the probabilities image by
image. The judging is `flowers_mobile.judge`'s, shared with `convert`: each artifact is faithful
or not (within its precision's own rounding of this model, bounds derived from the model) and
fit to ship or not (the quality bar of `config.parity.limits`); a runtime that cannot run one
artifact gives that run an `error` verdict and the others are still judged. docs/parity.md
explains the rules.
The report goes to `parity.json` and `parity.md` in the export folder and, in short, into
`manifest.json`.

    plan.py     which runtime checks which file  data.py    the images parity runs on
    run.py      run_parity                       result.py  ParityReport
    report.py   parity.md and shared texts
"""

from flowers_mobile.judge import Check, ExportParity, judge, limits_for, variant_of
from flowers_mobile.judge.figures import TOP_K, WORST_IMAGES, compare
from flowers_mobile.judge.result import VERDICTS
from flowers_mobile.parity.data import held_out_images
from flowers_mobile.parity.plan import plan_runs, runtimes_for
from flowers_mobile.parity.report import render_markdown
from flowers_mobile.parity.result import ParityReport
from flowers_mobile.parity.run import PARITY_JSON, PARITY_MD, run_parity, write_report

__all__ = [
    "PARITY_JSON", "PARITY_MD", "TOP_K", "VERDICTS", "WORST_IMAGES", "Check", "ExportParity", "ParityReport",
    "compare", "held_out_images", "judge", "limits_for", "plan_runs", "render_markdown", "run_parity",
    "runtimes_for", "variant_of", "write_report",
]
