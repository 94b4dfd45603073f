"""Paired comparisons of two systems on the items both were scored on: the report's pair table.

    python -m harness report RUN_DIR     # the table, and the findings written from it

    [report]                                  # benchmark.toml; these are the defaults
    pairs = [["lora-kd", "lora"], ["lora", "vanilla"], ["rag", "vanilla"], ["rag+lora-kd", "rag"], ["teacher", "lora-kd"]]
    refusal_pairs = [["rag", "vanilla"]]

Each pair ``[system, baseline]`` of ``pairs`` compares accuracy, each of ``refusal_pairs`` the
refusal rate; any proportion metric of :data:`harness.analysis.METRICS` can be paired
(:func:`paired_row`). A row holds, on the items both systems have a value for:

* ``system_value`` - ``baseline_value`` = ``difference``, with Newcombe's 95% CI for paired
  proportions (:func:`harness.scoring.stats.newcombe_paired_ci`);
* ``system_only`` / ``baseline_only``: the discordant items (only that system correct, or only
  that one refused); the exact McNemar p-value is the two-sided binomial test on them;
* ``p_holm``: Holm-adjusted over every row of the table, ``significant`` when it is <= ``alpha``;
* ``mdd``: the smallest difference the test detects with 80% power at this ``n`` and the
  observed discordance rate (:func:`harness.scoring.stats.mcnemar_mdd`), so that "not
  significant" is read as "smaller than ``mdd``, or not there", never as "no difference".

Edge cases: a pair naming a system that is not in the run, or two systems with no item scored
for both (a system not applicable to any item), is skipped with a note, not tested; two systems
that agree on every item have ``p = 1`` and no ``mdd``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from harness.benchmark import ReportConfig
from harness.scoring import stats

if TYPE_CHECKING:
    import pandas as pd

Outcomes = Mapping[str, Mapping[str, bool]]  # system -> item id -> 0/1 outcome
CI_METHOD = "Newcombe (1998) method 10 hybrid score interval for paired proportions"
TEST = "exact McNemar (two-sided binomial test on the discordant items), Holm-adjusted across the table"
MDD_METHOD = "Connor (1987): smallest difference detected with 80% power at alpha 0.05, given n and the observed discordance"


def outcomes_of(frame: pd.DataFrame, metric: str) -> dict[str, dict[str, bool]]:
    """``{system: {item id: value}}`` of one proportion metric of a samples frame (the per-answer
    booleans :func:`harness.analysis.metrics_of` averages), leaving out answers it does not apply to."""
    import pandas as pd

    from harness.analysis.summary import metrics_of

    picks = metrics_of(frame)
    if metric not in picks:
        raise KeyError(f"{metric!r} is not a metric of this frame; known: {', '.join(picks)}")
    values = picks[metric](frame)
    if values.dtype != "boolean":
        raise ValueError(f"{metric!r} is not a proportion (its per-answer values are {values.dtype}); pair only 0/1 metrics")
    out: dict[str, dict[str, bool]] = defaultdict(dict)
    for system, item, value in zip(frame["system"], frame["id"], values):
        if not pd.isna(value):
            out[str(system)][str(item)] = bool(value)
    return dict(out)


def paired_row(metric: str, system: str, baseline: str, outcomes: Outcomes, alpha: float = stats.ALPHA) -> dict[str, Any] | None:
    """The row of ``system`` against ``baseline`` on ``metric`` (``p_holm`` not yet set); None
    when no item has a value for both."""
    first, second = outcomes.get(system, {}), outcomes.get(baseline, {})
    shared = sorted(set(first) & set(second))
    if not shared:
        return None
    counts = stats.PairedCounts.of([first[i] for i in shared], [second[i] for i in shared])
    ci = stats.newcombe_paired_ci(counts)
    test = stats.mcnemar_exact([first[i] for i in shared], [second[i] for i in shared])  # two-sided: the order does not matter
    mdd = stats.mcnemar_mdd(counts.n, counts.discordant / counts.n, alpha=alpha)
    return {
        "metric": metric,
        "system": system,
        "baseline": baseline,
        "n_shared": counts.n,
        "system_value": round((counts.both + counts.first_only) / counts.n, 4),
        "baseline_value": round((counts.both + counts.second_only) / counts.n, 4),
        "difference": round(counts.difference or 0.0, 4),
        "ci": ci.to_list() if ci else None,
        "system_only": counts.first_only,
        "baseline_only": counts.second_only,
        "p_value": round(test.p_value, 6),
        "mdd": None if mdd is None else round(mdd, 4),
    }


def _adjust(rows: list[dict[str, Any]], alpha: float) -> list[dict[str, Any]]:
    for row, p_holm in zip(rows, stats.holm([r["p_value"] for r in rows])):
        row["p_holm"] = round(p_holm, 6)
        row["significant"] = p_holm <= alpha
    return rows


def _header(alpha: float) -> dict[str, Any]:
    return {"alpha": alpha, "confidence": stats.CONFIDENCE, "power": stats.POWER, "ci_method": CI_METHOD, "test": TEST, "mdd_method": MDD_METHOD}


def pair_table(frame: pd.DataFrame, report: ReportConfig | None = None, alpha: float = stats.ALPHA) -> dict[str, Any]:
    """``run.json`` ``metrics["comparisons"]``: the ``[report]`` pairs of one run's samples frame."""
    report = report or ReportConfig()
    present = {str(s) for s in frame["system"].unique()}
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for metric, pairs in (("accuracy", report.pairs), ("refusal_rate", report.refusal_pairs)):
        outcomes = outcomes_of(frame, metric)
        for system, baseline in pairs:
            missing = [name for name in (system, baseline) if name not in present]
            if missing:
                skipped.append(f"{metric} {system} vs {baseline}: {' and '.join(missing)} not in this run")
                continue
            row = paired_row(metric, system, baseline, outcomes, alpha)
            if row is None:
                skipped.append(f"{metric} {system} vs {baseline}: no item scored for both")
                continue
            rows.append(row)
    return {**_header(alpha), "pairs": report.to_dict(), "rows": _adjust(rows, alpha), "skipped": skipped}


def baseline_table(frame: pd.DataFrame, names: Sequence[str], baseline: str, alpha: float = stats.ALPHA) -> dict[str, Any]:
    """``run.json`` ``metrics["versus_baseline"]``: the accuracy of every other system against
    ``baseline`` (Holm over these rows only)."""
    present = {str(s) for s in frame["system"].unique()}
    if baseline not in present:
        note = f"baseline system {baseline!r} is not in this run; pass --baseline-system with one of {', '.join(names)}"
        return {**_header(alpha), "baseline": baseline, "rows": [], "note": note}
    outcomes = outcomes_of(frame, "accuracy")
    found = (paired_row("accuracy", name, baseline, outcomes, alpha) for name in names if name != baseline and name in present)
    return {**_header(alpha), "baseline": baseline, "rows": _adjust([row for row in found if row is not None], alpha)}


def report_config_of(run: Mapping[str, Any]) -> ReportConfig:
    """The pairs a run compares: those its ``run.json`` recorded, else the ``[report]`` table of
    the benchmark.toml beside the recorded items file (runs made before pairs were recorded),
    else the defaults."""
    from harness.api.errors import ConfigError
    from harness.benchmark import load_config

    bench = run.get("benchmark") or {}
    if "report" in bench:
        return ReportConfig.from_dict(bench["report"], "run.json benchmark")
    toml = Path(str(bench.get("path", ""))).parent / "benchmark.toml"
    if bench.get("path") and toml.exists():
        try:
            return load_config(toml).report
        except ConfigError:
            pass
    return ReportConfig()


def rows_as_records(tables: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Flat records of ``(run_id, table)`` rows: ``ci`` split into ``ci_low``/``ci_high``."""
    records = []
    for run_id, table in tables:
        for row in table.get("rows", []):
            low, high = row.get("ci") or (None, None)
            records.append({"run_id": run_id, **{k: v for k, v in row.items() if k != "ci"}, "ci_low": low, "ci_high": high})
    return records
