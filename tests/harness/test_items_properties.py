"""Property tests: the benchmark loader never crashes on arbitrary input; it accepts or explains."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.api.errors import DataError
from harness.api.items import parse_item
from harness.benchmark import read_items

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)

item_like = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(max_size=8), st.integers()),
        "category": st.sampled_from(["reasoning", "accuracy", "quality", "refusal_probe", "x"]),
        "question": st.text(max_size=30),
    },
    optional={
        "answer": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"type": st.sampled_from(["numeric", "text", "keypoints", "none", "?"])},
                optional={
                    "value": json_values,
                    "unit": st.text(max_size=8),
                    "accept": json_values,
                    "points": json_values,
                    "rel_tol": json_values,
                    "min_fraction": json_values,
                },
            ),
        ),
        "gold_passages": json_values,
        "tags": json_values,
        "solution": json_values,
    },
)


@given(st.one_of(json_values, item_like))
@settings(max_examples=300, deadline=None)
def test_parse_item_accepts_or_raises_data_error(obj: object) -> None:
    try:
        item = parse_item(obj, "f.jsonl:1")
    except DataError as exc:
        message = str(exc)
        assert message.startswith("f.jsonl:1: ") and "\n" not in message
    else:
        assert item.id and item.question


@given(st.lists(st.one_of(st.text(max_size=40), item_like.map(json.dumps)), max_size=6))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_read_items_reports_problems_per_line(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(line.replace("\n", " ") for line in lines) + "\n", encoding="utf-8")
    items, problems = read_items(path)
    non_blank = [line for line in lines if line.replace("\n", " ").strip()]
    assert len(items) + len(problems) == len(non_blank)
    for problem in problems:
        assert problem.startswith(f"{path}:") and "\n" not in problem
