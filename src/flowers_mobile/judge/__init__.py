"""The judge: what `convert` and `parity` both ask of an artifact, answered in one place.

    heldout.py    the held-out images (validation + test), defined once
    figures.py    an artifact's figures against Keras (agreement, |Δp|, TV, near-ties, accuracy)
    reference.py  faithfulness bounds derived from the model: its precision's rounding applied
                  to the Keras model itself, on the judged images
    stats.py      exact intervals and tests          verdict.py  figures + limits -> verdicts
    result.py     Check and ExportParity (plain data) assess.py   the entry points

Every artifact gets two answers: *faithful* (a conversion without defect, within its precision's
own rounding of this model) and *fit to ship* (its agreement meets the quality bar of
`parity.limits`). It sits below `export/` and `parity/` and imports neither.
"""

from flowers_mobile.judge.assess import Judged, assess, failed_phrases, judged
from flowers_mobile.judge.heldout import HELD_OUT_SPLITS, held_out_samples
from flowers_mobile.judge.result import VERDICTS, Check, ExportParity, combine, passes
from flowers_mobile.judge.verdict import answer_text, judge, limits_for, settle, variant_of

__all__ = ["HELD_OUT_SPLITS", "VERDICTS", "Check", "ExportParity", "Judged", "answer_text", "assess", "combine",
           "failed_phrases", "held_out_samples", "judge", "judged", "limits_for", "passes", "settle", "variant_of"]
