from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api.errors import DataError
from harness.api.items import parse_item
from harness.benchmark import load_benchmark, read_items

GOOD = {"id": "x-1", "category": "reasoning", "question": "q?", "answer": {"type": "numeric", "value": 1.5, "unit": "ns"}}


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"id": ""}, "id", "non-empty string"),
        ({"category": "trivia"}, "category", "unknown category 'trivia'"),
        ({"question": 3}, "question", "non-empty string"),
        ({"answer": {"type": "essay"}}, "answer.type", "unknown answer type 'essay'"),
        ({"answer": {"type": "numeric", "value": "fast", "unit": "ns"}}, "answer.value", "finite number"),
        ({"answer": {"type": "numeric", "value": 1, "unit": ""}}, "answer.unit", "unit string"),
        ({"answer": {"type": "numeric", "value": 1, "unit": "ns", "rel_tol": 5}}, "answer.rel_tol", "below 1"),
        ({"answer": {"type": "text", "accept": []}}, "answer.accept", "at least one"),
        ({"answer": {"type": "keypoints", "points": ["a"], "min_fraction": 0}}, "answer.min_fraction", "(0, 1]"),
        ({"answer": {"type": "none"}}, "answer.type", "only for refusal_probe"),
        ({"gold_passages": "a.md#b"}, "gold_passages", "list of non-empty strings"),
        ({"colour": "red"}, "colour", "unknown key"),
    ],
)
def test_bad_items_name_file_line_and_field(change: dict, field: str, fragment: str) -> None:
    obj = {**GOOD, **change}
    with pytest.raises(DataError) as err:
        parse_item(obj, "items.jsonl:7", categories=("reasoning", "accuracy", "quality", "refusal_probe"))  # as a benchmark.toml declares them
    message = str(err.value)
    assert message.startswith(f"items.jsonl:7: {field}: ")
    assert fragment in message
    assert "\n" not in message


def test_missing_field() -> None:
    obj = dict(GOOD)
    del obj["answer"]
    with pytest.raises(DataError, match=r"^f:1: answer: missing required field$"):
        parse_item(obj, "f:1")


def test_read_items_reports_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    lines = [json.dumps(GOOD), "{not json", json.dumps({**GOOD, "id": "x-2", "answer": {"type": "numeric", "value": 1, "unit": "flurbs"}}), json.dumps(GOOD)]
    path.write_text("\n".join(lines) + "\n")
    items, problems = read_items(path)
    assert [i.id for i in items] == ["x-1"]
    assert problems[0].startswith(f"{path}:2: json: ")
    assert problems[1].startswith(f"{path}:3: answer.unit: cannot parse unit 'flurbs'")
    assert problems[2] == f"{path}:4: id: duplicate id 'x-1' (first on line 1); make ids unique"


def test_empty_benchmark_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text("\n")
    with pytest.raises(DataError, match="benchmark is empty"):
        load_benchmark(path)


def test_public_fields_never_carry_the_answer() -> None:
    item = parse_item({**GOOD, "solution": "1.5 * ns"}, "f:1")
    public = item.public_fields()
    assert "answer" not in public and "solution" not in public
    assert public["question"] == "q?"
