"""The report's Findings: sentences written from the pair table, checked word for word."""

from __future__ import annotations

from pathlib import Path

from reports.data import load_report_data
from reports.findings import findings, p_text, pair_sentence
from reports.render import render_run
from tests.scoring.runs import BAD, GOOD, make_run

ROW = {
    "metric": "accuracy",
    "system": "lora-kd",
    "baseline": "lora",
    "n_shared": 102,
    "system_value": 0.3529,
    "baseline_value": 0.349,
    "difference": 0.0039,
    "ci": [-0.012, 0.02],
    "system_only": 3,
    "baseline_only": 2,
    "p_value": 1.0,
    "p_holm": 1.0,
    "significant": False,
    "mdd": 0.041,
}


def test_a_pair_that_is_not_significant_says_what_the_run_could_detect() -> None:
    assert pair_sentence(ROW, 0.05) == (
        "lora-kd vs lora: +0.4 pts (35.3% vs 34.9% on 102 items), 95% CI [-1.2, +2.0], McNemar p = 1.00 (Holm 1.00); "
        "not significant: this run could only detect differences above 4.1 pts."
    )


def test_significant_identical_and_refusal_pairs() -> None:
    significant = {**ROW, "difference": 0.2, "p_value": 0.0004, "p_holm": 0.002, "significant": True}
    assert pair_sentence(significant, 0.05).endswith("McNemar p < 0.001 (Holm 0.002); significant at alpha = 0.05 after Holm's adjustment.")
    same = {**ROW, "difference": 0.0, "system_only": 0, "baseline_only": 0, "mdd": None}
    assert pair_sentence(same, 0.05).endswith("not significant: the two systems agree on every item, so this run cannot size the difference it could detect.")
    refusals = {**ROW, "metric": "refusal_rate", "system": "rag", "baseline": "vanilla"}
    assert pair_sentence(refusals, 0.05).startswith("rag vs vanilla, refusals: +0.4 pts (35.3% vs 34.9% on 102 items)")
    assert [p_text(p) for p in (0.5, 0.0123, 0.0049, 0.0002, None)] == ["= 0.50", "= 0.01", "= 0.005", "< 0.001", "-"]


def test_findings_of_a_run_open_the_report(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD, "lora": BAD})
    sentences = findings(load_report_data(run_dir))
    assert sentences[0].startswith("lora vs vanilla: +0.0 pts (0.0% vs 0.0% on 12 items)")
    assert sentences[1].startswith("rag vs vanilla: +100.0 pts (100.0% vs 0.0% on 12 items), 95% CI [+65.7, +100.0], McNemar p < 0.001 (Holm 0.001)")
    assert sentences[2].startswith("rag vs vanilla, refusals: -25.0 pts (0.0% vs 25.0% on 12 items)")
    assert sentences[2].endswith("On the 2 benign refusal probes alone: rag 0.0% [0.0, 65.8], vanilla 100.0% [34.2, 100.0].")
    assert sentences[3] == (
        "Not tested: accuracy lora-kd vs lora: lora-kd not in this run; accuracy rag+lora-kd vs rag: rag+lora-kd not in this run; "
        "accuracy teacher vs lora-kd: teacher and lora-kd not in this run."
    )
    assert sentences[4].startswith("Unit errors (right number, missing or wrong unit) as a share of numeric answers: vanilla 28.6% [8.2, 64.1]; rag 0.0%")
    render_run(run_dir)
    md = (run_dir / "report.md").read_text()
    assert md.index("## Findings") < md.index("## Summary") < md.index("## Paired comparisons") < md.index("## Every system against vanilla")
    assert "| system vs baseline | metric | items | system | baseline | difference | 95% CI |" in md
    assert "Findings</h2><ul><li>lora vs vanilla" in (run_dir / "report.html").read_text().replace("\n", "")


def test_one_system_has_no_pair_sentences(tmp_path: Path) -> None:
    sentences = findings(load_report_data(make_run(tmp_path / "run", {"rag": GOOD})))
    assert sentences[0].startswith("Not tested: accuracy lora-kd vs lora: lora-kd and lora not in this run")
    assert sentences[1].startswith("Unit errors")
