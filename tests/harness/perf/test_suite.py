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


def test_generation_rows_for_loop_stop_int8_and_missing_bf16_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.perf import suite

    report = GenerationReport(items=2, max_new_tokens=8, bf16_hardware=False)
    report.passes["plain-b1"] = Pass("plain-b1", 40.0, ["a b c d", "x y"], 6, 2.0)
    report.passes["ours"] = Pass("ours", 10.0, ["a b c d", "x y"], 6, 2.0)
    report.passes["ours-loopstop"] = Pass("ours-loopstop", 5.0, ["a b", "x y"], 3, 2.0)
    report.passes["ours-int8"] = Pass("ours-int8", 8.0, ["a b c e", "x y"], 6, 2.0)
    monkeypatch.setattr("harness.perf.generation.compare_generation", lambda **_: report)
    rows, _ = suite.generation_rows(items=2, max_new_tokens=8, benchmark=None, plain_batch=0, bf16=True)
    by_name = {r.name: r for r in rows}
    loop = by_name["generation: loop stop vs full answers (ours)"]
    assert loop.ratio == 2.0 and "50% fewer completion tokens" in loop.note and "prefix of the full one on 100%" in loop.note
    int8 = by_name["generation: int8 dynamic vs fp32 (ours)"]
    assert int8.ratio == pytest.approx(1.25) and "identical to fp32 on 50.0%" in int8.note
    assert by_name["generation: bf16 vs fp32 (ours)"].ratio is None and "no bf16 hardware" in by_name["generation: bf16 vs fp32 (ours)"].note
