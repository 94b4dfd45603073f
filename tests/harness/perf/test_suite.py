"""The bench table's plumbing: ratios, agreement, plugin rows, the Markdown output, CLI errors.
(Speeds themselves are never asserted: see benchmarks/perf and `python -m harness bench`.)"""

from __future__ import annotations

import pytest

from harness.cli.main import main
from harness.perf.generation import GenerationReport, Pass
from harness.perf.suite import Row, format_table, plugin_rows


def test_ratio_and_agreement_come_from_the_passes() -> None:
    report = GenerationReport(items=3, max_new_tokens=8)
    report.passes["plain-b1"] = Pass("plain-b1", 30.0, ["a", "b", "c"], 24, 2.0)
    report.passes["ours"] = Pass("ours", 5.0, ["a", "b", "x"], 24, 2.0)
    assert report.ratio("plain-b1", "ours") == 6.0
    assert report.agreement("ours", "plain-b1") == pytest.approx(2 / 3)
    assert report.ratio("plain-b1", "missing") is None
    assert report.passes["ours"].tokens_per_s == pytest.approx(4.8)


def test_plugin_rows_come_from_entry_points_and_a_missing_one_is_skipped() -> None:
    from harness import plugins

    assert plugins.names("harness.bench") == ["faiss", "training"]
    rows, figures = plugin_rows("gpu")
    assert [(r.ratio, r.note.split(":")[0]) for r in rows] == [(None, "skipped")] and "Unknown harness.bench plugin 'gpu'" in rows[0].note and figures == {}


def test_table_is_markdown_with_one_line_per_row() -> None:
    text = format_table([Row("a vs b", "b 1 s", "a 0.5 s", 2.0, "same text"), Row("skipped", "-", "-", None, "skipped: no package")])
    lines = text.splitlines()
    assert lines[0].startswith("| comparison |") and len(lines) == 4
    assert "| 2x |" in lines[2] and "| - |" in lines[3]


def test_bench_cli_rejects_unknown_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "generation,gpu"]) == 2
    assert "unknown row 'gpu'" in capsys.readouterr().err
    assert main(["bench", "--items", "0"]) == 2
