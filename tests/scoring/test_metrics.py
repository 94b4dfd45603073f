"""Run metrics, grades.jsonl and paired comparisons on synthetic run logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.benchmark import load_benchmark
from harness.runlog import iter_jsonl, read_samples
from harness.scoring.grade import GradeConfig
from harness.scoring.gradebook import GRADES, ensure_grades, load_items, read_grades
from harness.scoring.metrics import compute_metrics, run_metrics
from tests.conftest import STARTER
from tests.scoring.fakes import HashEmbedder, pattern_only_calibration
from tests.scoring.runs import BAD, GOOD, make_run


def _metrics(run_dir: Path) -> dict:
    grades = read_grades(run_dir)
    return compute_metrics(grades, read_samples(run_dir), load_items(run_dir), ["vanilla", "rag"], "vanilla")


def test_per_system_metrics(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD}, latency={"vanilla": 0.5, "rag": 1.5})
    metrics = _metrics(run_dir)
    good, bad = metrics["per_system"]["rag"], metrics["per_system"]["vanilla"]
    assert good["n"] == bad["n"] == 12
    assert good["accuracy"] == 1.0 and bad["accuracy"] == 0.0
    assert good["accuracy_ci"] == [0.7575, 1.0] and bad["accuracy_ci"] == [0.0, 0.2425]  # Wilson: 12/12 and 0/12 are not certainties
    # BAD numeric answers: 19.2 Gb/s, 2 (no unit), 38 ns (within 2% of 39? no: 2.6% off) -> 2 unit errors of 7
    assert bad["numeric_n"] == 7
    assert bad["unit_error_rate"] == pytest.approx(2 / 7, abs=1e-4)
    assert bad["numeric_value_error_rate"] == pytest.approx(5 / 7, abs=1e-4)
    assert good["unit_error_rate"] == 0.0 and good["numeric_value_error_rate"] == 0.0
    assert bad["probe_n"] == 2 and bad["false_refusal_rate"] == 1.0 and good["false_refusal_rate"] == 0.0
    assert bad["refusal_rate"] == pytest.approx(3 / 12, abs=1e-4)
    assert bad["refusal_rate_ci"] == pytest.approx([0.0889, 0.5323], abs=1e-4)  # Wilson 3/12
    assert bad["unit_error_rate_ci"] == pytest.approx([0.0822, 0.6411], abs=1e-4)  # Wilson 2/7
    assert good["false_refusal_rate_ci"] == [0.0, 0.6576]  # Wilson 0/2
    assert good["quality"] == 1.0
    assert good["mean_latency_s"] == 1.5
    assert set(good["accuracy_by_category"]) == {"reasoning", "accuracy", "quality", "refusal_probe"}
    assert good["retrieval"] is None


def test_paired_comparison_against_baseline(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD, "lora": BAD})
    result = compute_metrics(read_grades(run_dir), read_samples(run_dir), load_items(run_dir), ["vanilla", "rag", "lora"], "vanilla")["versus_baseline"]
    rows = {r["system"]: r for r in result["rows"]}
    assert rows["rag"]["difference"] == 1.0 and rows["rag"]["system_only"] == 12
    assert rows["rag"]["p_value"] == pytest.approx(2 / 2**12, rel=1e-3)
    assert rows["rag"]["p_holm"] == pytest.approx(2 * rows["rag"]["p_value"], rel=1e-3)
    assert rows["rag"]["significant"] and not rows["lora"]["significant"]
    assert rows["lora"]["difference"] == 0.0 and rows["lora"]["p_value"] == 1.0 and rows["lora"]["mdd"] is None  # they agree on every item


def test_missing_baseline_is_explained(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"rag": GOOD})
    result = compute_metrics(read_grades(run_dir), read_samples(run_dir), load_items(run_dir), ["rag"], "vanilla")["versus_baseline"]
    assert result["rows"] == [] and "--baseline-system" in result["note"]


def test_grades_file_is_reused_and_regraded_when_stale(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": GOOD})
    embedder = HashEmbedder()
    from harness.scoring.grade import GradeConfig

    config = GradeConfig(embedder=embedder, calibration=pattern_only_calibration())
    ensure_grades(run_dir, config=config)
    assert embedder.calls == 0  # current grades.jsonl reused
    with (run_dir / "samples.jsonl").open("a") as handle:  # a new system answered one more item
        handle.write(json.dumps({"id": "st-a-001", "system": "rag", "response": "1.1 V", "latency_s": 1.0}) + "\n")
    grades = ensure_grades(run_dir, config=config)
    assert embedder.calls > 0
    assert len(grades) == 13 and len(list(iter_jsonl(run_dir / GRADES))) == 13


def test_run_metrics_grades_the_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's entry point: grade every sample, write grades.jsonl, return metrics."""
    import harness.scoring.calibration as calibration
    import harness.scoring.embeddings as embeddings

    monkeypatch.setattr(embeddings, "minilm", lambda: HashEmbedder())
    patterns_only = pattern_only_calibration()
    monkeypatch.setattr(calibration, "load_calibration", lambda: patterns_only)
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD}, grade=False)
    metrics = run_metrics(run_dir, load_benchmark(STARTER), ["vanilla", "rag"], "vanilla")
    assert (run_dir / GRADES).exists()
    assert metrics["per_system"]["rag"]["accuracy"] == 1.0
    assert set(metrics["outcomes"]) == {"vanilla", "rag"}
    assert metrics["outcomes"]["rag"]["st-p-001"] == [True, False, "refusal_probe"]
    assert metrics["grading"]["agreement"]["split"] == "held_out"  # data/agreement.json, from python -m harness calibrate
    # samples.jsonl is untouched and still readable
    assert len(read_samples(run_dir)) == 24


def test_retrieval_metrics_for_systems_that_retrieved(tmp_path: Path) -> None:
    from dataclasses import replace

    run_dir = make_run(tmp_path / "run", {"vanilla": GOOD, "rag": GOOD})
    items = load_items(run_dir)
    items["st-r-001"] = replace(items["st-r-001"], gold_passages=("ddr5/architecture.md",))  # a whole document is gold
    samples = read_samples(run_dir)
    for sample in samples:
        if sample["system"] == "rag":
            sample["extra"] = {"retrieved": [{"anchor": "timing/setup-hold.md"}, {"anchor": "ddr5/architecture.md#subchannels"}]}
    metrics = compute_metrics(read_grades(run_dir), samples, items, ["vanilla", "rag"], "vanilla")
    assert metrics["per_system"]["vanilla"]["retrieval"] is None
    overall = metrics["per_system"]["rag"]["retrieval"]["all"]
    assert overall["n"] == 1 and overall["hit@1"] == 0.0 and overall["hit@10"] is None  # only 2 retrieved
    assert overall["mrr"] == 0.5


def test_items_a_system_was_not_applicable_to_are_left_out(tmp_path: Path) -> None:
    """Half of rag's items are not applicable: they count in none of its figures, its outcomes,
    the pair table or a run-to-run comparison, and are counted apart."""
    from harness.scoring.comparison import compare_runs

    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD}, grade=False)
    lines = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    for sample in lines:
        if sample["system"] == "rag" and sample["id"] in ("st-r-001", "st-r-002", "st-a-001", "st-p-001", "st-q-001", "st-q-002"):
            sample.update(response="", finish_reason="not_applicable", latency_s=0.0, extra={"not_applicable": "no gold_passages"})
    (run_dir / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in lines))
    grades = ensure_grades(run_dir, config=GradeConfig(embedder=HashEmbedder(), calibration=pattern_only_calibration()))
    skipped = [g for g in grades if g.get("applicable") is False]
    assert len(skipped) == 6 and {g["note"] for g in skipped} == {"no gold_passages"} and all("correct" not in g for g in skipped)
    metrics = compute_metrics(grades, read_samples(run_dir), load_items(run_dir), ["vanilla", "rag"], "vanilla")
    rag = metrics["per_system"]["rag"]
    assert (rag["n"], rag["n_not_applicable"], rag["not_applicable"]) == (6, 6, {"no gold_passages": 6})
    assert rag["accuracy"] == 1.0 and rag["mean_latency_s"] == 0.5  # the zero latencies of skipped items are not averaged in
    assert rag["probe_n"] == 1 and rag["numeric_n"] == 4
    assert len(metrics["outcomes"]["rag"]) == 6 and "st-r-001" not in metrics["outcomes"]["rag"]
    row = next(r for r in metrics["comparisons"]["rows"] if r["metric"] == "accuracy")
    assert (row["system"], row["n_shared"], row["system_only"]) == ("rag", 6, 6)
    rows = {r.metric: r for r in compare_runs(grades, read_samples(run_dir), grades, read_samples(run_dir)) if r.system == "rag"}
    assert rows["accuracy"].n == 6 and rows["refusal_rate"].n == 6 and rows["mean_latency_s"].n == 6
