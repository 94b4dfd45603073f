"""Multiple-choice options on benchmark items: schema errors name file, line and field; the
graders reject distractors within tolerance; the shipped choices are what the script builds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from harness.api.errors import DataError
from harness.api.items import ERROR_TYPES, parse_item, quantity_text
from harness.benchmark import BENCHMARKS_DIR, load_benchmark, read_items, validate_choices
from harness.cli.main import main as cli_main

KEY = {"text": "22.4 GB/s", "correct": True}
WRONG = {"text": "179.2 GB/s", "correct": False, "error": "bits-bytes"}
GOOD = {
    "id": "x-1",
    "category": "reasoning",
    "question": "What bandwidth, in GB/s?",
    "answer": {"type": "numeric", "value": 22.4, "unit": "GB/s"},
    "choices": [KEY, WRONG],
}


@pytest.mark.parametrize(
    ("choices", "field", "fragment"),
    [
        ("22.4 GB/s", "choices", "at least two choice objects"),
        ([KEY], "choices", "at least two choice objects"),
        ([KEY, {**KEY, "text": "22.40 GB/s"}], "choices", "exactly one choice must be correct"),
        ([WRONG, {**WRONG, "text": "2.8 GB/s"}], "choices", "found 0"),
        ([{**KEY, "error": "bits-bytes"}, WRONG], "choices[0].error", "the key has no error type"),
        ([KEY, {**WRONG, "error": "typo"}], "choices[1].error", "unknown error type 'typo'"),
        ([KEY, {**WRONG, "text": "22.4  gb/s"}], "choices[1].text", "duplicate of choices[0]"),
        ([KEY, {**WRONG, "colour": 1}], "choices[1].colour", "unknown key"),
        ([KEY, {**WRONG, "text": " 2.8 GB/s"}], "choices[1].text", "without surrounding spaces"),
        ([KEY, {**WRONG, "correct": "no"}], "choices[1].correct", "true or false"),
    ],
)
def test_bad_choices_name_file_line_and_field(choices: object, field: str, fragment: str) -> None:
    with pytest.raises(DataError) as err:
        parse_item({**GOOD, "choices": choices}, "items.jsonl:3")
    assert str(err.value).startswith(f"items.jsonl:3: {field}: ") and fragment in str(err.value) and "\n" not in str(err.value)


def test_choices_only_on_numeric_and_text_items() -> None:
    keypoints = {**GOOD, "category": "quality", "answer": {"type": "keypoints", "points": ["a", "b"]}}
    with pytest.raises(DataError, match="only numeric and text items take choices"):
        parse_item(keypoints, "f:1")
    item = parse_item(GOOD, "f:1")
    assert [c.text for c in item.choices] == ["22.4 GB/s", "179.2 GB/s"] and item.to_dict()["choices"] == [KEY, WRONG]
    assert "choices" not in item.public_fields()  # the key's position is an answer key too


def items_file(tmp_path: Path, *objs: dict) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return path


def test_graders_reject_a_distractor_within_tolerance_and_a_key_that_is_not_the_answer(tmp_path: Path) -> None:
    close = {**GOOD, "choices": [KEY, {**WRONG, "text": "22.6 GB/s", "error": "factor-two"}]}  # within the 2 % default
    bad_key = {**GOOD, "id": "x-2", "choices": [{**KEY, "text": "22.4 Gb/s"}, {**WRONG, "text": "2.8 GB/s"}]}
    text = {
        "id": "x-3",
        "category": "accuracy",
        "question": "Which refresh?",
        "answer": {"type": "text", "accept": ["REFsb", "same-bank refresh"]},
        "choices": [{"text": "REFsb", "correct": True}, {"text": "same bank refresh", "correct": False, "error": "confusable-term"}],
    }
    path = items_file(tmp_path, close, bad_key, text)
    items, problems = read_items(path)
    assert problems == []
    found = validate_choices(items, path, 0.02)
    assert found == [
        f"{path}: x-1: choices[1]: distractor '22.6 GB/s' grades correct (within rel_tol of 22.4 GB/s); replace it",
        f"{path}: x-2: choices[0]: the key '22.4 Gb/s' does not grade correct; write it as the answer states it",
        f"{path}: x-3: choices[1]: distractor 'same bank refresh' grades correct (an accepted variant); replace it",
    ]


def test_validate_command_reports_choice_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = items_file(tmp_path, {**GOOD, "choices": [KEY, {**WRONG, "text": "22.5 GB/s"}]})
    assert cli_main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "x-1: choices[1]: distractor '22.5 GB/s' grades correct" in out and "1 problem(s)" in out


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (22.4, "GB/s", "22.4 GB/s"),
        (39.0, "dimensionless", "39"),
        (11.28, "%", "11.28%"),
        (1176, "nm**2", "1176 nm^2"),
        (1e7, "cm/s", "1e7 cm/s"),
        (1391304, "dimensionless", "1391304"),
        (-20.0, "ps", "-20 ps"),
    ],
)
def test_quantity_text_states_keys_as_the_benchmark_does(value: float, unit: str, text: str) -> None:
    assert quantity_text(value, unit) == text


def test_shipped_choices_are_current_and_cover_every_numeric_and_text_item() -> None:
    spec = importlib.util.spec_from_file_location("make_choices", Path(__file__).resolve().parents[2] / "scripts" / "make_choices.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
    for name in ("items.jsonl", "dev.jsonl"):
        bench = load_benchmark(BENCHMARKS_DIR / "raq" / name)
        for item in bench.items:
            if item.answer.type in ("numeric", "text"):
                assert 4 <= len(item.choices) <= 6, item.id
                assert all(c.error in ERROR_TYPES for c in item.choices if not c.correct)
                assert next(c for c in item.choices if c.correct).text == item.answer.stated()
        assert validate_choices(list(bench.items), bench.path, bench.config.default_rel_tol, bench.config.generation_pattern) == []
