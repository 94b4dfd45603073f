"""Preference results from a run's vote logs: win rates, Bradley-Terry ranking, agreement.

    python -m harness preferences RUN_DIR [--json]

What is measured (votes of each kind -- humans, each judge -- are summarised separately):

* **Win rate** of system x against y = (wins + ties/2) / comparisons, where "tie" and "both
  wrong" both mean neither answer was preferred (both are also counted separately). The 95% CI is
  a percentile bootstrap that resamples *items* (all votes on an item move together, so several
  raters on one item are not mistaken for independent evidence). The *decisive* win rate
  wins / (wins + losses) comes with a Wilson 95% interval.
* **Bradley-Terry** log-strengths (ties as half wins, one virtual tie per pair) with bootstrap
  95% intervals from the same item resamples; a score gap d means P(preferred) = 1/(1+e^-d).
* **Agreement** between human raters on comparisons rated by more than one: Cohen's kappa for two
  raters, Fleiss' kappa for more, over the outcomes (first system better, second better, tie,
  both wrong). Judges report position consistency (same verdict with the answers swapped) and
  agreement with the human majority (both wrong folded into tie, since a judge cannot say it).

``preference_summary(run_dir)`` returns the JSON-ready summary (None when nothing was rated);
``render_preferences_markdown`` / ``render_preferences_html`` (re-exported from ``report``) format it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.preferences.report import render_preferences_html, render_preferences_markdown
from harness.preferences.stats import bradley_terry, cohen_kappa, fleiss_kappa, percentile_interval, wilson_interval
from harness.preferences.store import JUDGE_PREFERENCES, PREFERENCES, Vote, latest_votes, read_votes

__all__ = ["preference_summary", "summarize", "render_preferences_markdown", "render_preferences_html"]

SUMMARY_SCHEMA = "raq-harness/preference-summary"
OUTCOMES = ("first", "second", "tie", "both_wrong")
RESAMPLES = 2000  # bootstrap resamples of items; intervals move by ~0.01 between seeds at this size
PSEUDO_TIES = 1.0  # virtual ties per system pair in Bradley-Terry (half a win each way)


def preference_summary(run_dir: Path, resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Any] | None:
    """Summary of ``preferences.jsonl`` and ``judge_preferences.jsonl`` in ``run_dir``; None when
    neither file holds a vote."""
    run_dir = Path(run_dir)
    human = read_votes(run_dir / PREFERENCES)
    judged = read_votes(run_dir / JUDGE_PREFERENCES)
    if not human and not judged:
        return None
    summary = summarize(human, judged, resamples=resamples, seed=seed)
    summary["run_dir"] = str(run_dir)
    return summary


def summarize(human_votes: Sequence[Vote], judge_votes: Sequence[Vote] = (), resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Any]:
    human = latest_votes(human_votes)
    judges: dict[str, list[Vote]] = defaultdict(list)
    for vote in latest_votes(judge_votes):
        judges[vote.rater].append(vote)
    out: dict[str, Any] = {
        "schema": SUMMARY_SCHEMA,
        "method": {
            "win_rate": "(wins + ties/2) / comparisons; 'both wrong' counts as a tie",
            "interval": f"95% percentile bootstrap over items, {resamples} resamples, seed {seed}",
            "decisive_interval": "95% Wilson score interval on wins / (wins + losses)",
            "bradley_terry": f"MM algorithm, ties as half wins, {PSEUDO_TIES:g} virtual tie per pair; log-strength centred at 0",
        },
        "human": None,
        "judges": {},
    }
    if human:
        block = describe(human, resamples, seed)
        block["agreement"] = rater_agreement(human)
        block["flags"] = flag_counts(human)
        out["human"] = block
    for name, votes in sorted(judges.items()):
        block = describe(votes, resamples, seed)
        block["position_consistency"] = position_consistency(votes)
        block["agreement_with_humans"] = judge_agreement(votes, human) if human else None
        out["judges"][name] = block
    return out


def describe(votes: Sequence[Vote], resamples: int, seed: int) -> dict[str, Any]:
    """Counts, pairwise win rates and the Bradley-Terry ranking for one kind of rater."""
    prefs = [v for v in votes if v.is_preference]
    systems = sorted({s for v in prefs for s in v.pair})
    pairs = sorted({v.pair for v in prefs})
    items = sorted({v.item for v in prefs})
    block: dict[str, Any] = {
        "raters": sorted({v.rater for v in votes}),
        "votes": len(prefs),
        "skipped": sum(v.choice == "skip" for v in votes),
        "invalid": sum(v.choice == "invalid" for v in votes),
        "items": len(items),
        "systems": systems,
        "pairwise": [],
        "bradley_terry": [],
    }
    if not prefs:
        return block
    item_index = {item: i for i, item in enumerate(items)}
    pair_index = {pair: p for p, pair in enumerate(pairs)}
    counts = np.zeros((len(items), len(pairs), len(OUTCOMES)))
    for vote in prefs:
        counts[item_index[vote.item], pair_index[vote.pair], OUTCOMES.index(vote.outcome)] += 1
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(items), np.full(len(items), 1.0 / len(items)), size=resamples).astype(float)
    totals = counts.sum(axis=0)  # pairs x outcomes
    boot = np.einsum("bi,ipo->bpo", weights, counts)  # resamples x pairs x outcomes

    point_rate = _win_rate(totals)
    boot_rate_lo, boot_rate_hi = percentile_interval(_win_rate(boot))
    for p, (x, y) in enumerate(pairs):
        first, second, ties, both_wrong = (int(c) for c in totals[p])
        decisive = first + second
        block["pairwise"].append(
            {
                "systems": [x, y],
                "comparisons": first + second + ties + both_wrong,
                "wins": {x: first, y: second},
                "ties": ties,
                "both_wrong": both_wrong,
                "win_rate": float(point_rate[p]),  # of x over y
                "win_rate_ci": [float(boot_rate_lo[p]), float(boot_rate_hi[p])],
                "decisive_win_rate": first / decisive if decisive else None,
                "decisive_ci": list(wilson_interval(first, decisive)) if decisive else None,
            }
        )

    system_index = {s: i for i, s in enumerate(systems)}
    scores = bradley_terry(_wins_matrix(totals, pairs, system_index), PSEUDO_TIES)
    boot_scores = bradley_terry(_wins_matrix(boot, pairs, system_index), PSEUDO_TIES)
    lo, hi = percentile_interval(boot_scores)
    ranked = sorted(systems, key=lambda s: -scores[system_index[s]])
    for rank, system in enumerate(ranked, start=1):
        i = system_index[system]
        block["bradley_terry"].append({"system": system, "rank": rank, "score": float(scores[i]), "ci": [float(lo[i]), float(hi[i])]})
    return block


def _win_rate(table: np.ndarray) -> np.ndarray:
    """(..., outcomes) -> win rate of the pair's first system, ties as half; NaN without votes."""
    n = table.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (table[..., 0] + 0.5 * (table[..., 2] + table[..., 3])) / n


def _wins_matrix(table: np.ndarray, pairs: Sequence[tuple[str, str]], system_index: dict[str, int]) -> np.ndarray:
    """(..., pairs, outcomes) -> (..., k, k) wins with ties split half and half."""
    k = len(system_index)
    wins = np.zeros(table.shape[:-2] + (k, k))
    for p, (x, y) in enumerate(pairs):
        i, j = system_index[x], system_index[y]
        shared = 0.5 * (table[..., p, 2] + table[..., p, 3])
        wins[..., i, j] += table[..., p, 0] + shared
        wins[..., j, i] += table[..., p, 1] + shared
    return wins


def rater_agreement(votes: Sequence[Vote]) -> dict[str, Any] | None:
    """Kappa over comparisons that more than one human rated; None with fewer than two raters."""
    prefs = [v for v in votes if v.is_preference]
    raters = sorted({v.rater for v in prefs})
    if len(raters) < 2:
        return None
    by_task: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for vote in prefs:
        by_task[vote.task][vote.rater] = vote.outcome
    shared = {task: labels for task, labels in by_task.items() if len(labels) >= 2}
    result: dict[str, Any] = {"raters": len(raters), "shared_comparisons": len(shared)}
    if len(raters) == 2:
        a, b = raters
        both = [labels for labels in shared.values() if a in labels and b in labels]
        first, second = [labels[a] for labels in both], [labels[b] for labels in both]
        result.update(
            method="cohen", kappa=cohen_kappa(first, second), observed_agreement=(sum(x == y for x, y in zip(first, second)) / len(both)) if both else None
        )
        return result
    table = [[sum(label == outcome for label in labels.values()) for outcome in OUTCOMES] for labels in shared.values()]
    pairs_agreeing = [_pairwise_agreement(labels.values()) for labels in shared.values()]
    result.update(method="fleiss", kappa=fleiss_kappa(table) if table else None, observed_agreement=float(np.mean(pairs_agreeing)) if pairs_agreeing else None)
    return result


def _pairwise_agreement(labels: Any) -> float:
    counts = Counter(labels)
    n = sum(counts.values())
    return sum(c * (c - 1) for c in counts.values()) / (n * (n - 1))


def flag_counts(votes: Sequence[Vote]) -> dict[str, dict[str, int]]:
    """Per system: answers shown in preference votes and how many were marked refused / unit error."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"shown": 0, "refused": 0, "unit_error": 0})
    for vote in votes:
        if not vote.is_preference:
            continue
        for system in vote.pair:
            out[system]["shown"] += 1
            for mark in vote.flags.get(system, ()):
                out[system][mark] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def position_consistency(votes: Sequence[Vote]) -> dict[str, Any]:
    """Share of judged comparisons where both orders named the same winner (or both said tie)."""
    judged = [v for v in votes if "consistent" in v.details]
    consistent = sum(bool(v.details["consistent"]) for v in judged)
    return {"judged": len(judged), "consistent": consistent, "rate": consistent / len(judged) if judged else None}


def _folded(outcome: str) -> str:
    return "tie" if outcome == "both_wrong" else outcome


def judge_agreement(judge_votes: Sequence[Vote], human_votes: Sequence[Vote]) -> dict[str, Any] | None:
    """Judge verdict vs the human majority per comparison (comparisons with a tied majority are
    left out); outcomes first / second / tie."""
    labels: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for vote in human_votes:
        if vote.is_preference:
            labels[vote.task].append(_folded(vote.outcome))
    majority: dict[tuple[str, str, str], str] = {}
    for task, outcomes in labels.items():
        ranked = Counter(outcomes).most_common()
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            majority[task] = ranked[0][0]
    pairs = [(_folded(v.outcome), majority[v.task]) for v in judge_votes if v.is_preference and v.task in majority]
    if not pairs:
        return None
    judge, humans = [p[0] for p in pairs], [p[1] for p in pairs]
    return {
        "comparisons": len(pairs),
        "observed_agreement": sum(a == b for a, b in pairs) / len(pairs),
        "kappa": cohen_kappa(judge, humans),
    }
