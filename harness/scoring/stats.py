"""Statistics for run metrics and paired system comparisons (numpy + scipy).

    python -m harness report RUN_DIR          # intervals, the pair table and the findings
    python -m harness compare RUN_A RUN_B     # the same tests on the items two runs share

* :func:`wilson_ci`: Wilson score interval of a proportion (every 0/1 rate: accuracy, refusal
  rate, unit error rate, hit@k ...). 0 of 102 gives [0, 0.036], never [0, 0].
* :func:`newcombe_paired_ci`: CI of the difference of two *paired* proportions, Newcombe's
  hybrid score method 10 (Newcombe 1998, Stat. Med. 17:2635): both systems on the same items.
* :func:`mcnemar_exact`: exact McNemar test on paired binary outcomes (binomial test on the
  discordant pairs); ``alternative="less"`` asks whether ``b`` is worse than ``a``.
* :func:`mcnemar_mdd`: the smallest difference the two-sided McNemar test detects with the
  given power at this ``n`` and discordance rate (Connor 1987, Biometrics 43:207).
* :func:`holm`: Holm-Bonferroni step-down adjusted p-values (family-wise error control).
* :func:`bootstrap_ci` / :func:`paired_bootstrap_ci`: percentile bootstrap of a mean or a paired
  mean difference, for numbers that are not 0/1 (key-point coverage, latency, tokens).

Edge cases: empty input gives ``None`` CIs and ``p = 1.0``; no discordant pairs gives ``p = 1.0``
and no detectable difference (``None``); bootstrap CIs of a constant vector collapse to that
constant. Resampling is seeded (default 0), so reports are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

BOOTSTRAP_RESAMPLES = 2000  # resamples per CI; 2000 gives percentile CIs stable to ~0.005
CONFIDENCE = 0.95  # two-sided CI level
ALPHA = 0.05  # two-sided significance level of the paired tests
POWER = 0.8  # power at which the minimum detectable difference is computed


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_list(self) -> list[float]:
        return [round(self.low, 4), round(self.high, 4)]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def wilson_ci(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval | None:
    """Wilson score interval of ``successes / n`` (Wilson 1927), as scipy computes it
    (``binomtest(successes, n).proportion_ci(method="wilson")``). ``None`` when ``n`` is 0.
    0/102 gives [0, 0.0363] and 102/102 gives [0.9637, 1]: an interval that says how little
    a perfect or a zero score on few items shows."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..n ({n}), got {successes}")
    from scipy.stats import binomtest

    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(float(interval.low), float(interval.high))


@dataclass(frozen=True)
class PairedCounts:
    """The 2x2 table of two systems' 0/1 outcomes on the same items."""

    both: int  # both 1
    first_only: int  # first 1, second 0
    second_only: int  # first 0, second 1
    neither: int  # both 0

    @classmethod
    def of(cls, first: Sequence[bool], second: Sequence[bool]) -> PairedCounts:
        if len(first) != len(second):
            raise ValueError(f"paired samples differ in length: {len(first)} vs {len(second)}")
        pairs = list(zip(map(bool, first), map(bool, second)))
        return cls(pairs.count((True, True)), pairs.count((True, False)), pairs.count((False, True)), pairs.count((False, False)))

    @property
    def n(self) -> int:
        return self.both + self.first_only + self.second_only + self.neither

    @property
    def discordant(self) -> int:
        return self.first_only + self.second_only

    @property
    def difference(self) -> float | None:
        """``p(first) - p(second)``."""
        return (self.first_only - self.second_only) / self.n if self.n else None


def newcombe_paired_ci(counts: PairedCounts, confidence: float = CONFIDENCE) -> Interval | None:
    """CI of ``p(first) - p(second)`` for paired proportions: Newcombe's method 10.

    Wilson intervals ``[l1, u1]`` and ``[l2, u2]`` of the two marginal proportions ``p1``, ``p2``
    are combined with the correlation of the pairs::

        low  = d - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
        high = d + sqrt((p2 - l2)^2 - 2 phi (p2 - l2)(u1 - p1) + (u1 - p1)^2)

    with ``d = p1 - p2`` and ``phi = C / sqrt((a+b)(c+d)(a+c)(b+d))`` for the table
    ``a`` both, ``b`` first only, ``c`` second only, ``d`` neither, where ``C = ad - bc - n/2``
    when ``ad - bc > n/2``, ``0`` when ``0 <= ad - bc <= n/2`` and ``ad - bc`` when negative
    (Newcombe's continuity correction of phi); ``phi = 0`` when a margin is empty. Newcombe's
    examples: (36, 12, 2, 0) gives [0.0569, 0.3404], (18, 12, 2, 18) gives [0.0562, 0.3290].
    ``None`` for an empty table."""
    n = counts.n
    if n == 0:
        return None
    a, b, c, d = counts.both, counts.first_only, counts.second_only, counts.neither
    p1, p2 = (a + b) / n, (a + c) / n
    first, second = wilson_ci(a + b, n, confidence), wilson_ci(a + c, n, confidence)
    if first is None or second is None:
        return None
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    corrected = cross - n / 2 if cross > n / 2 else (0.0 if cross >= 0 else float(cross))
    phi = corrected / math.sqrt(margins) if margins else 0.0
    below = (p1 - first.low) ** 2 - 2 * phi * (p1 - first.low) * (second.high - p2) + (second.high - p2) ** 2
    above = (p2 - second.low) ** 2 - 2 * phi * (p2 - second.low) * (first.high - p1) + (first.high - p1) ** 2
    diff = p1 - p2
    return Interval(max(-1.0, diff - math.sqrt(max(below, 0.0))), min(1.0, diff + math.sqrt(max(above, 0.0))))


def mcnemar_mdd(n: int, discordance: float, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest difference of paired proportions ``delta`` that the two-sided McNemar test at
    level ``alpha`` detects with probability ``power`` on ``n`` items whose discordance rate
    (fraction of items on which the two systems disagree) is ``discordance``.

    Solves Connor's sample-size formula (Connor 1987, Biometrics 43:207) for ``delta``::

        n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - delta^2))^2 / delta^2

    with ``psi = discordance``; the root lies in ``(0, sqrt(psi)]``. A result above ``psi``
    means no difference this discordant could be detected. ``None`` when nothing is
    discordant (the systems agree on every item) or ``n`` is too small to reach ``alpha``."""
    if n <= 0 or discordance <= 0:
        return None
    from scipy.optimize import brentq
    from scipy.stats import norm

    z_alpha, z_power = float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))
    psi = min(float(discordance), 1.0)

    def excess(delta: float) -> float:
        return delta * math.sqrt(n) - z_alpha * math.sqrt(psi) - z_power * math.sqrt(max(psi - delta * delta, 0.0))

    top = math.sqrt(psi)
    if excess(top) < 0:
        return None
    return float(brentq(excess, 0.0, top, xtol=1e-10))


def bootstrap_ci(values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0) -> Interval | None:
    import numpy as np

    if not values:
        return None
    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    return Interval(float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> Interval | None:
    """CI of ``mean(b) - mean(a)`` over paired items (``a[i]`` and ``b[i]`` are the same item)."""
    import numpy as np

    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    if not a:
        return None
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    return Interval(float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


@dataclass(frozen=True)
class McNemar:
    a_only: int  # pairs where a is 1 and b is 0
    b_only: int  # pairs where b is 1 and a is 0
    p_value: float


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool], alternative: str = "two-sided") -> McNemar:
    """Exact McNemar test. ``alternative``: ``two-sided``, ``less`` (b has fewer 1s than a) or
    ``greater`` (b has more 1s than a)."""
    from scipy.stats import binomtest

    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative must be two-sided, less or greater, got {alternative!r}")
    a_only = sum(1 for x, y in zip(a, b) if x and not y)
    b_only = sum(1 for x, y in zip(a, b) if y and not x)
    n = a_only + b_only
    if n == 0:
        return McNemar(a_only, b_only, 1.0)
    # b_only ~ Binomial(n, 0.5) under H0; "less" = b_only unusually small
    return McNemar(a_only, b_only, float(binomtest(b_only, n, 0.5, alternative=alternative).pvalue))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (monotone, capped at 1)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
