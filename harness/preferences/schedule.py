"""Which comparison a rater sees next, and on which side each answer goes.

A *comparison* is one item answered by two systems. A run with k systems and n items answered by
all of them has n * k(k-1)/2 comparisons. For each rater the next comparison is the not yet
rated one that minimises, in order:

1. the number of votes this rater has already cast for that system pair -- so at every moment a
   rater's votes cover the pairs evenly (counts differ by at most one while items remain);
2. whether no other rater has rated it yet -- comparisons others have rated come first, so
   raters overlap and agreement (kappa) can be measured;
3. a hash of (rater, item, pair) -- a per-rater shuffle, stable across restarts.

Sides are a hash of (rater, item, pair) too: deterministic, so a reload or a restarted server
shows the rater the same layout, and independent of system names, so neither side favours a
system. Everything is derived from the vote log, so a rater resumes where they stopped.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Iterable, Sequence

from harness.api.errors import DataError
from harness.preferences.store import Vote
from harness.runlog import ITEMS_SNAPSHOT, SAMPLES, iter_jsonl, read_samples


@dataclass(frozen=True)
class Comparison:
    item: str
    pair: tuple[str, str]  # sorted system names
    key: str  # opaque id used in URLs; reveals neither system

    @property
    def task(self) -> tuple[str, str, str]:
        return (self.item, *self.pair)


@dataclass(frozen=True)
class Answers:
    """What raters compare: every selected system's answer to every item, from the run log."""

    systems: tuple[str, ...]
    items: tuple[str, ...]  # in run order
    questions: dict[str, str]  # item -> question text
    categories: dict[str, str]  # item -> category
    responses: dict[tuple[str, str], str]  # (item, system) -> answer text

    def comparisons(self) -> list[Comparison]:
        out = []
        for item in self.items:
            for a, b in combinations(sorted(self.systems), 2):
                if (item, a) in self.responses and (item, b) in self.responses:
                    out.append(Comparison(item=item, pair=(a, b), key=comparison_key(item, a, b)))
        return out


def comparison_key(item: str, a: str, b: str) -> str:
    return _digest("key", item, a, b)[:16]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def load_answers(run_dir: Path, systems: Sequence[str] | None = None) -> Answers:
    """Read ``samples.jsonl``; ``systems`` limits the study to those names (default: all in the run)."""
    run_dir = Path(run_dir)
    samples = read_samples(run_dir)
    if not samples:
        raise DataError(f"{run_dir / SAMPLES}: no answers found; pass a run directory written by python -m harness run")
    present = list(dict.fromkeys(str(s.get("system")) for s in samples))
    if systems:
        unknown = [s for s in systems if s not in present]
        if unknown:
            raise DataError(f"--systems: {unknown[0]!r} has no answers in {run_dir}; systems in this run: {', '.join(present)}")
        chosen = list(dict.fromkeys(systems))
    else:
        chosen = present
    if len(chosen) < 2:
        raise DataError(
            f"{run_dir}: a preference study needs answers from at least two systems, "
            f"found {', '.join(chosen) or 'none'}; run more systems (e.g. --systems vanilla,rag)"
        )
    order = [str(it.get("id")) for it in iter_jsonl(run_dir / ITEMS_SNAPSHOT)]
    questions: dict[str, str] = {}
    categories: dict[str, str] = {}
    responses: dict[tuple[str, str], str] = {}
    for sample in samples:  # a later line for the same (item, system) replaces an earlier one
        item, system = str(sample.get("id")), str(sample.get("system"))
        if system not in chosen:
            continue
        questions.setdefault(item, str(sample.get("question", "")))
        categories.setdefault(item, str(sample.get("category", "")))
        responses[(item, system)] = str(sample.get("response") or "")
    listed = set(order)
    items = [i for i in order if i in questions] + [i for i in questions if i not in listed]
    return Answers(systems=tuple(chosen), items=tuple(items), questions=questions, categories=categories, responses=responses)


def sides(rater: str, comparison: Comparison) -> tuple[str, str]:
    """(system shown as A, system shown as B) for this rater: a fair coin seeded by rater + item + pair."""
    a, b = comparison.pair
    return (a, b) if int(_digest("side", rater, *comparison.task)[:8], 16) % 2 == 0 else (b, a)


def _shuffle_key(rater: str, comparison: Comparison) -> str:
    return _digest("order", rater, *comparison.task)


def next_comparison(rater: str, comparisons: Sequence[Comparison], votes: Iterable[Vote]) -> Comparison | None:
    """The comparison ``rater`` should rate next (see the module docstring), or None when done."""
    done: set[tuple[str, str, str]] = set()
    per_pair: Counter[tuple[str, str]] = Counter()
    rated_by_others: set[tuple[str, str, str]] = set()
    for vote in votes:
        if vote.rater == rater:
            done.add(vote.task)
            if vote.is_preference:
                per_pair[vote.pair] += 1
        elif vote.is_preference:
            rated_by_others.add(vote.task)
    remaining = [c for c in comparisons if c.task not in done]
    if not remaining:
        return None
    return min(remaining, key=lambda c: (per_pair[c.pair], c.task not in rated_by_others, _shuffle_key(rater, c)))


def progress(rater: str, comparisons: Sequence[Comparison], votes: Iterable[Vote]) -> tuple[int, int]:
    """(comparisons this rater has voted on or skipped, comparisons in the study)."""
    tasks = {c.task for c in comparisons}
    done = {v.task for v in votes if v.rater == rater and v.task in tasks}
    return len(done), len(tasks)


def pair_coverage(comparisons: Sequence[Comparison], votes: Iterable[Vote]) -> dict[tuple[str, str], int]:
    """Preference votes per system pair, all raters together (pairs with none included)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for comparison in comparisons:
        counts[comparison.pair] += 0
    tasks = {c.task for c in comparisons}
    for vote in votes:
        if vote.is_preference and vote.task in tasks:
            counts[vote.pair] += 1
    return dict(counts)
