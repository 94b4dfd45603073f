"""The pair table: which pairs (benchmark.toml [report]), and each row's statistics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.analysis import samples_df
from harness.api.errors import ConfigError
from harness.benchmark import DEFAULT_PAIRS, DEFAULT_REFUSAL_PAIRS, ReportConfig, load_benchmark, load_config
from harness.scoring import stats
from harness.scoring.pairs import outcomes_of, pair_table, paired_row, report_config_of
from tests.conftest import REPO, STARTER
from tests.scoring.runs import BAD, GOOD, make_run


def test_the_raq_benchmark_lists_the_papers_pairs() -> None:
    report = load_config(REPO / "benchmarks" / "raq" / "benchmark.toml").report
    assert report.pairs == (("lora-kd", "lora"), ("lora", "vanilla"), ("rag", "vanilla"), ("rag+lora-kd", "rag"), ("teacher", "lora-kd"))
    assert report.refusal_pairs == (("rag", "vanilla"),)
    assert load_benchmark(REPO / "benchmarks" / "raq" / "items.jsonl").describe()["report"] == report.to_dict()  # recorded in run.json


def test_a_benchmark_without_a_report_table_gets_the_default_pairs(tmp_path: Path) -> None:
    (tmp_path / "benchmark.toml").write_text('name = "mine"\n')
    assert load_config(tmp_path / "benchmark.toml").report == ReportConfig(DEFAULT_PAIRS, DEFAULT_REFUSAL_PAIRS)
    assert load_config(STARTER.parent / "benchmark.toml").report.pairs == DEFAULT_PAIRS


def test_a_report_table_of_ones_own(tmp_path: Path) -> None:
    (tmp_path / "benchmark.toml").write_text('[report]\npairs = [["mine", "theirs"]]\nrefusal_pairs = []\n')
    assert load_config(tmp_path / "benchmark.toml").report == ReportConfig((("mine", "theirs"),), ())


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('pairs = "lora-kd,lora"', "report.pairs: expected a list of [system, system] pairs"),
        ('pairs = [["lora-kd"]]', "is not a pair of system names"),
        ('pairs = [["lora", "lora"]]', "compares 'lora' with itself"),
        ("pairs = [[1, 2]]", "is not a pair of system names"),
        ('pair = [["a", "b"]]', "report.pair: unknown key; allowed: pairs, refusal_pairs"),
    ],
)
def test_bad_report_tables_name_the_field(tmp_path: Path, table: str, fragment: str) -> None:
    (tmp_path / "benchmark.toml").write_text(f"[report]\n{table}\n")
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("(", r"\(")):
        load_config(tmp_path / "benchmark.toml")


def test_the_pairs_a_run_compares(tmp_path: Path) -> None:
    recorded = {"benchmark": {"report": {"pairs": [["a", "b"]], "refusal_pairs": []}}}
    assert report_config_of(recorded) == ReportConfig((("a", "b"),), ())
    (tmp_path / "benchmark.toml").write_text('[report]\npairs = [["c", "d"]]\n')
    older = {"benchmark": {"path": str(tmp_path / "items.jsonl")}}  # a run made before run.json recorded its pairs
    assert report_config_of(older).pairs == (("c", "d"),)
    assert report_config_of({}) == ReportConfig()


def test_a_row_on_a_known_table() -> None:
    # 40 items both right, 11 only the system, 3 only the baseline, 48 neither: n = 102
    first = {f"i{k}": k < 40 or 40 <= k < 51 for k in range(102)}
    second = {f"i{k}": k < 40 or 51 <= k < 54 for k in range(102)}
    row = paired_row("accuracy", "lora-kd", "lora", {"lora-kd": first, "lora": second})
    assert row is not None
    assert (row["n_shared"], row["system_only"], row["baseline_only"]) == (102, 11, 3)
    assert row["system_value"] == round(51 / 102, 4) and row["baseline_value"] == round(43 / 102, 4) and row["difference"] == round(8 / 102, 4)
    assert row["p_value"] == pytest.approx(2 * sum(math.comb(14, k) for k in range(4)) / 2**14, abs=1e-6)
    ci = stats.newcombe_paired_ci(stats.PairedCounts(40, 11, 3, 48))
    assert ci is not None and row["ci"] == ci.to_list()
    assert row["mdd"] == round(stats.mcnemar_mdd(102, 14 / 102) or 0, 4)
    assert paired_row("accuracy", "lora-kd", "lora", {"lora-kd": first, "lora": {}}) is None


def test_holm_runs_across_the_whole_table(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD, "lora": {**BAD, "st-a-002": "Six.", "st-a-004": "60 mV/decade"}})
    table = pair_table(samples_df(run_dir))
    rows = {(r["metric"], r["system"]): r for r in table["rows"]}
    ps = [r["p_value"] for r in table["rows"]]
    assert [r["p_holm"] for r in table["rows"]] == pytest.approx([round(p, 6) for p in stats.holm(ps)], abs=1e-6)
    assert rows[("accuracy", "rag")]["p_holm"] == pytest.approx(3 * rows[("accuracy", "rag")]["p_value"], rel=1e-3)  # smallest of 3
    # Holm's order: rag accuracy (p 0.0005) x 3, rag refusals (3 discordant, p 0.25) x 2, lora accuracy (2 discordant, p 0.5) x 1
    assert rows[("refusal_rate", "rag")]["p_value"] == 0.25 and rows[("refusal_rate", "rag")]["p_holm"] == 0.5
    assert rows[("accuracy", "lora")]["p_value"] == 0.5 and rows[("accuracy", "lora")]["p_holm"] == 0.5
    assert table["skipped"][0] == "accuracy lora-kd vs lora: lora-kd not in this run"


def test_only_proportions_can_be_paired(tmp_path: Path) -> None:
    frame = samples_df(make_run(tmp_path / "run", {"vanilla": BAD}))
    assert outcomes_of(frame, "refusal_rate")["vanilla"]["st-p-001"] is True
    with pytest.raises(ValueError, match="not a proportion"):
        outcomes_of(frame, "mean_latency_s")
    with pytest.raises(KeyError, match="not a metric"):
        outcomes_of(frame, "nope")


def test_a_run_records_and_reports_its_pairs(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD})
    run = json.loads((run_dir / "run.json").read_text())
    run["benchmark"]["report"] = {"pairs": [["vanilla", "rag"]], "refusal_pairs": []}
    (run_dir / "run.json").write_text(json.dumps(run))
    from reports.data import load_report_data

    rows = load_report_data(run_dir).metrics["comparisons"]["rows"]
    assert [(r["system"], r["baseline"], r["difference"]) for r in rows] == [("vanilla", "rag", -1.0)]
