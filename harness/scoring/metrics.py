"""Run-level metrics and paired comparisons, computed from the run log only (never from models).

    python -m harness run --systems vanilla,rag --limit 20    # stores these under run.json "metrics"
    python -m harness report RUN_DIR                          # recomputes them and re-renders

Per system (``metrics["per_system"][name]``): ``n``, ``accuracy`` with a 95% bootstrap CI over
items that have an answer key, ``accuracy_by_category``, ``accuracy_strict`` (numeric answers read
only after an explicit ``Final answer:``), ``degenerate_rate`` and ``degenerate_by_category``
(loops, empty text, gibberish, echoes), ``unit_error_rate`` (numeric items with
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
from harness.scoring import stats

log = logging.getLogger(__name__)

ALPHA = 0.05  # significance level for the "significant" flag of paired comparisons


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _value(row: Mapping[str, Any], metric: str) -> float | None:
    value = row.get(metric)
    return None if value is None else float(value)


def _count(row: Mapping[str, Any], metric: str) -> int:
    value = row.get(f"{metric}_n")
    return 0 if value is None else int(value)


def _ci(row: Mapping[str, Any], metric: str) -> list[float] | None:
    low, high = _value(row, f"{metric}_ci_low"), _value(row, f"{metric}_ci_high")
    return None if low is None or high is None else [low, high]


def system_metrics(row: Mapping[str, Any], graded: int, cached: int, categories: Sequence[str] = ()) -> dict[str, Any]:
    """One system's ``run.json`` entry from its row of :func:`harness.analysis.widen` (the
    groupby over the samples frame, missing values as None); ``graded``/``cached``: how many of
    its answers were graded / served from the generation cache; ``categories``: the run's
    categories in benchmark order (``accuracy_by_category`` lists those the system was scored on)."""
    by_category = {
        c: {"n": _count(row, f"accuracy_{c}"), "accuracy": _value(row, f"accuracy_{c}"), "ci": _ci(row, f"accuracy_{c}")}
        for c in categories
        if _count(row, f"accuracy_{c}")
    }
    return {
        "n": graded,
        "n_scored": _count(row, "accuracy"),
        "accuracy": _value(row, "accuracy"),
        "accuracy_ci": _ci(row, "accuracy"),
        "accuracy_by_category": by_category,
        "accuracy_strict": _value(row, "accuracy_strict"),
        "degenerate_rate": _value(row, "degenerate_rate"),
        "degenerate_by_category": {c: _value(row, f"degenerate_rate_{c}") for c in categories if _count(row, f"degenerate_rate_{c}")},
        "numeric_n": _count(row, "numeric_value_error_rate"),
        **{k: _value(row, k) for k in ("unit_error_rate", "numeric_value_error_rate", "quality")},
        "quality_n": _count(row, "quality"),
        "refusal_rate": _value(row, "refusal_rate"),
        "probe_n": _count(row, "false_refusal_rate"),
        **{k: _value(row, k) for k in ("false_refusal_rate", "mean_latency_s", "mean_completion_tokens", "mean_prompt_tokens")},
        "cached": cached,
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
    """``run.json`` "metrics" from a run's grade and sample records (see :func:`metrics_from_frame`)."""
    from harness.analysis.frames import graded_frame

    return metrics_from_frame(graded_frame(samples, grades, items), names, baseline)


def metrics_from_frame(frame: Any, names: Sequence[str], baseline: str, summary: Any = None) -> dict[str, Any]:
    """``run.json`` "metrics" of one run's :func:`harness.analysis.samples_df` frame: the
    per-system metrics by groupby (:func:`harness.analysis.summarize`), retrieval, the paired
    comparisons against ``baseline`` and the per-item outcomes. ``summary``: the frame's
    ``widen(summarize(frame, by=["system"]))`` when the caller already has it."""
    import pandas as pd

    from harness.analysis.summary import grade_records, retrieval_inputs, summarize, widen
    from harness.scoring.agreement import load_headline
    from harness.scoring.gradebook import GRADES, grader_id

    counts = frame.groupby("system", observed=True).agg(graded=("grader", "count"), cached=("cached", "sum"))
    graded = [str(name) for name, n in counts["graded"].items() if n]
    names = [n for n in names if n in graded] or sorted(graded)
    wide = summary if summary is not None else widen(summarize(frame, by=["system"]))
    retrieval = retrieval_for(*retrieval_inputs(frame))
    categories = [str(c) for c in frame["category"].cat.categories]  # benchmark order (see harness.analysis.frames)
    per_system = {}
    for name in names:
        row = {k: None if pd.isna(v) else v for k, v in wide.loc[name].items()}
        counted = system_metrics(row, int(counts.loc[name, "graded"]), int(counts.loc[name, "cached"]), categories)
        per_system[name] = {**counted, "retrieval": retrieval.get(name)}
    per_item = outcomes(grade_records(frame))
    return {
        "grading": {"grader_version": grader_id(), "file": GRADES, "agreement": load_headline()},
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
