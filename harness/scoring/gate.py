"""The CI regression gate: is any system significantly worse than the committed baseline run?

    python -m harness run --baseline reports/baseline/run.json --fail-on-regression

For each system present in both runs and each gated metric, the items both runs scored are
paired and tested one-sided (exact McNemar on the per-item outcomes stored in run.json
``metrics["outcomes"]``):

* ``accuracy``: worse = lower; tested on items with an answer key.
* ``false_refusal_rate``: worse = higher; tested on refusal probes.

A case is a regression when its Holm-adjusted p-value (over all system x metric cases) is at most
``alpha`` and the observed worsening is at least ``min_effect`` (absolute, e.g. 0.02 = 2 points).
Cases with no shared items are skipped. ``junit.xml`` gets one test case per system x metric.
Edge cases: identical runs pass (no discordant pairs, p = 1); a system missing from either run is
skipped, not failed; a baseline without ``outcomes`` is an error naming the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence
from xml.etree import ElementTree as ET

from harness.api.errors import ConfigError, DataError, RegressionDetected
from harness.api.items import REFUSAL_PROBE
from harness.scoring import stats

GATED_METRICS = ("accuracy", "false_refusal_rate")


@dataclass(frozen=True)
class GateConfig:
    alpha: float = 0.05  # family-wise significance level (Holm over system x metric)
    min_effect: float = 0.02  # smallest worsening that can fail the gate, absolute (0.02 = 2 points)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ConfigError(f"--alpha must be in (0, 1), got {self.alpha}")
        if not 0 <= self.min_effect < 1:
            raise ConfigError(f"--min-effect must be in [0, 1) (a rate difference), got {self.min_effect}")


@dataclass(frozen=True)
class GateCase:
    system: str
    metric: str
    n: int  # shared items tested
    baseline: float | None
    current: float | None
    worsening: float | None  # positive = worse than baseline
    p_value: float
    p_holm: float
    status: str  # pass | regression | skipped

    @property
    def name(self) -> str:
        return f"{self.system}.{self.metric}"

    def describe(self) -> str:
        if self.status == "skipped":
            return f"{self.name}: skipped (no shared items)"
        change = f"baseline {self.baseline:.3f} -> current {self.current:.3f} (worse by {self.worsening:+.3f})"
        return f"{self.name}: {change}, n={self.n}, p={self.p_value:.4g}, Holm p={self.p_holm:.4g}"


def read_outcomes(run: Mapping[str, Any], where: str) -> dict[str, dict[str, list[Any]]]:
    found = (run.get("metrics") or {}).get("outcomes")
    if not isinstance(found, dict):
        raise DataError(f"{where}: metrics.outcomes: missing; re-render the run with python -m harness report RUN_DIR --regrade to add per-item outcomes")
    return found


def load_baseline(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: baseline run.json not found; pass --baseline with a run.json from python -m harness run") from None
    except ValueError as exc:
        raise DataError(f"{path}: baseline is not valid JSON ({exc}); restore the committed file") from None


def _pairs(base: Mapping[str, list[Any]], current: Mapping[str, list[Any]], metric: str) -> tuple[list[bool], list[bool]]:
    """Paired 0/1 outcomes where 1 is *good* for both metrics (correct / not refused)."""
    shared = sorted(set(base) & set(current))
    if metric == "accuracy":
        shared = [i for i in shared if base[i][0] is not None and current[i][0] is not None]
        return [bool(base[i][0]) for i in shared], [bool(current[i][0]) for i in shared]
    shared = [i for i in shared if (base[i][2] if len(base[i]) > 2 else None) == REFUSAL_PROBE]
    return [not base[i][1] for i in shared], [not current[i][1] for i in shared]


def evaluate_gate(
    current_run: Mapping[str, Any], baseline_run: Mapping[str, Any], config: GateConfig, where: tuple[str, str] = ("current run", "baseline")
) -> list[GateCase]:
    current = read_outcomes(current_run, where[0])
    baseline = read_outcomes(baseline_run, where[1])
    raw: list[dict[str, Any]] = []
    for system in sorted(set(current) | set(baseline)):
        for metric in GATED_METRICS:
            if system not in current or system not in baseline:
                raw.append({"system": system, "metric": metric, "n": 0})
                continue
            good_base, good_now = _pairs(baseline[system], current[system], metric)
            if not good_base:
                raw.append({"system": system, "metric": metric, "n": 0})
                continue
            test = stats.mcnemar_exact(good_base, good_now, alternative="less")  # current has fewer "good"
            rate = (lambda xs: sum(xs) / len(xs)) if metric == "accuracy" else (lambda xs: 1 - sum(xs) / len(xs))
            b, c = rate(good_base), rate(good_now)
            worsening = (b - c) if metric == "accuracy" else (c - b)
            raw.append({"system": system, "metric": metric, "n": len(good_base), "baseline": b, "current": c, "worsening": worsening, "p": test.p_value})
    tested = [r for r in raw if r["n"]]
    adjusted = iter(stats.holm([r["p"] for r in tested]))
    cases = []
    for r in raw:
        if not r["n"]:
            cases.append(GateCase(r["system"], r["metric"], 0, None, None, None, 1.0, 1.0, "skipped"))
            continue
        p_holm = next(adjusted)
        failed = p_holm <= config.alpha and r["worsening"] >= config.min_effect
        cases.append(
            GateCase(r["system"], r["metric"], r["n"], r["baseline"], r["current"], r["worsening"], r["p"], p_holm, "regression" if failed else "pass")
        )
    return cases


def junit_xml(cases: Sequence[GateCase], config: GateConfig) -> str:
    suite = ET.Element(
        "testsuite",
        name="raq-regression-gate",
        tests=str(len(cases)),
        failures=str(sum(c.status == "regression" for c in cases)),
        skipped=str(sum(c.status == "skipped" for c in cases)),
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="alpha", value=str(config.alpha))
    ET.SubElement(props, "property", name="min_effect", value=str(config.min_effect))
    for case in cases:
        element = ET.SubElement(suite, "testcase", classname=f"raq.{case.system}", name=case.metric)
        if case.status == "regression":
            ET.SubElement(element, "failure", message=case.describe(), type="RegressionDetected").text = case.describe()
        elif case.status == "skipped":
            ET.SubElement(element, "skipped", message="system or items not in both runs")
        else:
            ET.SubElement(element, "system-out").text = case.describe()
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def summary(cases: Sequence[GateCase], config: GateConfig) -> str:
    """One screen: a row per system x metric and a verdict line."""
    lines = [
        f"regression gate (one-sided exact McNemar, Holm, alpha={config.alpha}, min effect={config.min_effect})",
        f"{'system':<16}{'metric':<20}{'n':>5}{'baseline':>10}{'current':>9}{'worse by':>10}{'p(Holm)':>10}  verdict",
    ]
    for c in cases:
        if c.status == "skipped":
            lines.append(f"{c.system:<16}{c.metric:<20}{0:>5}{'-':>10}{'-':>9}{'-':>10}{'-':>10}  skipped")
        else:
            lines.append(
                f"{c.system:<16}{c.metric:<20}{c.n:>5}{c.baseline:>10.3f}{c.current:>9.3f}{c.worsening:>+10.3f}{c.p_holm:>10.3g}  "
                + ("REGRESSION" if c.status == "regression" else "ok")
            )
    failed = [c for c in cases if c.status == "regression"]
    lines.append(f"{len(failed)} regression(s) in {sum(c.status != 'skipped' for c in cases)} tested case(s)" if failed else "no significant regression")
    return "\n".join(lines)


def run_gate(run_dir: Path, baseline_path: Path, config: GateConfig, junit_path: Path | None = None) -> tuple[list[GateCase], str]:
    """Evaluate the run against the baseline, write ``junit.xml`` (default ``RUN_DIR/junit.xml``)
    and return the cases and the one-screen summary."""
    from harness.runlog import load_run, write_text_atomic

    cases = evaluate_gate(load_run(run_dir), load_baseline(baseline_path), config, where=(str(Path(run_dir) / "run.json"), str(baseline_path)))
    write_text_atomic(Path(junit_path) if junit_path else Path(run_dir) / "junit.xml", junit_xml(cases, config))
    return cases, summary(cases, config)


def raise_on_regression(cases: Sequence[GateCase], baseline_path: Path) -> None:
    """Raise :class:`RegressionDetected` (CLI exit 1) when any case regressed."""
    failed = [c for c in cases if c.status == "regression"]
    if failed:
        raise RegressionDetected(f"{len(failed)} significant regression(s) against {baseline_path}: " + "; ".join(c.describe() for c in failed))
