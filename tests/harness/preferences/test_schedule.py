from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.api.errors import DataError
from harness.preferences.schedule import load_answers, next_comparison, pair_coverage, progress, sides
from harness.preferences.store import Vote
from tests.harness.preferences.conftest import write_run


def rate_all(rater: str, comparisons: list, votes: list[Vote], limit: int | None = None, choice: str = "a") -> list:
    seen = []
    while limit is None or len(seen) < limit:
        nxt = next_comparison(rater, comparisons, votes)
        if nxt is None:
            break
        a, b = sides(rater, nxt)
        votes.append(Vote(rater=rater, item=nxt.item, system_a=a, system_b=b, choice=choice))
        seen.append(nxt)
    return seen


def test_answers_and_comparisons_from_a_run(run3: Path) -> None:
    answers = load_answers(run3)
    assert answers.systems == ("lora", "lora-kd", "vanilla")
    assert answers.items[0] == "q-000" and len(answers.items) == 6
    comparisons = answers.comparisons()
    assert len(comparisons) == 6 * 3
    assert len({c.key for c in comparisons}) == len(comparisons)
    assert all(s not in c.key for c in comparisons for s in answers.systems)  # keys reveal no names
    assert len(load_answers(run3, ["lora", "vanilla"]).comparisons()) == 6


def test_every_prefix_of_a_raters_queue_covers_pairs_evenly(run3: Path) -> None:
    comparisons = load_answers(run3).comparisons()
    votes: list[Vote] = []
    counts: Counter = Counter()
    for c in rate_all("alice", comparisons, votes):
        counts[c.pair] += 1
        assert max(counts.values()) - min(counts.get(p, 0) for p in {c.pair for c in comparisons}) <= 1
    assert sum(counts.values()) == len(comparisons) and progress("alice", comparisons, votes) == (18, 18)
    assert next_comparison("alice", comparisons, votes) is None


def test_second_rater_overlaps_the_first_and_keeps_pairs_even(run3: Path) -> None:
    comparisons = load_answers(run3).comparisons()
    votes: list[Vote] = []
    first = rate_all("alice", comparisons, votes, limit=6)
    second = rate_all("bob", comparisons, votes, limit=6)
    assert {c.task for c in second} == {c.task for c in first}  # agreement can be measured
    assert [c.task for c in second] != [c.task for c in first]  # but in bob's own order
    assert set(pair_coverage(comparisons, votes).values()) == {4}


def test_resume_and_skip_come_from_the_votes(run3: Path) -> None:
    comparisons = load_answers(run3).comparisons()
    votes: list[Vote] = []
    done = rate_all("alice", comparisons, votes, limit=3)
    again = next_comparison("alice", comparisons, list(votes))  # a restarted server sees the same log
    assert again is not None and again.task not in {c.task for c in done}
    assert next_comparison("alice", comparisons, list(votes)) == again
    rate_all("alice", comparisons, votes, limit=1, choice="skip")
    assert next_comparison("alice", comparisons, votes) != again  # a skipped comparison is not shown again
    assert progress("alice", comparisons, votes) == (4, 18)


def test_sides_are_deterministic_and_balanced(run3: Path) -> None:
    comparisons = load_answers(run3).comparisons()
    assert [sides("alice", c) for c in comparisons] == [sides("alice", c) for c in comparisons]
    assert all(set(sides("alice", c)) == set(c.pair) for c in comparisons)
    left = Counter(sides(r, c)[0] == c.pair[0] for r in ("a1", "a2", "a3", "a4", "a5") for c in comparisons)
    assert 25 <= left[True] <= 65  # 90 fair coins
    assert [sides("alice", c) for c in comparisons] != [sides("bob", c) for c in comparisons]


def test_load_answers_errors_name_the_fix(tmp_path: Path) -> None:
    single = write_run(tmp_path / "one", ["vanilla"])
    with pytest.raises(DataError, match="at least two systems, found vanilla"):
        load_answers(single)
    both = write_run(tmp_path / "two", ["vanilla", "rag"])
    with pytest.raises(DataError, match="--systems: 'lora' has no answers .* systems in this run: vanilla, rag"):
        load_answers(both, ["vanilla", "lora"])
    with pytest.raises(DataError, match="no answers found"):
        load_answers(tmp_path)
