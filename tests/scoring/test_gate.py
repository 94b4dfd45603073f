"""The CI regression gate on synthetic run logs: decisions, Holm, junit.xml, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness.api.errors import ConfigError, DataError, RegressionDetected
from harness.runlog import RUN_SCHEMA, RUN_SCHEMA_VERSION
from harness.scoring.gate import GateConfig, evaluate_gate, junit_xml, raise_on_regression, run_gate, summary
from tests.conftest import REPO, STARTER


def run_doc(systems: dict[str, dict[str, list]]) -> dict:
    return {"schema": RUN_SCHEMA, "schema_version": RUN_SCHEMA_VERSION, "status": "complete", "metrics": {"outcomes": systems}}


def outcomes(n_items: int, n_correct: int, n_probes: int = 0, n_refused: int = 0) -> dict[str, list]:
    """``n_items`` scored items (the first ``n_correct`` right) and ``n_probes`` probes (the first ``n_refused`` refused)."""
    out = {f"i{k:03d}": [k < n_correct, False, "accuracy"] for k in range(n_items)}
    out.update({f"p{k:03d}": [None, k < n_refused, "refusal_probe"] for k in range(n_probes)})
    return out


def cases_by_name(cases) -> dict:
    return {c.name: c for c in cases}


def test_identical_runs_pass() -> None:
    doc = run_doc({"vanilla": outcomes(50, 30, 10, 2)})
    cases = evaluate_gate(doc, doc, GateConfig())
    assert [c.status for c in cases] == ["pass", "pass"]
    assert all(c.p_value == 1.0 for c in cases)


def test_significant_accuracy_drop_fails() -> None:
    base = run_doc({"vanilla": outcomes(60, 40)})
    now = run_doc({"vanilla": outcomes(60, 20)})  # 20 items flipped right -> wrong
    case = cases_by_name(evaluate_gate(now, base, GateConfig()))["vanilla.accuracy"]
    assert case.status == "regression" and case.worsening == pytest.approx(20 / 60)
    assert case.p_value == pytest.approx(0.5**20)


def test_improvement_never_fails() -> None:
    base = run_doc({"vanilla": outcomes(60, 20)})
    now = run_doc({"vanilla": outcomes(60, 40)})
    case = cases_by_name(evaluate_gate(now, base, GateConfig()))["vanilla.accuracy"]
    assert case.status == "pass" and case.worsening < 0 and case.p_value == 1.0


def test_small_drop_is_not_significant() -> None:
    base = run_doc({"vanilla": outcomes(60, 40)})
    now = run_doc({"vanilla": outcomes(60, 38)})
    assert cases_by_name(evaluate_gate(now, base, GateConfig()))["vanilla.accuracy"].status == "pass"


def test_min_effect_guards_tiny_but_significant_drops() -> None:
    base = run_doc({"vanilla": outcomes(1000, 600)})
    now = run_doc({"vanilla": outcomes(1000, 590)})  # 10 flips: p = 0.5**10 ~ 0.001, effect 1 point
    assert cases_by_name(evaluate_gate(now, base, GateConfig(min_effect=0.02)))["vanilla.accuracy"].status == "pass"
    assert cases_by_name(evaluate_gate(now, base, GateConfig(min_effect=0.005)))["vanilla.accuracy"].status == "regression"


def test_false_refusal_increase_fails() -> None:
    base = run_doc({"rag": outcomes(10, 5, 30, 1)})
    now = run_doc({"rag": outcomes(10, 5, 30, 15)})
    cases = cases_by_name(evaluate_gate(now, base, GateConfig()))
    assert cases["rag.false_refusal_rate"].status == "regression"
    assert cases["rag.false_refusal_rate"].baseline == pytest.approx(1 / 30) and cases["rag.false_refusal_rate"].current == pytest.approx(0.5)
    assert cases["rag.accuracy"].status == "pass"


def test_holm_across_cases_can_rescue_a_borderline_case() -> None:
    # 5 flips right -> wrong: one-sided p = 0.5**5 = 0.031 < 0.05 alone; Holm over 2 tested cases: 0.0625
    base_one = {"i%03d" % k: [True, False, "accuracy"] for k in range(6)}
    worse = {"i%03d" % k: [k >= 5, False, "accuracy"] for k in range(6)}
    alone = evaluate_gate(run_doc({"a": worse}), run_doc({"a": base_one}), GateConfig())
    assert cases_by_name(alone)["a.accuracy"].status == "regression"
    paired = evaluate_gate(run_doc({"a": worse, "b": base_one}), run_doc({"a": base_one, "b": base_one}), GateConfig())
    assert cases_by_name(paired)["a.accuracy"].p_holm == pytest.approx(2 * cases_by_name(paired)["a.accuracy"].p_value)
    assert cases_by_name(paired)["a.accuracy"].status == "pass"


def test_systems_missing_from_either_run_are_skipped() -> None:
    cases = cases_by_name(evaluate_gate(run_doc({"new": outcomes(5, 5)}), run_doc({"old": outcomes(5, 5)}), GateConfig()))
    assert {c.status for c in cases.values()} == {"skipped"}


def test_junit_has_one_case_per_system_and_metric() -> None:
    base = run_doc({"vanilla": outcomes(60, 40, 10, 0), "rag": outcomes(60, 40, 10, 0)})
    now = run_doc({"vanilla": outcomes(60, 15, 10, 0), "rag": outcomes(60, 40, 10, 0)})
    config = GateConfig()
    cases = evaluate_gate(now, base, config)
    root = ET.fromstring(junit_xml(cases, config))
    assert root.tag == "testsuite" and root.get("tests") == "4" and root.get("failures") == "1"
    names = sorted(f"{tc.get('classname')}:{tc.get('name')}" for tc in root.iter("testcase"))
    assert names == ["raq.rag:accuracy", "raq.rag:false_refusal_rate", "raq.vanilla:accuracy", "raq.vanilla:false_refusal_rate"]
    failures = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert [(f.get("classname"), f.get("name")) for f in failures] == [("raq.vanilla", "accuracy")]
    text = summary(cases, config)
    assert "REGRESSION" in text and len(text.splitlines()) <= 24
    with pytest.raises(RegressionDetected) as info:
        raise_on_regression(cases, Path("baseline/run.json"))
    assert info.value.exit_code == 1


def test_run_gate_writes_junit_next_to_the_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps(run_doc({"vanilla": outcomes(20, 10)})))
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(run_doc({"vanilla": outcomes(20, 10)})))
    cases, text = run_gate(run_dir, baseline, GateConfig())
    assert (run_dir / "junit.xml").exists() and "no significant regression" in text


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="--alpha"):
        GateConfig(alpha=1.5)
    with pytest.raises(ConfigError, match="--min-effect"):
        GateConfig(min_effect=-0.1)
    with pytest.raises(DataError, match="metrics.outcomes: missing"):
        evaluate_gate(run_doc({}) | {"metrics": {}}, run_doc({}), GateConfig())


def _harness(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_fail_on_regression_needs_a_baseline(tmp_path: Path) -> None:
    result = _harness("run", "--systems", "vanilla", "--benchmark", str(STARTER), "--fail-on-regression", "--output-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and "needs --baseline" in result.stderr


@pytest.mark.integration
def test_cli_gate_end_to_end(plugin_path: Path, tmp_path: Path, isolated_cache: Path) -> None:
    """A real `run` (third-party echo system, real grading with MiniLM) against a baseline in which
    echo answered every item correctly: exit 1, junit.xml with a failure, summary on stdout."""
    base_dir = tmp_path / "base"
    first = _harness("run", "--systems", "echo", "--benchmark", str(STARTER), "--output-dir", str(base_dir), "--quiet", "--baseline-system", "echo")
    assert first.returncode == 0, first.stderr
    for name in ("report.md", "report.html", "summary.csv", "grades.jsonl"):
        assert (base_dir / name).exists(), name
    baseline = json.loads((base_dir / "run.json").read_text())
    echo = baseline["metrics"]["outcomes"]["echo"]
    assert all(v[0] is not True for v in echo.values())  # echo answers "42" to everything
    same = tmp_path / "same.json"
    same.write_text(json.dumps(baseline))
    passed = _harness(
        "run",
        "--systems",
        "echo",
        "--benchmark",
        str(STARTER),
        "--output-dir",
        str(tmp_path / "again"),
        "--quiet",
        "--baseline-system",
        "echo",
        "--baseline",
        str(same),
        "--fail-on-regression",
    )
    assert passed.returncode == 0, passed.stderr
    assert "no significant regression" in passed.stdout
    for value in echo.values():
        if value[0] is not None:
            value[0] = True
    better = tmp_path / "better.json"
    better.write_text(json.dumps(baseline))
    junit = tmp_path / "gate.xml"
    failed = _harness(
        "run",
        "--systems",
        "echo",
        "--benchmark",
        str(STARTER),
        "--output-dir",
        str(tmp_path / "third"),
        "--quiet",
        "--baseline-system",
        "echo",
        "--baseline",
        str(better),
        "--fail-on-regression",
        "--alpha",
        "0.05",
        "--min-effect",
        "0.1",
        "--junit",
        str(junit),
    )
    assert failed.returncode == 1, failed.stderr
    assert "REGRESSION" in failed.stdout
    assert failed.stderr.strip().splitlines()[-1].startswith("error: 1 significant regression(s)")
    root = ET.fromstring(junit.read_text())
    assert root.get("failures") == "1"


def test_the_committed_baseline_is_the_default_gate_on_its_own_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import json

    from harness.api.errors import ConfigError
    from harness.benchmark import load_benchmark
    from harness.cli import run as run_cli

    baseline = tmp_path / "run.json"
    monkeypatch.setattr(run_cli, "DEFAULT_BASELINE", baseline)

    def args(**kw: object) -> argparse.Namespace:
        return argparse.Namespace(**{"baseline": None, "benchmark": str(STARTER), "fail_on_regression": False, "alpha": 0.05, "min_effect": 0.02, **kw})

    assert run_cli._gate(args()) is None  # no committed baseline: no gate
    baseline.write_text(json.dumps({"benchmark": {"sha256": load_benchmark(STARTER).sha256}}))
    gate = run_cli._gate(args())
    assert gate is not None and gate[1] == baseline
    assert run_cli._gate(args(baseline=Path("none"))) is None
    baseline.write_text(json.dumps({"benchmark": {"sha256": "another"}}))
    assert run_cli._gate(args()) is None  # made on another benchmark: not applied
    with pytest.raises(ConfigError, match="made on this benchmark"):
        run_cli._gate(args(fail_on_regression=True))
