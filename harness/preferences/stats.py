"""Statistics for pairwise preferences, as pure functions: Wilson intervals, Bradley-Terry
strengths (batched, for bootstrap resamples), Cohen's and Fleiss' kappa.

    python -m harness preferences RUN_DIR    # uses all of these on a run's votes

Edge cases: an interval on zero trials is (0, 1); a kappa whose chance agreement is 1 (every vote
in one category) is undefined and returned as None; Bradley-Terry adds ``pseudo_ties`` virtual
ties between every pair so a system that never wins keeps a finite score.
"""

from __future__ import annotations

from collections import Counter
from typing import Hashable, Sequence

import numpy as np

CONFIDENCE = 0.95  # two-sided level of the Wilson interval


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927), as scipy computes it
    (``binomtest(successes, trials).proportion_ci(method="wilson")``). Counts are whole numbers
    (scipy rejects fractions); zero trials give (0, 1)."""
    from harness.scoring.stats import wilson_ci

    interval = wilson_ci(successes, trials, confidence)
    return (0.0, 1.0) if interval is None else (interval.low, interval.high)


def bradley_terry(wins: np.ndarray, pseudo_ties: float = 1.0, max_iter: int = 10_000, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry log-strengths by Hunter's MM algorithm (Hunter 2004, Ann. Statist. 32:384,
    https://doi.org/10.1214/aos/1079120141).

    ``wins``: shape (..., k, k); ``wins[..., i, j]`` = times system i was preferred to j, a tie
    counted as half a win each way. Leading dimensions are independent problems (bootstrap
    resamples). ``pseudo_ties`` virtual ties are added between every pair (half a win each way):
    scores stay finite and small samples shrink toward equal strength; 0 gives the plain MLE.
    Returns log-strengths of shape (..., k) centred to mean 0, so that
    P(i preferred to j) = 1 / (1 + exp(s_j - s_i)).
    """
    w = np.asarray(wins, dtype=float)
    k = w.shape[-1]
    if w.shape[-2:] != (k, k):
        raise ValueError(f"wins must have shape (..., k, k); got {w.shape}")
    off_diagonal = 1.0 - np.eye(k)
    w = w * off_diagonal + 0.5 * pseudo_ties * off_diagonal
    games = w + np.swapaxes(w, -1, -2)  # n_ij
    total_wins = w.sum(axis=-1)  # W_i
    p = np.ones(w.shape[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(max_iter):
            denom = (games / (p[..., :, None] + p[..., None, :])).sum(axis=-1)
            new = np.where(denom > 0, total_wins / denom, p)
            new = new / np.exp(np.log(np.where(new > 0, new, 1.0)).mean(axis=-1, keepdims=True))
            alive = (new > 0) & (p > 0)
            change = float(np.abs(np.log(new[alive]) - np.log(p[alive])).max()) if alive.any() else 0.0
            p = new
            if change < tol:
                break
        scores = np.log(p)
    return scores - np.nanmean(np.where(np.isfinite(scores), scores, np.nan), axis=-1, keepdims=True)


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa for two raters labelling the same subjects (Cohen 1960). None when chance
    agreement is 1 (both raters used a single, identical category) or there are no subjects."""
    if len(first) != len(second):
        raise ValueError(f"both raters must label the same subjects; got {len(first)} and {len(second)} labels")
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second)) / n
    left, right = Counter(first), Counter(second)
    expected = sum(left[c] * right[c] for c in set(left) | set(right)) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: Sequence[Sequence[float]]) -> float | None:
    """Fleiss' kappa (Fleiss 1971) from a subjects x categories table of rating counts.

    Subjects may have different numbers of ratings (each subject's agreement uses its own n);
    subjects with fewer than two ratings carry no agreement information and are dropped. None
    when no subject has two ratings or chance agreement is 1.
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2:
        raise ValueError(f"counts must be a 2-D subjects x categories table; got shape {table.shape}")
    per_subject = table.sum(axis=1)
    table = table[per_subject >= 2]
    per_subject = per_subject[per_subject >= 2]
    if table.shape[0] == 0:
        return None
    agreement = ((table * table).sum(axis=1) - per_subject) / (per_subject * (per_subject - 1))
    observed = float(agreement.mean())
    shares = table.sum(axis=0) / per_subject.sum()
    expected = float((shares * shares).sum())
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval along axis 0 (NaN resamples ignored)."""
    tail = (1.0 - level) / 2 * 100
    return np.nanpercentile(samples, tail, axis=0), np.nanpercentile(samples, 100 - tail, axis=0)
