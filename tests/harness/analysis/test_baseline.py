"""The committed baseline (reports/baseline) as frames: samples_df works on a fresh clone, the
metrics computed from the frames equal the ones stored in its run.json, and the docs examples
run on it. A missing file fails the test and names it (reports/baseline/README.md says how the
folder is made)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.analysis import samples_df
from tests.conftest import REPO
from tests.harness.analysis.test_docs import run_examples
from tests.harness.analysis.test_summary import assert_frames_equal_run_metrics

BASELINE = REPO / "reports" / "baseline"
#: What samples_df reads; grades.jsonl is derived, but without it every answer is regraded (and
#: the file written into reports/baseline) on each test run.
BASELINE_FILES = ("run.json", "samples.jsonl", "benchmark.jsonl", "grades.jsonl")


def assert_baseline_complete() -> None:
    missing = [name for name in BASELINE_FILES if not (BASELINE / name).exists()]
    if missing:
        pytest.fail(f"reports/baseline lacks {', '.join(missing)}: regenerate the baseline and copy them from its run folder (reports/baseline/README.md)")


def test_baseline_samples_frame_has_every_graded_answer() -> None:
    assert_baseline_complete()
    run = json.loads((BASELINE / "run.json").read_text())
    df = samples_df(BASELINE)
    n_items = run["benchmark"]["selected_items"]
    assert len(df) == len(run["systems"]) * n_items
    assert df.groupby("system", observed=True).size().to_dict() == {name: n_items for name in run["systems"]}
    assert not df.duplicated(["system", "id"]).any() and not df["grader"].isna().any()


def test_baseline_frames_equal_run_json() -> None:
    assert_baseline_complete()
    assert_frames_equal_run_metrics(BASELINE, json.loads((BASELINE / "run.json").read_text())["metrics"])


def test_baseline_docs_examples_run(tmp_path: Path) -> None:
    """As written in docs/analysis.md, from a folder holding only reports/baseline (a checkout's
    own runs/ stays out of the history example)."""
    assert_baseline_complete()
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "baseline").symlink_to(BASELINE)
    kd, tags, history = run_examples(tmp_path)
    assert set(kd["kd_wins"]["id"]) <= set(kd["df"]["id"])
    assert {"vanilla", "rag", "items"} <= set(tags["by_tag"].columns)
    assert history["accuracy"].shape[0] == 1


def test_baseline_likelihood_equals_run_json() -> None:
    """The committed likelihood rows give back the likelihood measures and paired comparisons
    stored in run.json, and every system has a reference score on every item."""
    from harness.likelihood_runner import read_likelihood
    from harness.scoring.gradebook import load_items
    from harness.scoring.likelihood import likelihood_metrics

    if not (BASELINE / "likelihood.jsonl").exists():
        pytest.fail("reports/baseline lacks likelihood.jsonl: regenerate the baseline with --mode all (reports/baseline/README.md)")
    run = json.loads((BASELINE / "run.json").read_text())
    stored = run["metrics"]["likelihood"]
    computed = likelihood_metrics(read_likelihood(BASELINE), load_items(BASELINE), list(run["systems"]), stored["pairs"])
    assert json.loads(json.dumps(computed)) == stored
    n_items = run["benchmark"]["selected_items"]
    assert {name: m["reference_n"] for name, m in stored["per_system"].items()} == {name: n_items for name in run["systems"]}
    pairs = {(c["a"], c["b"]) for c in stored["comparisons"]}
    assert {("lora-kd", "lora"), ("lora", "vanilla")} <= pairs
