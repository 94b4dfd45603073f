"""Statistics helpers against hand-computed values."""

from __future__ import annotations

import math

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


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        (0, 102, (0.0, 0.0363)),  # the case: zero correct is not [0, 0]
        (102, 102, (0.9637, 1.0)),
        (8, 10, (0.4902, 0.9433)),  # textbook value
        (1, 3, (0.0615, 0.7923)),
    ],
)
def test_wilson_ci_known_values(successes: int, n: int, expected: tuple[float, float]) -> None:
    ci = stats.wilson_ci(successes, n)
    assert ci is not None
    assert (ci.low, ci.high) == pytest.approx(expected, abs=5e-5)


def test_wilson_ci_upper_bound_of_zero_is_z_squared_over_n_plus_z_squared() -> None:
    z2 = 1.959963984540054**2
    ci = stats.wilson_ci(0, 102)
    assert ci is not None and ci.high == pytest.approx(z2 / (102 + z2), rel=1e-9)
    assert stats.wilson_ci(0, 0) is None
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_ci(5, 4)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ((36, 12, 2, 0), (0.0569, 0.3404)),  # Newcombe (1998), Stat. Med. 17:2635, his examples for method 10
        ((18, 12, 2, 18), (0.0562, 0.3290)),
        ((53, 0, 0, 1), (-0.0729, 0.0729)),
    ],
)
def test_newcombe_paired_ci_matches_the_published_examples(table: tuple[int, int, int, int], expected: tuple[float, float]) -> None:
    ci = stats.newcombe_paired_ci(stats.PairedCounts(*table))
    assert ci is not None
    assert (ci.low, ci.high) == pytest.approx(expected, abs=5e-5)


def test_newcombe_paired_ci_is_antisymmetric_and_brackets_the_difference() -> None:
    counts = stats.PairedCounts(both=30, first_only=9, second_only=3, neither=60)
    swapped = stats.PairedCounts(both=30, first_only=3, second_only=9, neither=60)
    ci, back = stats.newcombe_paired_ci(counts), stats.newcombe_paired_ci(swapped)
    assert ci is not None and back is not None
    assert counts.difference == pytest.approx(6 / 102) and ci.low < 6 / 102 < ci.high
    assert (back.low, back.high) == pytest.approx((-ci.high, -ci.low))
    assert stats.newcombe_paired_ci(stats.PairedCounts(0, 0, 0, 0)) is None


def test_paired_counts_of_outcomes() -> None:
    counts = stats.PairedCounts.of([True, True, False, False, True], [True, False, True, False, False])
    assert counts == stats.PairedCounts(both=1, first_only=2, second_only=1, neither=1)
    assert (counts.n, counts.discordant, counts.difference) == (5, 3, pytest.approx(0.2))
    with pytest.raises(ValueError, match="differ in length"):
        stats.PairedCounts.of([True], [])


def test_mcnemar_exact_on_a_discordant_table_equals_the_binomial_test() -> None:
    from scipy.stats import binomtest

    # 3 items only the first system gets right, 11 only the second: p = P(|X - 7| >= 4), X ~ Bin(14, 1/2)
    a = [True] * 3 + [False] * 11 + [True] * 40 + [False] * 48
    b = [False] * 3 + [True] * 11 + [True] * 40 + [False] * 48
    expected = 2 * sum(math.comb(14, k) for k in range(0, 4)) / 2**14
    assert stats.mcnemar_exact(a, b).p_value == pytest.approx(expected) == pytest.approx(binomtest(3, 14, 0.5).pvalue)
    assert expected == pytest.approx(0.0574, abs=5e-5)


def test_mcnemar_mdd_solves_connors_formula() -> None:
    z_alpha, z_power = 1.959963984540054, 0.8416212335729143
    # Connor's n for delta 0.1 at discordance 0.2: (1.96 sqrt(.2) + 0.84 sqrt(.19))^2 / 0.01 = 154.6
    n = (z_alpha * math.sqrt(0.2) + z_power * math.sqrt(0.2 - 0.01)) ** 2 / 0.01
    assert n == pytest.approx(154.6, abs=0.05)
    assert stats.mcnemar_mdd(n, 0.2) == pytest.approx(0.1, abs=1e-6)  # type: ignore[arg-type]
    mdd = stats.mcnemar_mdd(102, 0.1)
    assert mdd is not None and mdd == pytest.approx(0.0867, abs=5e-5)
    assert (z_alpha + z_power) * math.sqrt(0.1 / 102) > mdd  # the delta^2 term makes it a little smaller
    assert stats.mcnemar_mdd(1000, 0.1) < mdd  # type: ignore[operator]  # more items, smaller differences
    assert stats.mcnemar_mdd(102, 0.0) is None  # no discordant item: nothing to say
    assert stats.mcnemar_mdd(3, 0.5) is None  # too few items to reach alpha at all
