"""metrics_df / comparisons_df / summarize: the groupby metrics equal what run.json stores, for
one run and for several."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.analysis import comparisons_df, metrics_df, samples_df, summarize
from harness.runlog import read_samples
from harness.scoring.gradebook import load_items, read_grades
from harness.scoring.metrics import compute_metrics
from tests.scoring.runs import BAD, GOOD, make_run


def _get(rows: dict[str, dict[str, Any]], metric: str, field: str = "value", default: Any = None) -> Any:
    value = rows.get(metric, {}).get(field)
    return default if value is None or pd.isna(value) else value


def _ci(rows: dict[str, dict[str, Any]], metric: str) -> list[float] | None:
    low, high = _get(rows, metric, "ci_low"), _get(rows, metric, "ci_high")
    return None if low is None else [low, high]


def as_stored(metrics: pd.DataFrame, system: str) -> dict[str, Any]:
    """One system's metrics_df rows in the shape of run.json ``metrics.per_system[system]``
    (every key the frame gives)."""
    rows = {str(r["metric"]): r for r in metrics[metrics["system"] == system].to_dict("records")}
    counts = {"numeric_n": "numeric_value_error_rate", "quality_n": "quality", "probe_n": "false_refusal_rate"}
    means = (
        "unit_error_rate",
        "numeric_value_error_rate",
        "quality",
        "refusal_rate",
        "false_refusal_rate",
        "mean_latency_s",
        "mean_completion_tokens",
        "mean_prompt_tokens",
        "accuracy_strict",
        "degenerate_rate",
    )
    rates = ("unit_error_rate", "numeric_value_error_rate", "refusal_rate", "false_refusal_rate")
    return {
        **{f"{rate}_ci": _ci(rows, rate) for rate in rates if rate in rows},
        "n_scored": _get(rows, "accuracy", "n", 0),
        "accuracy": _get(rows, "accuracy"),
        "accuracy_ci": _ci(rows, "accuracy"),
        "accuracy_by_category": {
            c: {"n": _get(rows, f"accuracy_{c}", "n"), "accuracy": _get(rows, f"accuracy_{c}"), "ci": _ci(rows, f"accuracy_{c}")}
            for c in (metric.removeprefix("accuracy_") for metric in rows if metric.startswith("accuracy_") and metric != "accuracy_strict")
        },
        "degenerate_by_category": {metric.removeprefix("degenerate_rate_"): _get(rows, metric) for metric in rows if metric.startswith("degenerate_rate_")},
        **{key: _get(rows, metric, "n", 0) for key, metric in counts.items()},
        **{metric: _get(rows, metric) for metric in means},
        "retrieval": {k: _get(rows, f"retrieval_{k}") for k in ("hit@1", "hit@3", "hit@5", "hit@10", "mrr")},
    }


def assert_frames_equal_run_metrics(run_dir: Path, stored: dict[str, Any]) -> None:
    """metrics_df and comparisons_df of ``run_dir`` equal ``stored`` (a run.json "metrics")."""
    metrics = metrics_df(run_dir)
    assert set(metrics["system"].astype(str)) == set(stored["per_system"])
    for name, m in stored["per_system"].items():
        want = {**{k: m[k] for k in as_stored(metrics, name) if k != "retrieval"}, "retrieval": {}}
        want["retrieval"] = {k: (m.get("retrieval") or {}).get("all", {}).get(k) for k in ("hit@1", "hit@3", "hit@5", "hit@10", "mrr")}
        assert as_stored(metrics, name) == want, name
    assert_table_equal(comparisons_df(run_dir), stored["comparisons"])
    assert_table_equal(comparisons_df(run_dir, baseline=stored["versus_baseline"]["baseline"]), stored["versus_baseline"])


def assert_table_equal(frame: pd.DataFrame, table: dict[str, Any]) -> None:
    """Every row of a comparisons_df frame equals the stored pair table's row, field by field."""
    rows = {(r["metric"], r["system"], r["baseline"]): r for r in table["rows"]}
    got = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert {(r["metric"], str(r["system"]), r["baseline"]) for r in got} == set(rows)
    for row in got:
        want = rows[(row["metric"], str(row["system"]), row["baseline"])]
        assert [row["ci_low"], row["ci_high"]] == want["ci"]
        assert {k: row[k] for k in want if k not in ("ci", "system")} == {k: v for k, v in want.items() if k not in ("ci", "system")}


def test_frames_equal_the_run_metrics(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD, "lora": {k: v for k, v in GOOD.items() if not k.startswith("st-p")}})
    stored = compute_metrics(read_grades(run_dir), read_samples(run_dir), load_items(run_dir), ["vanilla", "rag", "lora"], "vanilla")
    assert_frames_equal_run_metrics(run_dir, stored)
    assert stored["per_system"]["lora"]["probe_n"] == 0 and stored["per_system"]["lora"]["false_refusal_rate"] is None


def test_metrics_df_shape_and_values(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", {"vanilla": BAD, "rag": BAD}, latency={"vanilla": 0.4, "rag": 1.0})
    b = make_run(tmp_path / "b", {"vanilla": BAD, "rag": GOOD}, latency={"vanilla": 0.4, "rag": 2.0})
    metrics = metrics_df(a, b, retrieval=False)
    assert list(metrics.columns[-7:]) == ["system", "metric", "n", "value", "ci_low", "ci_high", "interval"]
    assert {str(c): str(t) for c, t in metrics.dtypes.items() if c in ("system", "metric", "n", "value", "ci_low", "ci_high", "interval")} == {
        "system": "category", "metric": "category", "n": "Int64", "value": "Float64", "ci_low": "Float64", "ci_high": "Float64", "interval": "string"
    }  # fmt: skip
    accuracy = metrics[metrics["metric"] == "accuracy"].pivot(index="run_id", columns="system", values="value")
    assert accuracy.loc["a", "rag"] == 0.0 and accuracy.loc["b", "rag"] == 1.0
    latency = metrics[(metrics["metric"] == "mean_latency_s") & (metrics["system"] == "rag")]
    assert latency["value"].tolist() == [1.0, 2.0] and latency["n"].tolist() == [12, 12]
    assert len(metrics) == 2 * 2 * 19  # runs x systems x metrics (every metric applies here; 4 categories)


def test_summarize_by_any_grouping(tmp_path: Path) -> None:
    df = samples_df(make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD}))
    by_type = summarize(df, by=["system", "answer_type"])
    accuracy = by_type[by_type["metric"] == "accuracy"].set_index(["system", "answer_type"])["value"]
    assert accuracy[("rag", "numeric")] == 1.0 and accuracy[("vanilla", "keypoints")] == 0.0


def test_comparisons_against_another_baseline(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD})
    rows = comparisons_df(run_dir, baseline="rag")
    assert rows["system"].astype(str).tolist() == ["vanilla"] and rows["difference"].tolist() == [-1.0]
    assert rows["p_value"].iloc[0] == pytest.approx(2 / 2**12, rel=1e-3) and bool(rows["significant"].iloc[0])


def test_proportions_get_wilson_intervals_and_means_the_bootstrap(tmp_path: Path) -> None:
    from scipy.stats import binomtest

    metrics = metrics_df(make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD}), retrieval=False)
    rows = metrics.set_index(["system", "metric"], drop=False)
    kinds = rows["interval"].astype(str).to_dict()
    assert {m for (s, m), k in kinds.items() if k == "wilson" and s == "vanilla"} == {
        "accuracy", "accuracy_reasoning", "accuracy_accuracy", "accuracy_quality", "accuracy_refusal_probe",
        "unit_error_rate", "numeric_value_error_rate", "refusal_rate", "false_refusal_rate", "accuracy_strict",
        "degenerate_rate", "degenerate_rate_reasoning", "degenerate_rate_accuracy", "degenerate_rate_quality", "degenerate_rate_refusal_probe",
    }  # fmt: skip
    assert kinds[("vanilla", "quality")] == kinds[("vanilla", "mean_latency_s")] == "bootstrap"
    zero = rows.loc[("vanilla", "accuracy")]  # 0 of 12 scored items: the interval is not [0, 0]
    assert zero["value"] == 0.0 and zero["n"] == 12 and zero["ci_low"] == 0.0
    assert zero["ci_high"] == pytest.approx(binomtest(0, 12).proportion_ci(method="wilson").high, abs=5e-5) == pytest.approx(0.2425, abs=5e-5)
    assert rows.loc[("rag", "accuracy"), "ci_low"] == pytest.approx(0.7575, abs=5e-5) and rows.loc[("rag", "accuracy"), "ci_high"] == 1.0


def test_the_pair_table_as_a_frame(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD, "lora": BAD})
    table = comparisons_df(run_dir)
    assert list(zip(table["metric"], table["system"].astype(str), table["baseline"])) == [
        ("accuracy", "lora", "vanilla"),
        ("accuracy", "rag", "vanilla"),
        ("refusal_rate", "rag", "vanilla"),
    ]  # the default pairs present in this run, in their order; lora-kd, rag+lora-kd and teacher are not
    rag = table[(table["metric"] == "accuracy") & (table["system"] == "rag")].iloc[0]
    assert rag["difference"] == 1.0 and rag["system_only"] == 12 and rag["baseline_only"] == 0
    assert rag["p_value"] == pytest.approx(2 / 2**12, rel=1e-3)
    assert rag["p_holm"] == pytest.approx(3 * rag["p_value"], rel=1e-3)  # smallest of three p-values
    assert rag["mdd"] > 0 and rag["ci_low"] > 0.5
