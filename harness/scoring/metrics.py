"""Run-level metrics and paired comparisons, computed from the run log only (never from models).

    python -m harness run --systems vanilla,rag --limit 20    # stores these under run.json "metrics"
    python -m harness report RUN_DIR                          # recomputes them and re-renders

Per system (``metrics["per_system"][name]``): ``n`` (answers scored), ``n_not_applicable`` and
``not_applicable`` (items the system cannot do, by reason: left out of every metric),
``accuracy`` with its 95% Wilson interval over items that have an answer key,
``accuracy_by_category``, ``accuracy_strict`` (numeric answers read only after an explicit
``Final answer:``), ``degenerate_rate`` and ``degenerate_by_category`` (loops, empty text,
gibberish, echoes), ``unit_error_rate`` (numeric items with the right number but a
missing/wrong unit), ``numeric_value_error_rate`` (numeric items with the wrong number),
``quality`` (mean key-point coverage), ``refusal_rate`` (all items), ``false_refusal_rate``
(refusal probes), each rate with its Wilson interval under ``<rate>_ci``, mean latency and
tokens, and for systems that recorded retrieved passages the retrieval metrics (hit@k with
Wilson intervals, MRR).

Paired comparisons (:mod:`harness.scoring.pairs`): ``metrics["comparisons"]`` is the pair table
of the benchmark's ``[report]`` pairs (the paper's questions), ``metrics["versus_baseline"]``
every system against the baseline system; each row has the difference, Newcombe's paired CI, the
exact McNemar p, Holm's adjustment and the minimum detectable difference.
``metrics["outcomes"]`` keeps ``[correct, refused, category]`` per item so a later run can be
tested against this one (the CI gate).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.api.errors import HarnessError
from harness.api.system import NOT_APPLICABLE
from harness.benchmark import ReportConfig

log = logging.getLogger(__name__)


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
    its answers were scored (graded, on items it was applicable to) / served from the generation
    cache; ``categories``: the run's categories in benchmark order (``accuracy_by_category``
    lists those the system was scored on)."""
    by_category = {
        c: {"n": _count(row, f"accuracy_{c}"), "accuracy": _value(row, f"accuracy_{c}"), "ci": _ci(row, f"accuracy_{c}")}
        for c in categories
        if _count(row, f"accuracy_{c}")
    }
    out = {
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
    per_category = {f"accuracy_{c}" for c in categories}
    for metric in proportions(row):  # every other rate with its Wilson interval, a new grader's too
        if metric != "accuracy" and metric not in per_category:
            out.setdefault(metric, _value(row, metric))
            out[f"{metric}_ci"] = _ci(row, metric)
    return out


def proportions(row: Mapping[str, Any]) -> list[str]:
    """The metrics of a :func:`harness.analysis.widen` row that are proportions (Wilson interval)."""
    from harness.analysis.summary import WILSON

    return [key.removesuffix("_interval") for key, kind in row.items() if key.endswith("_interval") and kind == WILSON]


def outcomes(grades: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """``{system: {item_id: [correct, refused, category]}}`` -- what a later paired test needs."""
    out: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for g in grades:
        out[str(g.get("system"))][str(g["id"])] = [g.get("correct"), bool(g.get("refused")), g.get("category")]
    return dict(out)


def retrieval_for(samples: Sequence[Mapping[str, Any]], items: Mapping[str, Any]) -> dict[str, Any]:
    """Retrieval metrics of systems that recorded ``extra["retrieved"]`` (empty when none did)."""
    if not any(isinstance((s.get("extra") or {}).get("retrieved"), list) for s in samples):
        return {}
    from harness.scoring.retrieval import retrieval_metrics_for_run

    return retrieval_metrics_for_run(samples, list(items.values()))


def compute_metrics(
    grades: Sequence[Mapping[str, Any]],
    samples: Sequence[Mapping[str, Any]],
    items: Mapping[str, Any],
    names: Sequence[str],
    baseline: str,
    report: ReportConfig | None = None,
) -> dict[str, Any]:
    """``run.json`` "metrics" from a run's grade and sample records (see :func:`metrics_from_frame`)."""
    from harness.analysis.frames import graded_frame

    return metrics_from_frame(graded_frame(samples, grades, items), names, baseline, report=report)


def metrics_from_frame(frame: Any, names: Sequence[str], baseline: str, summary: Any = None, report: ReportConfig | None = None) -> dict[str, Any]:
    """``run.json`` "metrics" of one run's :func:`harness.analysis.samples_df` frame: the
    per-system metrics by groupby (:func:`harness.analysis.summarize`), retrieval, the pair
    table of ``report`` (default pairs when None), every system against ``baseline`` and the
    per-item outcomes. ``summary``: the frame's ``widen(summarize(frame, by=["system"]))`` when
    the caller already has it."""
    import pandas as pd

    from harness.analysis.summary import grade_records, retrieval_inputs, summarize, widen
    from harness.scoring.agreement import load_headline
    from harness.scoring.gradebook import GRADES, grader_id
    from harness.scoring.pairs import baseline_table, pair_table

    scored = frame.assign(scored=frame["grader"].notna() & frame["applicable"], not_applicable=~frame["applicable"])
    counts = scored.groupby("system", observed=True).agg(graded=("scored", "sum"), cached=("cached", "sum"), not_applicable=("not_applicable", "sum"))
    graded = [str(name) for name, row in counts.iterrows() if row["graded"] or row["not_applicable"]]
    names = [n for n in names if n in graded] or sorted(graded)
    wide = summary if summary is not None else widen(summarize(frame, by=["system"]))
    retrieval = retrieval_for(*retrieval_inputs(frame))
    categories = [str(c) for c in frame["category"].cat.categories]  # benchmark order (see harness.analysis.frames)
    per_system = {}
    for name in names:
        row = {k: None if pd.isna(v) else v for k, v in wide.loc[name].items()} if name in wide.index else {}
        counted = system_metrics(row, int(counts.loc[name, "graded"]), int(counts.loc[name, "cached"]), categories)
        skipped = scored[(scored["system"] == name) & scored["not_applicable"]]
        reasons = Counter(str((extra or {}).get(NOT_APPLICABLE)) for extra in skipped["extra"])
        per_system[name] = {**counted, "n_not_applicable": len(skipped), "not_applicable": dict(reasons), "retrieval": retrieval.get(name)}
    per_item = outcomes(grade_records(frame))
    return {
        "grading": {"grader_version": grader_id(), "file": GRADES, "agreement": load_headline()},
        "per_system": per_system,
        "comparisons": pair_table(frame, report),
        "versus_baseline": baseline_table(frame, names, baseline),
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
    report = benchmark.config.report if benchmark is not None else recorded_report(Path(run_dir))
    return compute_metrics(grades, read_samples(Path(run_dir)), items, list(names), baseline, report=report)


def recorded_report(run_dir: Path) -> ReportConfig | None:
    """The pairs ``run_dir``'s run.json recorded (a merged run has no benchmark object); None
    (the defaults) when there is no readable run.json."""
    from harness.api.errors import DataError
    from harness.runlog import load_run
    from harness.scoring.pairs import report_config_of

    try:
        return report_config_of(load_run(run_dir))
    except DataError:
        return None
