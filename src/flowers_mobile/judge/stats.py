"""Exact small-sample statistics behind the parity verdicts.

Parity judges a few hundred images at most, often fewer than a hundred, and the rates it
judges sit near 0 or 1 (agreement near 100%, flips near 0%). Normal approximations are wrong
there, so everything here is exact: binomial tails summed in log space, Clopper-Pearson
intervals (the binomial tail inverted, so their coverage is at least the stated confidence for
every n and rate), the exact McNemar test, and an exact (conservative) interval for a paired
accuracy change. Plain numpy: these are a few dozen lines, and SciPy would be a large dependency for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

#: Confidence of every interval parity reports (two-sided).
CONFIDENCE = 0.95
#: "How many images would decide it" is searched up to this many images.
MAX_IMAGES_TO_DECIDE = 100_000


@lru_cache(maxsize=8)
def _log_factorials(n: int) -> np.ndarray:
    """log(i!) for i = 0..n."""
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def _log_pmf(n: int, p: float, start: int, stop: int) -> np.ndarray:
    """log P(X = i) for i in [start, stop), X ~ Binomial(n, p), 0 < p < 1."""
    lf = _log_factorials(n)
    i = np.arange(start, stop)
    return lf[n] - lf[i] - lf[n - i] + i * math.log(p) + (n - i) * math.log1p(-p)


def _tail(n: int, p: float, start: int, stop: int) -> float:
    """P(start <= X < stop), summed in log space over just those terms."""
    values = _log_pmf(n, p, start, stop)
    top = float(values.max())
    return min(1.0, math.exp(top + math.log(float(np.exp(values - top).sum()))))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p); sums the shorter side (rates near 0 or 1 stay cheap)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return _tail(n, p, 0, k + 1) if k < n // 2 else 1.0 - _tail(n, p, k + 1, n + 1)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0 or p >= 1.0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    return _tail(n, p, k, n + 1) if k > n // 2 else 1.0 - _tail(n, p, 0, k)


def _bisect_increasing(f: Callable[[float], float], tol: float = 1e-8) -> float:
    """The p in [0, 1] where the increasing function f crosses 0."""
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@lru_cache(maxsize=4096)
def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact two-sided interval for a binomial rate from k successes in n trials.

    The lower bound is the rate at which seeing k or more has probability (1 - confidence) / 2,
    the upper bound the rate at which seeing k or fewer has it. With n = 0 nothing is known: (0, 1).
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    tail = (1.0 - confidence) / 2.0
    # Closed forms at the edges (and the bisection's hardest cases).
    lo = 0.0 if k == 0 else tail ** (1.0 / n) if k == n else _bisect_increasing(lambda p: binom_sf(k, n, p) - tail)
    hi = 1.0 if k == n else 1.0 - tail ** (1.0 / n) if k == 0 else _bisect_increasing(
        lambda p: tail - binom_cdf(k, n, p))
    return lo, hi


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: are b and c (the two kinds of discordant pairs) unequal?

    Under "no change" each discordant pair is either kind with probability 1/2; the p-value is
    twice the smaller binomial tail, capped at 1. No discordant pair at all: 1.
    """
    m = b + c
    if m == 0:
        return 1.0
    return min(1.0, 2.0 * min(binom_cdf(b, m, 0.5), binom_sf(b, m, 0.5)))


def paired_change_interval(b: int, c: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval for the accuracy drop from paired counts on n images.

    b: images the reference gets right and the other gets wrong; c: the reverse. The drop is
    p_b - p_c = q (2 pi - 1), with q the rate of discordant images (b + c of n) and pi the share
    of losses among them (b of b + c: the binomial of the exact McNemar test). Each gets a
    Clopper-Pearson interval at confidence 1 - alpha/2 (pi's conditional on b + c, which holds
    for every b + c), and the drop's bounds are the corners: by Bonferroni the interval covers
    the drop with at least `confidence`, for any n, without a normal approximation. With no
    discordant image the drop is still only known to within q's upper bound.
    """
    if n <= 0:
        return -1.0, 1.0
    inner = 1.0 - (1.0 - confidence) / 2.0
    q_lo, q_hi = clopper_pearson(b + c, n, inner)
    pi_lo, pi_hi = clopper_pearson(b, b + c, inner)
    lo, hi = 2.0 * pi_lo - 1.0, 2.0 * pi_hi - 1.0
    return (q_hi * lo if lo < 0 else q_lo * lo), (q_hi * hi if hi > 0 else q_lo * hi)


def robust_percentile(values: np.ndarray, q: float = 0.99) -> float:
    """The q-quantile by the 'lower' rule: a value of the sample, and never its maximum when n > 1.

    With fewer than 1 / (1 - q) values a plain percentile is the maximum, which one image
    decides; the lower rule always leaves at least the largest value out.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return float("nan")
    if values.size == 1:
        return float(values[0])
    index = min(int(math.floor(q * (values.size - 1))), values.size - 2)
    return float(np.partition(values, index)[index])


def decide_at_least(interval: tuple[float, float], limit: float) -> str:
    """Verdict on "the rate is at least `limit`": pass when the whole interval is at or above it,
    fail when the whole interval is below it, inconclusive when it straddles the limit."""
    lo, hi = interval
    if hi < limit:
        return "fail"
    return "pass" if lo >= limit else "inconclusive"


def decide_at_most(interval: tuple[float, float], limit: float) -> str:
    """Verdict on "the value is at most `limit`" (the mirror of `decide_at_least`)."""
    lo, hi = interval
    if lo > limit:
        return "fail"
    return "pass" if hi <= limit else "inconclusive"


def images_to_decide(decide: Callable[[int], str], n: int, cap: int = MAX_IMAGES_TO_DECIDE) -> int | None:
    """The smallest N > n at which `decide(N)` is no longer "inconclusive" (None: not within `cap`).

    `decide(N)` judges N images at the rates seen on the n at hand. Doubling finds a deciding
    size, bisection the smallest one (the verdict settles monotonically as N grows, up to the
    rounding of counts: the answer is an estimate, and says so where it is shown).
    """
    lo, hi = max(n, 1), max(n, 1) * 2
    while decide(hi) == "inconclusive":
        if hi >= cap:
            return None
        lo, hi = hi, min(hi * 2, cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if decide(mid) == "inconclusive":
            lo = mid
        else:
            hi = mid
    return hi


def agreement_sizer(agree: int, n: int, limit: float, confidence: float = CONFIDENCE) -> Callable[[int], str]:
    """decide(N) for an agreement of agree/n held at that rate over N images."""
    rate = agree / n if n else 1.0

    def decide(size: int) -> str:
        k = min(size, int(round(rate * size)))
        return decide_at_least(clopper_pearson(k, size, confidence), limit)

    return decide


def drop_sizer(b: int, c: int, n: int, limit: float, confidence: float = CONFIDENCE) -> Callable[[int], str]:
    """decide(N) for paired counts b, c on n images held at those rates over N images."""

    def decide(size: int) -> str:
        scale = size / n if n else 0.0
        return decide_at_most(paired_change_interval(int(round(b * scale)), int(round(c * scale)), size,
                                                     confidence), limit)

    return decide
