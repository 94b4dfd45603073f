from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.preferences.analysis import preference_summary, render_preferences_html, render_preferences_markdown, summarize
from harness.preferences.store import JUDGE_PREFERENCES, PREFERENCES, Vote
from tests.harness.preferences.conftest import vote

X, Y = "lora", "lora-kd"


def crafted() -> list[Vote]:
    """lora vs lora-kd on 5 items, sides mixed: lora 1 win, lora-kd 2, one tie, one both wrong."""
    return [
        vote("alice", "q0", Y, X, "a"),  # lora-kd wins (shown left)
        vote("alice", "q1", X, Y, "b"),  # lora-kd wins (shown right)
        vote("alice", "q2", Y, X, "b"),  # lora wins
        vote("alice", "q3", X, Y, "tie"),
        vote("alice", "q4", Y, X, "both_wrong"),
        vote("alice", "q5", X, Y, "skip"),
    ]


def test_win_rates_and_counts_match_hand_computation() -> None:
    human = summarize(crafted(), resamples=500)["human"]
    assert human["votes"] == 5 and human["skipped"] == 1 and human["items"] == 5
    (pair,) = human["pairwise"]
    assert pair["systems"] == [X, Y]
    assert pair["wins"] == {X: 1, Y: 2} and pair["ties"] == 1 and pair["both_wrong"] == 1
    assert pair["win_rate"] == pytest.approx((1 + 0.5 * 2) / 5)  # ties and both-wrong count half
    assert pair["decisive_win_rate"] == pytest.approx(1 / 3)
    assert pair["decisive_ci"] == pytest.approx([0.0615, 0.7923], abs=5e-5)  # Wilson 1/3
    low, high = pair["win_rate_ci"]
    assert 0.0 <= low <= pair["win_rate"] <= high <= 1.0 and high - low > 0.1


def test_bradley_terry_two_systems_matches_smoothed_odds() -> None:
    ranking = summarize(crafted(), resamples=500)["human"]["bradley_terry"]
    assert [r["system"] for r in ranking] == [Y, X]
    # wins incl. half ties: lora 2, lora-kd 3; plus one virtual tie -> 2.5 : 3.5
    assert ranking[0]["score"] - ranking[1]["score"] == pytest.approx(math.log(3.5 / 2.5), rel=1e-6)
    assert ranking[0]["score"] == pytest.approx(-ranking[1]["score"])
    for row in ranking:
        assert row["ci"][0] <= row["score"] <= row["ci"][1]


def test_bootstrap_is_seeded() -> None:
    assert summarize(crafted(), resamples=300, seed=3) == summarize(crafted(), resamples=300, seed=3)


def test_ranking_of_three_systems_follows_the_votes() -> None:
    votes = []
    for i in range(8):
        votes.append(vote("alice", f"q{i}", "a-sys", "b-sys", "a"))
        votes.append(vote("alice", f"q{i}", "c-sys", "b-sys", "b"))
        votes.append(vote("alice", f"q{i}", "a-sys", "c-sys", "a" if i < 6 else "b"))
    ranking = summarize(votes, resamples=300)["human"]["bradley_terry"]
    assert [r["system"] for r in ranking] == ["a-sys", "b-sys", "c-sys"]


def test_last_vote_per_rater_and_comparison_counts() -> None:
    votes = [vote("alice", "q0", X, Y, "a"), vote("alice", "q0", Y, X, "a")]  # changed her mind
    (pair,) = summarize(votes, resamples=200)["human"]["pairwise"]
    assert pair["wins"] == {X: 0, Y: 1}


def test_cohen_kappa_for_two_raters() -> None:
    # outcomes (first = lora wins): alice first, second, tie, first; bob first, second, first, second
    # po = 2/4; pe = (2*2 + 1*2 + 1*0) / 16 = 0.375; kappa = 0.125 / 0.625 = 0.2
    votes = [
        vote("alice", "q0", X, Y, "a"),
        vote("alice", "q1", X, Y, "b"),
        vote("alice", "q2", X, Y, "tie"),
        vote("alice", "q3", X, Y, "a"),
        vote("bob", "q0", Y, X, "b"),
        vote("bob", "q1", Y, X, "a"),
        vote("bob", "q2", X, Y, "a"),
        vote("bob", "q3", X, Y, "b"),
        vote("bob", "q4", X, Y, "a"),  # only bob: not shared
    ]
    agreement = summarize(votes, resamples=200)["human"]["agreement"]
    assert agreement["method"] == "cohen" and agreement["shared_comparisons"] == 4
    assert agreement["kappa"] == pytest.approx(0.2)
    assert agreement["observed_agreement"] == pytest.approx(0.5)


def test_fleiss_kappa_for_three_raters() -> None:
    votes = [vote(r, "q0", X, Y, "a") for r in ("ann", "ben", "cat")]
    votes += [vote("ann", "q1", X, Y, "a"), vote("ben", "q1", Y, X, "b"), vote("cat", "q1", X, Y, "b")]
    agreement = summarize(votes, resamples=200)["human"]["agreement"]
    assert agreement["method"] == "fleiss"
    assert agreement["kappa"] == pytest.approx(-0.2)  # same table as the stats test
    assert agreement["observed_agreement"] == pytest.approx(2 / 3)


def test_single_rater_has_no_agreement() -> None:
    assert summarize(crafted(), resamples=200)["human"]["agreement"] is None


def judge_vote(item: str, choice: str, consistent: bool | None) -> Vote:
    details = {"judge": "teacher"} | ({"consistent": consistent} if consistent is not None else {})
    return Vote(rater="judge:teacher", item=item, system_a=X, system_b=Y, choice=choice, source="judge", details=details)


def test_judge_block_reports_consistency_and_agreement_with_humans() -> None:
    humans = [vote("alice", "q0", X, Y, "a"), vote("bob", "q0", X, Y, "a"), vote("alice", "q1", X, Y, "b"), vote("alice", "q2", X, Y, "both_wrong")]
    humans += [vote("alice", "q3", X, Y, "a"), vote("bob", "q3", X, Y, "b")]  # split: no majority
    judges = [
        judge_vote("q0", "a", True),
        judge_vote("q1", "tie", False),
        judge_vote("q2", "tie", True),
        judge_vote("q3", "a", True),
        judge_vote("q4", "invalid", None),
    ]
    block = summarize(humans, judges, resamples=200)["judges"]["judge:teacher"]
    assert block["votes"] == 4 and block["invalid"] == 1
    assert block["position_consistency"] == {"judged": 4, "consistent": 3, "rate": 0.75}
    versus = block["agreement_with_humans"]
    assert versus["comparisons"] == 3  # q0, q1, q2 (q3 split, q4 invalid)
    assert versus["observed_agreement"] == pytest.approx(2 / 3)  # q0 agree; q1 tie vs second; q2 tie vs both-wrong folded to tie


def test_flags_are_counted_per_system() -> None:
    votes = [vote("alice", "q0", X, Y, "b", flags={X: ("refused",)}), vote("alice", "q1", Y, X, "a", flags={X: ("refused", "unit_error")})]
    flags = summarize(votes, resamples=200)["human"]["flags"]
    assert flags[X] == {"shown": 2, "refused": 2, "unit_error": 1}
    assert flags[Y] == {"shown": 2, "refused": 0, "unit_error": 0}


def test_preference_summary_reads_the_run_dir(tmp_path: Path) -> None:
    assert preference_summary(tmp_path) is None
    (tmp_path / PREFERENCES).write_text("".join(json.dumps(v.to_dict()) + "\n" for v in crafted()))
    summary = preference_summary(tmp_path, resamples=200)
    assert summary is not None and summary["human"]["votes"] == 5 and summary["judges"] == {}
    (tmp_path / JUDGE_PREFERENCES).write_text(json.dumps(judge_vote("q0", "a", True).to_dict()) + "\n")
    assert list(preference_summary(tmp_path, resamples=200)["judges"]) == ["judge:teacher"]


def test_renderers_show_results_and_escape_names() -> None:
    votes = [vote("alice", f"q{i}", "<b>evil|sys</b>", Y, "a") for i in range(3)]
    summary = summarize(votes, resamples=200)
    markdown = render_preferences_markdown(summary)
    assert "## Preferences (blind pairwise)" in markdown
    assert "100%" in markdown and "Bradley-Terry" in markdown
    assert "evil\\|sys" in markdown  # a pipe cannot break the table
    page = render_preferences_html(summary)
    assert "<b>evil" not in page and "&lt;b&gt;evil|sys&lt;/b&gt;" in page
    assert page.startswith('<section class="preferences">')
