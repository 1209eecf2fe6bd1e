"""The short texts of one check (a value, its interval, its limit and verdict), shared by the
result's summaries (`result.py`) and parity.md (`report.py`), below both."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowers_mobile.judge.result import Check


def fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e-2 and v != 0 else f"{v:.4f}"
    return str(v)


def pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def interval_text(interval: list[float] | None, points: bool = False) -> str:
    """[lo, hi] as percentages (agreement) or signed points (accuracy drop)."""
    if interval is None:
        return "n/a"
    if points:
        return f"[{100 * interval[0]:+.1f}, {100 * interval[1]:+.1f}] pt"
    return f"[{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]%"


def check_line(c: Check) -> str:
    """'agreement 97.80% [92.3, 99.7]% (limit >= 0.9800): inconclusive, about 420 images would decide it'."""
    if c.metric == "agreement" and c.interval is not None:
        value = f"{pct(c.value)} {interval_text(c.interval)}" if c.value is not None else "n/a"
    elif c.metric == "accuracy_drop" and c.interval is not None:
        value = f"{100 * c.value:.2f} pt {interval_text(c.interval, points=True)}"
    else:
        value = fmt_value(c.value)
    text = f"{c.metric} {value} (limit {c.op} {fmt_value(c.limit)}): {c.verdict}"
    if c.verdict == "inconclusive":
        text += f", about {c.images_to_decide} images would decide it" if c.images_to_decide else ""
    return text + (f" [{c.note}]" if c.note else "")
