"""samples_df: one row per run x system x item with item, answer, grade and run columns, stable
dtypes; several runs concatenate; bad run folders are DataErrors naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis import SAMPLE_COLUMNS, samples_df
from harness.api.errors import DataError
from tests.scoring.runs import BAD, GOOD, make_run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD}, latency={"vanilla": 0.4, "rag": 1.3})


def test_one_row_per_system_and_item_with_grades_in_log_order(run: Path) -> None:
    df = samples_df(run)
    assert len(df) == 24 and not df["grader"].isna().any()
    log = [(json.loads(line)["system"], json.loads(line)["id"]) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert list(zip(df["system"].astype(str), df["id"])) == log
    rag = df[df["system"] == "rag"].set_index("id")
    assert rag["correct"].all() and not rag["refused"].any()
    vanilla = df[df["system"] == "vanilla"].set_index("id")
    assert vanilla.loc["st-r-001", "unit_error"] and not vanilla.loc["st-r-001", "value_error"]  # 19.2 Gb/s for 19.2 GB/s
    assert vanilla.loc["st-p-001", "refused"] and vanilla.loc["st-p-001", "category"] == "refusal_probe"
    assert pd.isna(vanilla.loc["st-a-003", "unit_error"]) and vanilla.loc["st-a-003", "answer_type"] == "text"
    assert rag.loc["st-r-001", "answer_key"] == "19.2 GB/s" and rag.loc["st-r-001", "answer_value"] == 19.2
    assert rag.loc["st-q-001", "coverage"] == 1.0 and rag.loc["st-r-001", "tags"] == ["ddr5", "bandwidth"]
    assert rag.loc["st-r-001", "latency_s"] == 1.3 and rag.loc["st-r-001", "completion_tokens"] == 20


def test_columns_and_dtypes_are_the_documented_ones(run: Path) -> None:
    df = samples_df(run)
    assert list(df.columns) == list(SAMPLE_COLUMNS)
    assert {name: str(dtype) for name, dtype in df.dtypes.items()} == SAMPLE_COLUMNS
    assert list(df["system"].cat.categories) == ["vanilla", "rag"]  # run order
    assert list(df["category"].cat.categories) == ["reasoning", "accuracy", "quality", "refusal_probe"]
    assert df["run_id"].unique().tolist() == ["run"] and str(df["created"].iloc[0]) == "2025-01-01 00:00:00+00:00"
    assert df["baseline_system"].iloc[0] == "vanilla" and df["benchmark"].iloc[0] == "raq-starter"


def test_runs_concatenate_with_run_columns(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a" / "run", {"vanilla": BAD})
    b = make_run(tmp_path / "b" / "run", {"rag": GOOD, "vanilla": GOOD})
    df = samples_df(a, b)
    assert len(df) == 36
    assert df["run_id"].unique().tolist() == [str(a), str(b)]  # same folder name: the paths tell them apart
    assert list(df["system"].cat.categories) == ["vanilla", "rag"]  # one categorical across runs
    accuracy = df.groupby(["run_id", "system"], observed=True)["correct"].mean()
    assert accuracy[(str(b), "rag")] == 1.0 and accuracy[(str(a), "vanilla")] == 0.0


def test_retrieval_extra_and_new_grade_fields(run: Path) -> None:
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    for sample in samples:
        if sample["system"] == "rag":
            sample["extra"] = {
                "retrieved": [{"chunk_id": "a.md#x:0", "anchor": "a.md#x"}, {"chunk_id": "b.md#y:1", "anchor": "b.md#y"}],
                "k": 1,
                "logprob": -3.5,
            }
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    grades = [json.loads(line) for line in (run / "grades.jsonl").read_text().splitlines()]
    (run / "grades.jsonl").write_text("".join(json.dumps({**g, "judge_flag": g["system"] == "vanilla"}) + "\n" for g in grades))
    df = samples_df(run)
    rag = df[df["system"] == "rag"].iloc[0]
    assert rag["retrieved"] == ["a.md#x:0", "b.md#y:1"] and rag["passages_shown"] == 1 and rag["extra"]["logprob"] == -3.5
    assert df[df["system"] == "vanilla"]["retrieved"].isna().all()
    assert list(df.columns[-1:]) == ["judge_flag"] and df.groupby("system", observed=True)["judge_flag"].all().to_dict() == {"vanilla": True, "rag": False}


def test_a_sample_of_an_unknown_item_has_no_grade(run: Path) -> None:
    with (run / "samples.jsonl").open("a") as handle:
        handle.write(json.dumps({"id": "not-an-item", "system": "rag", "category": "quality", "question": "q?", "response": "r", "latency_s": 2.0}) + "\n")
    df = samples_df(run)
    row = df.iloc[-1]
    assert row["id"] == "not-an-item" and row["category"] == "quality" and row["question"] == "q?"
    assert pd.isna(row["grader"]) and pd.isna(row["correct"]) and pd.isna(row["answer_type"])


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (lambda run: (run / "run.json").unlink(), ["run.json: not found", "pass a run directory"]),
        (lambda run: (run / "samples.jsonl").unlink(), ["samples.jsonl: not found"]),
        (lambda run: (run / "samples.jsonl").write_text('{"id": "st-r-001"}\n[1, 2]\n'), ["samples.jsonl: record 2: expected a JSON object"]),
        (lambda run: (run / "samples.jsonl").write_text('{"id": "st-r-001"}\n{oops\n{"id": "st-r-002"}\n'), ["samples.jsonl:2: not valid JSON"]),
        (lambda run: (run / "benchmark.jsonl").unlink(), ["benchmark.jsonl: item snapshot not found"]),
    ],
    ids=["not-a-run", "no-samples", "not-an-object", "malformed-line", "no-item-snapshot"],
)
def test_bad_run_folders_are_data_errors(run: Path, damage, fragments: list[str]) -> None:
    damage(run)
    with pytest.raises(DataError) as info:
        samples_df(run)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_no_run_given() -> None:
    with pytest.raises(DataError, match="no run directory given"):
        samples_df()


def test_stale_grades_are_regraded(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A grades.jsonl from another grader version is regraded (and rewritten), as the report does."""
    import harness.scoring.calibration as calibration
    import harness.scoring.embeddings as embeddings
    from tests.scoring.fakes import HashEmbedder, pattern_only_calibration

    patterns_only = pattern_only_calibration()
    monkeypatch.setattr(embeddings, "minilm", lambda: HashEmbedder())
    monkeypatch.setattr(calibration, "load_calibration", lambda: patterns_only)
    grades = [json.loads(line) for line in (run / "grades.jsonl").read_text().splitlines()]
    (run / "grades.jsonl").write_text("".join(json.dumps({**g, "grader": "0.0+old", "correct": False}) + "\n" for g in grades))
    df = samples_df(run)
    assert df[df["system"] == "rag"]["correct"].all() and "0.0+old" not in (run / "grades.jsonl").read_text()
