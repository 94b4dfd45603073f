"""Statistics for run metrics and paired system comparisons (numpy + scipy).

    python -m harness compare RUN_A RUN_B     # uses these tests on the shared items

* :func:`bootstrap_ci`: percentile bootstrap CI of a mean (items resampled with replacement).
* :func:`paired_bootstrap_ci`: CI of ``mean(b) - mean(a)`` resampling item *pairs*, so the
  per-item correlation between two systems is kept.
* :func:`mcnemar_exact`: exact McNemar test on paired binary outcomes (binomial test on the
  discordant pairs); ``alternative="less"`` asks whether ``b`` is worse than ``a``.
* :func:`holm`: Holm-Bonferroni step-down adjusted p-values (family-wise error control).

Edge cases: empty input gives ``None`` CIs and ``p = 1.0``; no discordant pairs gives ``p = 1.0``;
CIs of a constant vector collapse to that constant. Resampling is seeded (default 0), so reports
are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

BOOTSTRAP_RESAMPLES = 2000  # resamples per CI; 2000 gives percentile CIs stable to ~0.005
CONFIDENCE = 0.95  # two-sided CI level


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_list(self) -> list[float]:
        return [round(self.low, 4), round(self.high, 4)]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


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
