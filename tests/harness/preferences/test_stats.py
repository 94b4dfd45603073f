from __future__ import annotations

import math

import numpy as np
import pytest

from harness.preferences.stats import bradley_terry, cohen_kappa, fleiss_kappa, percentile_interval, wilson_interval


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [
        (8, 10, (0.4902, 0.9433)),  # textbook value
        (1, 3, (0.0615, 0.7923)),
        (0, 10, (0.0, 0.2775)),
        (10, 10, (0.7225, 1.0)),
        (0, 0, (0.0, 1.0)),  # no trials: no information
    ],
)
def test_wilson_interval_known_values(successes: int, trials: int, expected: tuple[float, float]) -> None:
    low, high = wilson_interval(successes, trials)
    assert low == pytest.approx(expected[0], abs=5e-5)
    assert high == pytest.approx(expected[1], abs=5e-5)


def test_bradley_terry_recovers_strengths_of_a_consistent_table() -> None:
    # Counts exactly proportional to strengths 4 : 2 : 1 -> the MLE is those strengths.
    wins = np.array([[0, 2, 4], [1, 0, 2], [1, 1, 0]])
    scores = bradley_terry(wins, pseudo_ties=0.0)
    assert np.exp(scores - scores[2]) == pytest.approx([4.0, 2.0, 1.0], rel=1e-6)
    assert scores.sum() == pytest.approx(0.0, abs=1e-9)


def test_bradley_terry_two_systems_with_pseudo_ties_is_the_smoothed_odds() -> None:
    scores = bradley_terry(np.array([[0, 2.0], [3.0, 0]]), pseudo_ties=1.0)
    assert scores[0] - scores[1] == pytest.approx(math.log(2.5 / 3.5), rel=1e-6)


def test_bradley_terry_is_batched_and_finite_for_a_system_that_never_wins() -> None:
    tables = np.stack([np.array([[0, 5, 5], [0, 0, 3], [0, 1, 0]]), np.array([[0, 2, 4], [1, 0, 2], [1, 1, 0]])])
    batched = bradley_terry(tables)
    for b in range(2):
        assert batched[b] == pytest.approx(bradley_terry(tables[b]), abs=1e-8)
    assert np.isfinite(batched).all()
    assert batched[0].argmax() == 0  # the undefeated system ranks first


def test_cohen_kappa_known_value() -> None:
    # 50 subjects: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa 0.4
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # chance agreement 1: undefined
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa(["a"], ["a", "b"])


def test_fleiss_kappa_matches_the_published_example() -> None:
    # Fleiss (1971) / the standard worked example: 10 subjects, 14 raters, 5 categories.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-5)


def test_fleiss_kappa_with_varying_raters_drops_single_ratings() -> None:
    # Subject 1: 3 agree; subject 2: 2 vs 1; subject 3 has one rating and is ignored.
    # P = (1 + 1/3) / 2 = 2/3; shares 5/6, 1/6 -> Pe = 26/36; kappa = (2/3 - 26/36) / (10/36) = -0.2
    assert fleiss_kappa([[3, 0], [2, 1], [0, 1]]) == pytest.approx(-0.2)
    assert fleiss_kappa([[1, 0]]) is None


def test_percentile_interval_ignores_nan() -> None:
    samples = np.array([[1.0], [2.0], [np.nan], [3.0]])
    low, high = percentile_interval(samples, level=0.5)
    assert low[0] == pytest.approx(1.5) and high[0] == pytest.approx(2.5)
