from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api import GenerationResult
from harness.api.errors import ConfigError
from harness.cli.main import main
from harness.preferences.analysis import preference_summary
from harness.preferences.judge import JudgeConfig, judge_run, parse_verdict
from harness.preferences.store import read_votes
from harness.registry import Registry
from tests.harness.preferences.conftest import write_run


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("A", "a"),
        ("**B**", "b"),
        ("(A)", "a"),
        ("B.", "b"),
        ("Answer B", "b"),
        ("Verdict: A", "a"),
        ("answer: b", "b"),
        ("Tie", "tie"),
        ("tie.", "tie"),
        ("Both are equally good", "tie"),
        ("The verdict: tie", "tie"),
        ("A is better because it shows the steps", "a"),
        ("I think answer B is better.", "b"),
        ("The better answer is A.", "a"),
        ("[[B]]", "b"),
        ("B\nbecause it converts units", "b"),
        ("A DDR5 subchannel is 32 bits wide", None),  # the article, not a verdict
        ("A or B", None),
        ("Answer A is better. Answer B is better.", None),
        ("", None),
        ("Both answers are wrong", None),
        # replies SmolLM2-135M gave as a judge
        ("A, B, tie.", None),  # the instruction echoed back
        ("The answer is A.", "a"),
        ("The answer is: A.", "a"),
        ("The answer that is better is answer A.", "a"),
        ("A: A\n\nA is the correct answer.", "a"),
        ("A is the better answer.", "a"),
        ("A. It has a better value", "a"),
        ("A\n\nA question about a DRAM has tCK = 0", "a"),
        ("This is a tie.", "tie"),
        ("B, not A", None),
    ],
)
def test_parse_verdict(reply: str, verdict: str | None) -> None:
    assert parse_verdict(reply) == verdict


class FakeJudge:
    """Judges by a rule over the two answers in the prompt; records what it was asked."""

    def __init__(self, rule: str, name: str = "fake-judge") -> None:
        self.name = name
        self.rule = rule
        self.prompts: list[str] = []

    @property
    def fingerprint(self) -> dict:
        return {"fake": self.rule}

    def generate(self, requests):
        out = []
        for request in requests:
            text = request.messages[-1].content
            self.prompts.append(text)
            answer_a = text.split("Answer A:\n", 1)[1].split("\n\nAnswer B:\n", 1)[0]
            if self.rule == "correct":  # prefers the answer that says "correct", whatever its side
                reply = "A" if "correct" in answer_a else "B"
            elif self.rule == "first":  # pure position bias
                reply = "A"
            else:
                reply = "I cannot decide between these."
            out.append(GenerationResult(id=request.id, text=reply))
        return out


@pytest.fixture
def run_good_bad(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run", ["good", "bad"], items=4, answer=lambda s, i: f"the correct value for {i}" if s == "good" else f"some value for {i}")


def test_consistent_judge_picks_the_better_system_in_both_orders(run_good_bad: Path, isolated_cache: Path) -> None:
    judge = FakeJudge("correct")
    counts = judge_run(run_good_bad, judge, JudgeConfig(batch_size=4), quiet=True)
    assert counts == {"judged": 4, "reused": 0, "cached_replies": 0}
    assert len(judge.prompts) == 8
    assert all("good" not in p and "bad" not in p for p in judge.prompts)  # blind
    votes = read_votes(run_good_bad / "judge_preferences.jsonl")
    assert {v.winner for v in votes} == {"good"} and {v.rater for v in votes} == {"judge:fake-judge"}
    assert all(v.details["consistent"] and len(v.details["replies"]) == 2 for v in votes)
    block = preference_summary(run_good_bad, resamples=200)["judges"]["judge:fake-judge"]
    assert block["pairwise"][0]["win_rate"] == 0.0  # of "bad" (sorted first) over "good"
    assert block["position_consistency"]["rate"] == 1.0


def test_position_biased_judge_gets_ties_and_zero_consistency(run_good_bad: Path, isolated_cache: Path) -> None:
    judge_run(run_good_bad, FakeJudge("first"), quiet=True)
    votes = read_votes(run_good_bad / "judge_preferences.jsonl")
    assert {v.choice for v in votes} == {"tie"} and not any(v.details["consistent"] for v in votes)
    assert preference_summary(run_good_bad, resamples=200)["judges"]["judge:fake-judge"]["position_consistency"]["rate"] == 0.0


def test_unparsable_replies_are_invalid_not_ties(run_good_bad: Path, isolated_cache: Path) -> None:
    judge_run(run_good_bad, FakeJudge("mumble"), quiet=True)
    assert {v.choice for v in read_votes(run_good_bad / "judge_preferences.jsonl")} == {"invalid"}


def test_rerun_resumes_and_replies_come_from_the_cache(run_good_bad: Path, isolated_cache: Path) -> None:
    judge_run(run_good_bad, FakeJudge("correct"), JudgeConfig(limit=2), quiet=True)
    second = FakeJudge("correct")
    assert judge_run(run_good_bad, second, quiet=True) == {"judged": 2, "reused": 2, "cached_replies": 0}
    (run_good_bad / "judge_preferences.jsonl").unlink()
    third = FakeJudge("correct")
    assert judge_run(run_good_bad, third, quiet=True)["cached_replies"] == 8 and third.prompts == []


def test_judge_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="--batch-size must be >= 2"):
        JudgeConfig(batch_size=1)


def test_judge_command_end_to_end(run_good_bad: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry()
    registry.register("fake-judge", lambda **options: FakeJudge("correct"))
    monkeypatch.setattr(Registry, "from_entry_points", classmethod(lambda cls: registry))
    assert main(["judge", str(run_good_bad), "--judge", "fake-judge", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "4 comparisons judged" in out and "Judge fake-judge" in out and "Position consistency: 100%" in out
    assert main(["judge", str(run_good_bad), "--judge", "nope"]) == 2
    assert "Unknown system 'nope'" in capsys.readouterr().err
    assert main(["preferences", str(run_good_bad), "--json", "--resamples", "200"]) == 0
    assert "judge:fake-judge" in json.loads(capsys.readouterr().out)["judges"]
