"""python -m harness export: CSV, JSONL and Parquet of the samples frame; bad input is one line
and exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis import samples_df
from harness.cli.main import main
from tests.scoring.runs import BAD, GOOD, make_run
from tests.test_bad_input import assert_clean_error, harness


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD})


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_writes_the_samples_frame(run: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    out = tmp_path / "out" / f"samples.{fmt}"
    assert main(["export", str(run), str(run), "--output", str(out)]) == 0  # the format comes from the extension
    assert f"wrote {out} (48 rows," in capsys.readouterr().out
    read = {"csv": pd.read_csv, "jsonl": lambda p: pd.read_json(p, lines=True, dtype=False), "parquet": pd.read_parquet}[fmt]
    back = read(out)
    frame = samples_df(run)
    assert list(back.columns) == list(frame.columns) and len(back) == 48
    assert back["response"].tolist()[:24] == frame["response"].tolist()
    assert back["correct"].tolist()[:24] == [bool(x) for x in frame["correct"]]
    tags = back["tags"].iloc[0]
    assert (json.loads(tags) if fmt == "csv" else list(tags)) == ["ddr5", "bandwidth"]
    if fmt == "parquet":  # dtypes survive the round trip
        assert {c: str(t) for c, t in back.dtypes.items() if c not in ("prompt", "extra")} == {
            c: str(t) for c, t in frame.dtypes.items() if c not in ("prompt", "extra")
        }
    if fmt == "jsonl":
        first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        assert first["created"] == "2025-01-01T00:00:00+00:00" and first["extra"] == {} and first["limit"] is None


def test_export_metrics_frame(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics.csv"
    assert main(["export", str(run), "--frame", "metrics", "--format", "csv", "--output", str(out)]) == 0
    metrics = pd.read_csv(out)
    assert metrics[(metrics["system"] == "rag") & (metrics["metric"] == "accuracy")]["value"].tolist() == [1.0]


def test_export_bad_input(run: Path, tmp_path: Path) -> None:
    assert_clean_error(harness("export", str(tmp_path / "nowhere"), "--output", str(tmp_path / "x.csv")), "nowhere/run.json: not found", "pass a run directory")
    assert_clean_error(
        harness("export", str(run), "--output", str(tmp_path / "x.txt")), "--output", "cannot tell the format", "pass --format csv|jsonl|parquet"
    )
    assert_clean_error(harness("export", str(run), "--format", "csv", "--output", str(tmp_path)), "is a folder", "pass a file name")
    (run / "samples.jsonl").write_text('{"id": "st-r-001"}\n{oops\n{"id": "st-r-002"}\n')
    assert_clean_error(harness("export", str(run), "--output", str(tmp_path / "x.csv")), "samples.jsonl:2: not valid JSON")
    assert not (tmp_path / "x.csv").exists()


def test_parquet_without_pyarrow_names_the_extra(run: Path, tmp_path: Path) -> None:
    shadow = tmp_path / "no_pyarrow"
    shadow.mkdir()
    (shadow / "pyarrow.py").write_text('raise ImportError("pyarrow is not installed")\n')
    result = harness(
        "export", str(run), "--output", str(tmp_path / "x.parquet"), env={"PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])}
    )
    assert_clean_error(result, "--format parquet: needs pyarrow", "pip install 'raq-harness[parquet]'", "--format csv or jsonl")
    assert not (tmp_path / "x.parquet").exists()
