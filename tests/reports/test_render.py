"""Reports render from the run log alone: files, escaping, CSV, figures; `report` and `compare` CLIs."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import pytest

from harness.cli.main import main
from reports.render import render_run
from tests.scoring.runs import BAD, GOOD, make_run


def test_report_files_are_written(graded_run: Path) -> None:
    paths = render_run(graded_run)
    names = {p.name for p in paths}
    assert {
        "report.md",
        "report.html",
        "summary.csv",
        "accuracy_by_category.png",
        "unit_vs_value_errors.png",
        "false_refusals.png",
        "accuracy_vs_latency.png",
    } <= names
    for path in paths:
        assert path.stat().st_size > 0


def test_html_is_self_contained_and_escapes_model_text(graded_run: Path) -> None:
    render_run(graded_run)
    page = (graded_run / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 4
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(?:src|href)="(?:https?:|/|\.\./)', page)  # nothing fetched
    # every answer of every system is in the side-by-side table
    for text in ("4800 MT/s × 4 B = 19.2 GB/s", "The bandwidth is 19.2 Gb/s"):
        assert text in page


def test_markdown_escapes_model_text(graded_run: Path) -> None:
    render_run(graded_run)
    md = (graded_run / "report.md").read_text()
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    assert r"\| with \*\*bold\*\*" in md  # cannot break the table or turn bold
    assert "![Accuracy by category](plots/accuracy_by_category.png)" in md
    table_rows = [line for line in md.splitlines() if line.startswith("| st-")]
    assert len(table_rows) == 12
    assert all(line.count(" | ") == table_rows[0].count(" | ") for line in table_rows)


def test_summary_csv(graded_run: Path) -> None:
    render_run(graded_run)
    rows = {r["system"]: r for r in csv.DictReader((graded_run / "summary.csv").open())}
    assert set(rows) == {"vanilla", "rag"}
    assert float(rows["rag"]["accuracy"]) == 1.0 and float(rows["vanilla"]["accuracy"]) == 0.0
    assert float(rows["vanilla"]["false_refusal_rate"]) == 1.0
    assert float(rows["rag"]["difference_vs_baseline"]) == 1.0 and rows["vanilla"]["difference_vs_baseline"] == ""


def test_report_cli_regrade_updates_run_json(graded_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import harness.scoring.calibration as calibration
    import harness.scoring.embeddings as embeddings
    from tests.scoring.fakes import HashEmbedder, pattern_only_calibration

    patterns_only = pattern_only_calibration()
    monkeypatch.setattr(embeddings, "minilm", lambda: HashEmbedder())
    monkeypatch.setattr(calibration, "load_calibration", lambda: patterns_only)
    assert main(["report", str(graded_run), "--regrade", "--quiet"]) == 0
    assert "report.html" in capsys.readouterr().out
    metrics = json.loads((graded_run / "run.json").read_text())["metrics"]
    assert metrics["per_system"]["rag"]["accuracy"] == 1.0 and "outcomes" in metrics


def test_report_cli_on_a_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "run.json: not found" in capsys.readouterr().err


def test_compare_cli_shows_paired_deltas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = make_run(tmp_path / "a", {"vanilla": BAD, "rag": BAD}, latency={"vanilla": 0.4, "rag": 1.0})
    after = make_run(tmp_path / "b", {"vanilla": BAD, "rag": GOOD}, latency={"vanilla": 0.4, "rag": 2.0})
    assert main(["compare", str(before), str(after), "--json"]) == 0
    rows = {(r["system"], r["metric"]): r for r in json.loads(capsys.readouterr().out)}
    acc = rows[("rag", "accuracy")]
    assert acc["n"] == 12 and acc["a"] == 0.0 and acc["b"] == 1.0 and acc["delta"] == 1.0
    assert acc["p_value"] == pytest.approx(2 / 2**12, rel=1e-3) and acc["test"] == "exact McNemar"
    assert rows[("vanilla", "accuracy")]["delta"] == 0.0 and rows[("vanilla", "accuracy")]["p_value"] == 1.0
    assert rows[("rag", "false_refusal_rate")]["delta"] == -1.0
    assert rows[("rag", "mean_latency_s")]["delta"] == pytest.approx(1.0) and rows[("rag", "mean_latency_s")]["test"] == "Wilcoxon signed-rank"
    assert rows[("rag", "quality")]["n"] == 4  # 2 quality items + 2 probes with key points
    assert main(["compare", str(before), str(after)]) == 0
    table = capsys.readouterr().out
    assert "accuracy" in table and "better" in table


def test_compare_only_uses_shared_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = make_run(tmp_path / "a", {"rag": {k: v for k, v in GOOD.items() if k.startswith("st-r")}})
    after = make_run(tmp_path / "b", {"rag": GOOD})
    assert main(["compare", str(before), str(after), "--json"]) == 0
    rows = {(r["system"], r["metric"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("rag", "accuracy")]["n"] == 4
    assert rows[("rag", "false_refusal_rate")]["n"] == 0 and rows[("rag", "false_refusal_rate")]["p_value"] is None


def test_compare_of_runs_with_no_shared_item_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = make_run(tmp_path / "a", {"rag": {k: v for k, v in GOOD.items() if k.startswith("st-r")}})
    after = make_run(tmp_path / "b", {"rag": {k: v for k, v in GOOD.items() if not k.startswith("st-r")}})
    assert main(["compare", str(before), str(after)]) == 2
    err = capsys.readouterr().err
    assert "share no graded item" in err and len(err.strip().splitlines()) == 1


def test_compare_with_a_run_that_kept_only_its_run_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A baseline committed without its answers compares through run.json's per-item outcomes."""
    full = make_run(tmp_path / "a", {"rag": BAD})
    run = json.loads((full / "run.json").read_text())
    grades = [json.loads(line) for line in (full / "grades.jsonl").read_text().splitlines()]
    run["metrics"] = {"outcomes": {"rag": {g["id"]: [g["correct"], g["refused"], g["category"]] for g in grades}}}
    only = tmp_path / "only"
    only.mkdir()
    (only / "run.json").write_text(json.dumps(run))
    after = make_run(tmp_path / "b", {"rag": GOOD})
    assert main(["compare", str(only), str(after), "--json"]) == 0
    captured = capsys.readouterr()
    rows = {(r["system"], r["metric"]): r for r in json.loads(captured.out)}
    assert rows[("rag", "accuracy")]["n"] == 12 and rows[("rag", "accuracy")]["a"] == 0.0 and rows[("rag", "accuracy")]["b"] == 1.0
    assert rows[("rag", "false_refusal_rate")]["delta"] == -1.0
    assert rows[("rag", "unit_error_rate")]["n"] == 0 and rows[("rag", "mean_latency_s")]["n"] == 0
    assert f"note: {only} has no samples.jsonl" in captured.err
    (only / "run.json").write_text(json.dumps({**run, "metrics": {}}))
    assert main(["compare", str(only), str(after)]) == 2
    assert "metrics.outcomes: missing" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("agreement", "expected"),
    [
        ({}, "not measured"),
        ({"n": 218, "refusal_precision": 1.0, "refusal_recall": 1.0, "refusals_labelled": 11}, "recall 1.00 (11 refusals labelled)"),
        ({"n": 40, "refusal_precision": None, "refusal_recall": None, "refusals_labelled": 0}, "(no refusal labelled)"),
        (
            {"n": 566, "correct_agreement": 0.979, "correct_precision": 0.6, "correct_flagged": 10},
            "correct 97.9% (precision 0.60 on 10 answers graded correct)",
        ),
        (
            {
                "n": 806,
                "refusal_precision": 0.93,
                "refusal_recall": 0.93,
                "refusals_labelled": 59,
                "blind_refusals": {"run": "elicit-refusals-8", "graders": "2.12", "refusals": 9, "precision": 0.625, "recall": 0.5556},
            },
            "graded blind on the newest elicited batch (elicit-refusals-8, graders 2.12, 9 refusals labelled): refusal precision 0.62, recall 0.56",
        ),
    ],
)
def test_grader_agreement_line_says_how_many_refusals_it_rests_on(agreement: dict[str, object], expected: str) -> None:
    from reports.tables import grader_agreement

    assert expected in grader_agreement({"agreement": agreement})
