"""Compare two runs metric by metric on the items they share, with paired tests.

    python -m harness compare runs/A runs/B

For every system in both runs, each metric is recomputed on the shared items only, so the
delta (B - A) is not confounded by different item sets:

* binary per item -- ``accuracy``, ``unit_error_rate``, ``numeric_value_error_rate``,
  ``refusal_rate``, ``false_refusal_rate``: exact McNemar (two-sided) + Newcombe's paired CI
  (:func:`harness.scoring.stats.newcombe_paired_ci`);
* continuous per item -- ``quality`` (key-point coverage), ``mean_latency_s``,
  ``mean_completion_tokens``: Wilcoxon signed-rank (two-sided) + paired bootstrap CI.

Edge cases: a metric with no shared items is reported with ``n = 0`` and no test; all-zero
differences give ``p = 1``; p-values are Holm-adjusted over all rows of the comparison; items a
system was not applicable to in either run are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from harness.api.items import REFUSAL_PROBE
from harness.scoring import stats
from harness.scoring.score import is_unit_error

BINARY: dict[str, Callable[[Mapping[str, Any]], bool | None]] = {
    "accuracy": lambda g: None if g.get("correct") is None else bool(g["correct"]),
    "unit_error_rate": lambda g: is_unit_error(g) if g.get("kind") == "numeric" else None,
    "numeric_value_error_rate": lambda g: (not g.get("value_correct")) if g.get("kind") == "numeric" else None,
    "refusal_rate": lambda g: bool(g.get("refused")),
    "false_refusal_rate": lambda g: bool(g.get("refused")) if g.get("category") == REFUSAL_PROBE else None,
}
CONTINUOUS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], float | None]] = {
    "quality": lambda g, s: None if g.get("coverage") is None else float(g["coverage"]),
    "mean_latency_s": lambda g, s: float(s["latency_s"]) if isinstance(s.get("latency_s"), (int, float)) else None,
    "mean_completion_tokens": lambda g, s: float(s["completion_tokens"]) if isinstance(s.get("completion_tokens"), (int, float)) else None,
}
LOWER_IS_BETTER = {"unit_error_rate", "numeric_value_error_rate", "refusal_rate", "false_refusal_rate", "mean_latency_s", "mean_completion_tokens"}


@dataclass(frozen=True)
class MetricDelta:
    system: str
    metric: str
    n: int  # shared items with a value in both runs
    a: float | None
    b: float | None
    delta: float | None  # b - a
    ci: tuple[float, float] | None  # 95% CI of the delta: Newcombe (binary metrics) or paired bootstrap (continuous)
    p_value: float | None
    test: str
    p_holm: float | None = None

    @property
    def better(self) -> bool | None:
        if self.delta is None or self.delta == 0:
            return None
        return (self.delta < 0) if self.metric in LOWER_IS_BETTER else (self.delta > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "metric": self.metric,
            "n": self.n,
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "ci": list(self.ci) if self.ci else None,
            "p_value": self.p_value,
            "p_holm": self.p_holm,
            "test": self.test,
        }


def _wilcoxon(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import wilcoxon

    if all(x == y for x, y in zip(a, b)):
        return 1.0
    return float(wilcoxon(b, a, zero_method="zsplit").pvalue)


def _index(grades: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any]]]:
    by_key = {(str(s.get("system")), str(s.get("id"))): s for s in samples}
    scored = [g for g in grades if g.get("applicable", True)]  # not the items a system was not applicable to
    return {(str(g.get("system")), str(g["id"])): (g, by_key.get((str(g.get("system")), str(g["id"])), {})) for g in scored}


def compare_runs(
    grades_a: Sequence[Mapping[str, Any]], samples_a: Sequence[Mapping[str, Any]], grades_b: Sequence[Mapping[str, Any]], samples_b: Sequence[Mapping[str, Any]]
) -> list[MetricDelta]:
    index_a, index_b = _index(grades_a, samples_a), _index(grades_b, samples_b)
    systems = sorted({k[0] for k in index_a} & {k[0] for k in index_b})
    rows: list[MetricDelta] = []
    for system in systems:
        shared = sorted(k for k in index_a if k[0] == system and k in index_b)
        for metric, pick in BINARY.items():
            picked = [(pick(index_a[k][0]), pick(index_b[k][0])) for k in shared]
            pairs = [(x, y) for x, y in picked if x is not None and y is not None]
            rows.append(_binary_row(system, metric, pairs))
        for metric, value in CONTINUOUS.items():
            measured = [(value(*index_a[k]), value(*index_b[k])) for k in shared]
            vals = [(x, y) for x, y in measured if x is not None and y is not None]
            rows.append(_continuous_row(system, metric, vals))
    tested = [r for r in rows if r.p_value is not None]
    adjusted = dict(zip((id(r) for r in tested), stats.holm([r.p_value for r in tested if r.p_value is not None])))
    return [MetricDelta(**{**r.__dict__, "p_holm": adjusted.get(id(r))}) for r in rows]


def _binary_row(system: str, metric: str, pairs: list[tuple[bool, bool]]) -> MetricDelta:
    if not pairs:
        return MetricDelta(system, metric, 0, None, None, None, None, None, "exact McNemar")
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    ci = stats.newcombe_paired_ci(stats.PairedCounts.of(b, a))  # of mean(b) - mean(a)
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    return MetricDelta(
        system,
        metric,
        len(pairs),
        round(mean_a, 4),
        round(mean_b, 4),
        round(mean_b - mean_a, 4),
        (round(ci.low, 4), round(ci.high, 4)) if ci else None,
        stats.mcnemar_exact(a, b).p_value,
        "exact McNemar",
    )


def _continuous_row(system: str, metric: str, pairs: list[tuple[float, float]]) -> MetricDelta:
    if not pairs:
        return MetricDelta(system, metric, 0, None, None, None, None, None, "Wilcoxon signed-rank")
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    ci = stats.paired_bootstrap_ci(a, b)
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    return MetricDelta(
        system,
        metric,
        len(pairs),
        round(mean_a, 4),
        round(mean_b, 4),
        round(mean_b - mean_a, 4),
        (round(ci.low, 4), round(ci.high, 4)) if ci else None,
        _wilcoxon(a, b),
        "Wilcoxon signed-rank",
    )


def format_table(rows: Sequence[MetricDelta], label_a: str, label_b: str) -> str:
    lines = [f"A = {label_a}", f"B = {label_b}", f"{'system':<14}{'metric':<26}{'n':>5}{'A':>9}{'B':>9}{'B-A':>9}  {'95% CI':<19}{'p':>9}{'p(Holm)':>9}"]
    for r in rows:
        if r.n == 0:
            lines.append(f"{r.system:<14}{r.metric:<26}{0:>5}{'-':>9}{'-':>9}{'-':>9}  {'-':<19}{'-':>9}{'-':>9}")
            continue
        ci = f"[{r.ci[0]:+.3f}, {r.ci[1]:+.3f}]" if r.ci else "-"
        mark = "" if r.better is None else (" better" if r.better else " worse")
        lines.append(
            f"{r.system:<14}{r.metric:<26}{r.n:>5}{r.a:>9.3f}{r.b:>9.3f}{r.delta:>+9.3f}  {ci:<19}{r.p_value:>9.3g}{r.p_holm:>9.3g}"
            + (mark if (r.p_holm or 1) <= 0.05 else "")
        )
    return "\n".join(lines)
