"""The report's Likelihood section, figure and analysis columns, from a run made with in-test
scoring systems (no model loads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.analysis import LIKELIHOOD_COLUMNS, likelihood_df, samples_df
from harness.runlog import load_run
from harness.runner import RunConfig, Runner
from reports.render import render_run
from tests.harness.test_runner_likelihood import Scorer, bench, registry_of  # noqa: F401 - bench is a fixture


@pytest.fixture
def scored_run(bench: Path, tmp_path: Path, isolated_cache: Path) -> Path:  # noqa: F811
    config = RunConfig(
        systems="lora,vanilla_x",
        benchmark=str(bench / "items.jsonl"),
        output_dir=str(tmp_path / "run"),
        quiet=True,
        baseline_system="vanilla_x",
        mode="all",
        corpus=str(bench / "corpus"),
        heldout=str(bench / "heldout"),
    )
    registry = registry_of(**{"lora": Scorer("a"), "vanilla_x": Scorer("b")})
    return Runner(config, registry).run()


def test_report_has_the_likelihood_section_tables_and_figure(scored_run: Path) -> None:
    paths = render_run(scored_run)
    markdown = (scored_run / "report.md").read_text()
    section = markdown[markdown.index("## Likelihood") :]
    assert "| lora |" in section and "vanilla\\_x" in section  # names are escaped inside tables
    assert "### Paired comparisons" not in section  # the default pair list has no (lora, vanilla_x) pair
    assert "No pair of the pair list" in section
    assert "### Which mistakes each system falls for" in section and "| factor-two |" in section
    assert (scored_run / "plots" / "likelihood.png") in paths
    page = (scored_run / "report.html").read_text()
    assert "<h2>Likelihood</h2>" in page and "vanilla_x" in page and 'id="fig-likelihood"' in page


def test_pairs_from_run_json_are_compared_in_the_report(scored_run: Path) -> None:
    run = load_run(scored_run)
    run["metrics"]["likelihood"]["pairs"] = [["lora", "vanilla_x"]]
    (scored_run / "run.json").write_text(json.dumps(run))
    render_run(scored_run, update_run_json=True)
    section = (scored_run / "report.md").read_text().split("## Likelihood")[1]
    assert "### Paired comparisons" in section and "| lora vs vanilla\\_x | 12 | -0." in section
    assert load_run(scored_run)["metrics"]["likelihood"]["comparisons"][0]["a"] == "lora"  # kept when the report rewrites run.json


def test_analysis_frames_carry_the_likelihood_rows(scored_run: Path) -> None:
    frame = likelihood_df(scored_run)
    assert list(frame.columns) == list(LIKELIHOOD_COLUMNS) and len(frame) == 2 * 15
    assert set(frame["kind"]) == {"item", "corpus", "heldout"} and frame["doc_bpb"].notna().sum() == 6
    samples = samples_df(scored_run)
    assert samples["reference_bpb"].notna().all() and str(samples["mc_correct"].dtype) == "boolean"
    joined = samples.set_index(["system", "id"])["reference_bpb"]
    items = frame[frame["kind"] == "item"].set_index(["system", "id"])["reference_bpb"]
    assert joined.sort_index().tolist() == items.sort_index().tolist()


def test_a_run_without_likelihood_rows_has_no_section(graded_run: Path) -> None:
    render_run(graded_run)
    assert "## Likelihood" not in (graded_run / "report.md").read_text()
    assert "reference_bpb" not in samples_df(graded_run).columns
