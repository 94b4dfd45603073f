"""Statistics helpers against hand-computed values."""

from __future__ import annotations

import pytest

from harness.scoring import stats


def test_mcnemar_exact_two_sided_matches_binomial() -> None:
    # 1 vs 9 discordant pairs: two-sided p = 2 * P(X <= 1 | n=10, 0.5) = 2 * 11/1024
    a = [True] * 1 + [False] * 9 + [True] * 5
    b = [False] * 1 + [True] * 9 + [True] * 5
    result = stats.mcnemar_exact(a, b)
    assert (result.a_only, result.b_only) == (1, 9)
    assert result.p_value == pytest.approx(22 / 1024)


def test_mcnemar_one_sided_direction() -> None:
    a = [True] * 8 + [False] * 2
    b = [False] * 8 + [True] * 2
    worse = stats.mcnemar_exact(a, b, alternative="less")  # b lost 8, won 2
    better = stats.mcnemar_exact(a, b, alternative="greater")
    assert worse.p_value < 0.06 < better.p_value


def test_mcnemar_no_discordant_pairs() -> None:
    assert stats.mcnemar_exact([True, False], [True, False]).p_value == 1.0
    assert stats.mcnemar_exact([], []).p_value == 1.0


def test_holm_known_values() -> None:
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_bootstrap_ci_brackets_the_mean_and_is_seeded() -> None:
    values = [1.0] * 30 + [0.0] * 70
    ci = stats.bootstrap_ci(values)
    assert ci is not None and ci.low < 0.3 < ci.high
    assert stats.bootstrap_ci(values) == ci
    assert stats.bootstrap_ci([1.0, 1.0]) == stats.Interval(1.0, 1.0)
    assert stats.bootstrap_ci([]) is None


def test_paired_bootstrap_ci_of_a_constant_shift() -> None:
    ci = stats.paired_bootstrap_ci([0.0, 1.0, 0.5], [0.1, 1.1, 0.6])
    assert ci is not None and ci.low == pytest.approx(0.1) and ci.high == pytest.approx(0.1)
    with pytest.raises(ValueError):
        stats.paired_bootstrap_ci([1.0], [1.0, 2.0])
