from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api.errors import DataError
from harness.preferences.store import Vote, VoteStore, check_rater, latest_votes, read_votes
from tests.harness.preferences.conftest import vote


def test_append_then_read_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    store = VoteStore(path)
    cast = vote("alice", "q0", "lora", "lora-kd", "b", flags={"lora": ("unit_error",)})
    store.append(cast)
    line = json.loads(path.read_text())
    assert line["rater"] == "alice" and line["system_a"] == "lora" and line["system_b"] == "lora-kd"
    assert line["choice"] == "b" and line["winner"] == "lora-kd" and line["timestamp"]
    assert line["flags"] == {"lora": ["unit_error"]}
    assert read_votes(path) == [cast]
    assert VoteStore(path).votes() == [cast]


def test_truncated_last_line_is_ignored_and_repaired_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    good = vote("alice", "q0", "lora", "lora-kd", "a")
    path.write_text(json.dumps(good.to_dict()) + "\n" + '{"rater": "alice", "item": "q1", "sys')  # killed mid-write
    assert read_votes(path) == [good]
    store = VoteStore(path)
    store.append(vote("alice", "q1", "lora", "lora-kd", "tie"))
    assert [v.item for v in read_votes(path)] == ["q0", "q1"]
    assert path.read_text().count("\n") == 2


def test_bad_record_in_the_middle_names_file_and_record(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    ok = json.dumps(vote("alice", "q0", "lora", "lora-kd", "a").to_dict())
    bad = json.dumps(vote("alice", "q1", "lora", "lora-kd", "a").to_dict() | {"choice": "maybe"})
    path.write_text(ok + "\n" + bad + "\n")
    with pytest.raises(DataError, match=r"preferences.jsonl: record 2: choice must be one of .*'maybe'"):
        read_votes(path)
    path.write_text(ok + "\nnot json\n" + ok + "\n")
    with pytest.raises(DataError, match="preferences.jsonl:2: not valid JSON"):
        read_votes(path)


def test_vote_outcome_is_relative_to_the_sorted_pair() -> None:
    left = vote("alice", "q0", "lora-kd", "lora", "a")
    right = vote("bob", "q0", "lora", "lora-kd", "b")
    assert left.pair == right.pair == ("lora", "lora-kd")
    assert left.outcome == right.outcome == "second"
    assert vote("c", "q0", "lora", "lora-kd", "both_wrong").outcome == "both_wrong"
    assert not vote("c", "q0", "lora", "lora-kd", "skip").is_preference


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"choice": "A"}, "choice must be one of"),
        ({"system_b": "lora"}, "two different systems"),
        ({"flags": {"rag": ("refused",)}}, "not one of the compared systems"),
        ({"flags": {"lora": ("rude",)}}, "unknown flag 'rude'"),
    ],
)
def test_invalid_votes_are_rejected(kwargs: dict, message: str) -> None:
    fields = {"rater": "alice", "item": "q0", "system_a": "lora", "system_b": "lora-kd", "choice": "a"} | kwargs
    with pytest.raises(ValueError, match=message):
        Vote(**fields)


def test_latest_votes_keeps_the_last_per_rater_and_comparison() -> None:
    votes = [vote("alice", "q0", "x", "y", "a"), vote("bob", "q0", "x", "y", "a"), vote("alice", "q0", "y", "x", "tie")]
    latest = latest_votes(votes)
    assert [(v.rater, v.choice) for v in latest] == [("alice", "tie"), ("bob", "a")]


@pytest.mark.parametrize("name", ["", "judge:x", "a b", "-x", "x" * 41, "<script>"])
def test_rater_names_are_checked(name: str) -> None:
    with pytest.raises(DataError, match="rater name"):
        check_rater(name)
    assert check_rater("Alice_2.b-c") == "Alice_2.b-c"
