"""Run-level metrics and paired comparisons, computed from the run log only (never from models).

    python -m harness run --systems vanilla,rag --limit 20    # stores these under run.json "metrics"
    python -m harness report RUN_DIR                          # recomputes them and re-renders

Per system (``metrics["per_system"][name]``): ``n``, ``accuracy`` with a 95% bootstrap CI over
items that have an answer key, ``accuracy_by_category``, ``unit_error_rate`` (numeric items with
the right number but a missing/wrong unit), ``numeric_value_error_rate`` (numeric items with the
wrong number), ``quality`` (mean key-point coverage), ``refusal_rate`` (all items),
``false_refusal_rate`` (refusal probes), mean latency and tokens, and for systems that recorded
retrieved passages the retrieval metrics (hit@k, MRR).

Paired comparisons (``metrics["comparisons"]``): every system against the baseline system on the
items both answered -- accuracy difference with a paired bootstrap CI, exact McNemar p-value,
Holm-adjusted across systems. ``metrics["outcomes"]`` keeps ``[correct, refused, category]`` per item so a
later run can be tested against this one (the CI gate).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.api.errors import HarnessError
from harness.api.items import REFUSAL_PROBE
from harness.scoring import stats
from harness.scoring.score import is_unit_error

log = logging.getLogger(__name__)

ALPHA = 0.05  # significance level for the "significant" flag of paired comparisons


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def system_metrics(grades: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]], categories: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics of one system from its grade records and sample records; ``categories`` orders
    ``accuracy_by_category`` (default: as they first appear in ``grades``)."""
    scored = [g for g in grades if g.get("correct") is not None]
    correct = [1.0 if g["correct"] else 0.0 for g in scored]
    ci = stats.bootstrap_ci(correct)
    by_category: dict[str, Any] = {}
    for category in categories if categories is not None else dict.fromkeys(str(g.get("category")) for g in scored):
        rows = [1.0 if g["correct"] else 0.0 for g in scored if g.get("category") == category]
        if rows:
            cat_ci = stats.bootstrap_ci(rows)
            by_category[category] = {"n": len(rows), "accuracy": _round(stats.mean(rows)), "ci": cat_ci.to_list() if cat_ci else None}
    numeric = [g for g in grades if g.get("kind") == "numeric"]
    coverage = [float(g["coverage"]) for g in grades if g.get("coverage") is not None]
    probes = [g for g in grades if g.get("category") == REFUSAL_PROBE]
    latencies = [float(s["latency_s"]) for s in samples if isinstance(s.get("latency_s"), (int, float))]
    completion = [float(s["completion_tokens"]) for s in samples if isinstance(s.get("completion_tokens"), (int, float))]
    prompt = [float(s["prompt_tokens"]) for s in samples if isinstance(s.get("prompt_tokens"), (int, float))]
    return {
        "n": len(grades),
        "n_scored": len(scored),
        "accuracy": _round(stats.mean(correct)),
        "accuracy_ci": ci.to_list() if ci else None,
        "accuracy_by_category": by_category,
        "numeric_n": len(numeric),
        "unit_error_rate": _round(_rate([is_unit_error(g) for g in numeric])),
        "numeric_value_error_rate": _round(_rate([not g.get("value_correct") for g in numeric])),
        "quality": _round(stats.mean(coverage)),
        "quality_n": len(coverage),
        "refusal_rate": _round(_rate([bool(g.get("refused")) for g in grades])),
        "probe_n": len(probes),
        "false_refusal_rate": _round(_rate([bool(g.get("refused")) for g in probes])),
        "mean_latency_s": _round(stats.mean(latencies)),
        "mean_completion_tokens": _round(stats.mean(completion), 2),
        "mean_prompt_tokens": _round(stats.mean(prompt), 2),
        "cached": sum(1 for s in samples if s.get("cached")),
    }


def outcomes(grades: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """``{system: {item_id: [correct, refused, category]}}`` -- what a later paired test needs."""
    out: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for g in grades:
        out[str(g.get("system"))][str(g["id"])] = [g.get("correct"), bool(g.get("refused")), g.get("category")]
    return dict(out)


def paired_accuracy(base: Mapping[str, list[Any]], other: Mapping[str, list[Any]]) -> dict[str, Any]:
    """Accuracy of ``other`` minus ``base`` on shared scored items (outcome maps as above)."""
    shared = sorted(i for i in base if i in other and base[i][0] is not None and other[i][0] is not None)
    a = [bool(base[i][0]) for i in shared]
    b = [bool(other[i][0]) for i in shared]
    ci = stats.paired_bootstrap_ci([float(x) for x in a], [float(x) for x in b])
    test = stats.mcnemar_exact(a, b)
    return {
        "n_shared": len(shared),
        "baseline_accuracy": _round(stats.mean([float(x) for x in a])),
        "accuracy": _round(stats.mean([float(x) for x in b])),
        "difference": _round((stats.mean([float(x) for x in b]) or 0.0) - (stats.mean([float(x) for x in a]) or 0.0)) if shared else None,
        "ci": ci.to_list() if ci else None,
        "baseline_only_correct": test.a_only,
        "system_only_correct": test.b_only,
        "p_value": _round(test.p_value, 6),
    }


def comparisons(per_item: Mapping[str, Mapping[str, list[Any]]], names: Sequence[str], baseline: str, alpha: float = ALPHA) -> dict[str, Any]:
    if baseline not in per_item:
        return {
            "baseline": baseline,
            "rows": [],
            "note": f"baseline system {baseline!r} is not in this run; pass --baseline-system with one of {', '.join(names)}",
        }
    rows = [{"system": name, **paired_accuracy(per_item[baseline], per_item[name])} for name in names if name != baseline and name in per_item]
    adjusted = stats.holm([r["p_value"] for r in rows])
    for row, p in zip(rows, adjusted):
        row["p_holm"] = _round(p, 6)
        row["significant"] = p <= alpha
    return {"baseline": baseline, "alpha": alpha, "test": "exact McNemar, Holm-adjusted; paired bootstrap 95% CI", "rows": rows}


def retrieval_for(samples: Sequence[Mapping[str, Any]], items: Mapping[str, Any]) -> dict[str, Any]:
    """Retrieval metrics of systems that recorded ``extra["retrieved"]`` (empty when none did)."""
    if not any(isinstance((s.get("extra") or {}).get("retrieved"), list) for s in samples):
        return {}
    from harness.scoring.retrieval import retrieval_metrics_for_run

    return retrieval_metrics_for_run(samples, list(items.values()))


def compute_metrics(
    grades: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]], items: Mapping[str, Any], names: Sequence[str], baseline: str
) -> dict[str, Any]:
    from harness.scoring.calibration import load_calibration
    from harness.scoring.gradebook import GRADES, grader_id

    by_system_grades: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_system_samples: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for g in grades:
        by_system_grades[str(g.get("system"))].append(g)
    for s in samples:
        by_system_samples[str(s.get("system"))].append(s)
    names = [n for n in names if n in by_system_grades] or sorted(by_system_grades)
    retrieval = retrieval_for(samples, items)
    categories = list(dict.fromkeys(str(getattr(item, "category", None) or item["category"]) for item in items.values()))  # benchmark order
    per_system = {}
    for name in names:
        per_system[name] = system_metrics(by_system_grades[name], by_system_samples[name], categories or None)
        per_system[name]["retrieval"] = retrieval.get(name)
    per_item = outcomes(grades)
    try:
        calibration_report = load_calibration().report.get("test", {})
        grading_accuracy = {k: v.get("accuracy") for k, v in calibration_report.items() if isinstance(v, dict)}
    except Exception:  # a missing calibration already failed grading; keep metrics writable
        grading_accuracy = {}
    return {
        "grading": {"grader_version": grader_id(), "file": GRADES, "held_out_accuracy": grading_accuracy},
        "per_system": per_system,
        "comparisons": comparisons(per_item, names, baseline),
        "outcomes": per_item,
    }


def run_metrics(run_dir: Path, benchmark: Any, names: Sequence[str], baseline: str) -> dict[str, Any]:
    """Grade every sample of ``run_dir`` (writing ``grades.jsonl``) and compute all metrics."""
    from harness.runlog import read_samples
    from harness.scoring.grade import GradeConfig
    from harness.scoring.gradebook import ensure_grades, load_items

    items = load_items(Path(run_dir), getattr(benchmark, "items", ()))
    config = GradeConfig.from_benchmark(benchmark.config) if benchmark is not None else None
    try:
        grades = ensure_grades(Path(run_dir), items, config, regrade=True)
    except HarnessError as exc:
        # The answers are safe in samples.jsonl; say how to grade them later instead of failing the run.
        log.error("grading failed: %s", exc)
        return {"error": f"grading failed: {exc}; fix it, then run: python -m harness report {run_dir} --regrade", "per_system": {}}
    return compute_metrics(grades, read_samples(Path(run_dir)), items, list(names), baseline)
