"""Metrics and paired comparisons as frames, computed by ``groupby`` over :func:`samples_df`.

    from harness.analysis import metrics_df, comparisons_df
    metrics_df("reports/baseline")        # one row per run x system x metric, with n and 95% CI
    comparisons_df("reports/baseline")    # the pair table: the paper's questions, tested item by item

:func:`summarize` is the one definition of the per-system metrics: ``run.json`` (through
:func:`harness.scoring.metrics.compute_metrics`), the report's tables, ``summary.csv`` and
:func:`metrics_df` all come from it. Each metric is the mean of one per-answer column over the
answers where it applies (:func:`metrics_of`). A metric whose per-answer values are booleans
(accuracy, refusal rate, unit error rate, any rate a newer grader adds) is a proportion and gets
the Wilson score interval of :func:`harness.scoring.stats.wilson_ci`; any other (key-point
coverage, latency, tokens) gets the percentile bootstrap of
:func:`harness.scoring.stats.bootstrap_ci` over its answers in log order. The ``interval``
column names which. Values are rounded as ``run.json`` stores them (4 digits, token counts 2).

Edge cases: a metric that applies to no answer of a system (no refusal probes, no key-point
items) has no row for it; latency and token means count every answer, graded or not, the
other metrics only graded answers; items a system was not applicable to (``applicable`` false)
count in none of its metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.api.items import REFUSAL_PROBE

if TYPE_CHECKING:
    import pandas as pd


def _graded(df: pd.DataFrame) -> pd.Series:
    """Answers that count: graded, of items the system was applicable to."""
    return df["grader"].notna() & df["applicable"]


def _ran(df: pd.DataFrame, column: str) -> pd.Series:
    """Answers the system generated that have ``column`` (not-applicable items have no latency)."""
    return df[column].notna() & df["applicable"]


def _where(values: pd.Series, mask: pd.Series) -> pd.Series:
    """``values`` where ``mask`` holds, else NA; booleans stay booleans (a proportion), anything
    else becomes Float64 (a mean)."""
    kept = mask.fillna(False).astype(bool)
    return values.where(kept) if values.dtype == "boolean" else values.astype("Float64").where(kept)


#: metric name -> per-answer value (NA where the metric does not apply), averaged per group.
#: A boolean per-answer value makes the metric a proportion (Wilson interval), so a new rate is one
#: line here: ``"x_rate": lambda df: _where(df["x"], _graded(df))`` with ``x`` a boolean column.
#: :func:`metrics_of` adds one ``accuracy_<category>`` after ``accuracy`` per category of the frame,
#: and one ``degenerate_rate_<category>`` at the end.
METRICS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "accuracy": lambda df: _where(df["correct"], _graded(df) & df["correct"].notna()),
    "accuracy_strict": lambda df: _where(df["correct_strict"], _graded(df) & df["correct"].notna() & df["correct_strict"].notna()),
    "unit_error_rate": lambda df: _where(df["unit_error"], _graded(df) & df["unit_error"].notna()),
    "numeric_value_error_rate": lambda df: _where(df["value_error"], _graded(df) & df["value_error"].notna()),
    "quality": lambda df: _where(df["coverage"], _graded(df) & df["coverage"].notna()),
    "refusal_rate": lambda df: _where(df["refused"], _graded(df)),
    "false_refusal_rate": lambda df: _where(df["refused"], _graded(df) & (df["category"] == REFUSAL_PROBE)),
    "degenerate_rate": lambda df: _where(df["degenerate"], _graded(df) & df["degenerate"].notna()),
    "mean_latency_s": lambda df: _where(df["latency_s"], _ran(df, "latency_s")),
    "mean_completion_tokens": lambda df: _where(df["completion_tokens"], _ran(df, "completion_tokens")),
    "mean_prompt_tokens": lambda df: _where(df["prompt_tokens"], _ran(df, "prompt_tokens")),
}
DIGITS = {"mean_completion_tokens": 2, "mean_prompt_tokens": 2}  # rounding of run.json; others 4
RETRIEVAL_METRICS = ("retrieval_hit@1", "retrieval_hit@3", "retrieval_hit@5", "retrieval_hit@10", "retrieval_mrr")
#: Columns of :func:`summarize` after the group keys (``interval``: ``wilson`` or ``bootstrap``).
METRIC_COLUMNS: dict[str, str] = {"metric": "category", "n": "Int64", "value": "Float64", "ci_low": "Float64", "ci_high": "Float64", "interval": "string"}
WILSON, BOOTSTRAP = "wilson", "bootstrap"  # the two kinds of interval


def metrics_of(samples: pd.DataFrame) -> dict[str, Callable[[pd.DataFrame], pd.Series]]:
    """:data:`METRICS` with ``accuracy_<category>`` and ``degenerate_rate_<category>`` for every
    category of ``samples`` (its categorical order: benchmark order), in the order
    :func:`summarize` lists them."""

    def in_category(category: str) -> Callable[[pd.DataFrame], pd.Series]:
        return lambda df: _where(df["correct"], _graded(df) & df["correct"].notna() & (df["category"] == category))

    def degenerate_in(category: str) -> Callable[[pd.DataFrame], pd.Series]:
        return lambda df: _where(df["degenerate"], _graded(df) & df["degenerate"].notna() & (df["category"] == category))

    per_category = {f"accuracy_{c}": in_category(str(c)) for c in samples["category"].cat.categories}
    degenerate_by_category = {f"degenerate_rate_{c}": degenerate_in(str(c)) for c in samples["category"].cat.categories}
    return {"accuracy": METRICS["accuracy"], **per_category, **{k: v for k, v in METRICS.items() if k != "accuracy"}, **degenerate_by_category}


def _describe(values: pd.Series, metric: str, proportion: bool) -> dict[str, Any]:
    from harness.scoring import stats

    data = [float(v) for v in values]
    ci = stats.wilson_ci(round(sum(data)), len(data)) if proportion else stats.bootstrap_ci(data)
    low, high = ci.to_list() if ci else (None, None)
    value = round(stats.mean(data) or 0.0, DIGITS.get(metric, 4))
    return {"n": len(data), "value": value, "ci_low": low, "ci_high": high, "interval": WILSON if proportion else BOOTSTRAP}


def summarize(samples: pd.DataFrame, by: Sequence[str] = ("run_id", "system")) -> pd.DataFrame:
    """Long frame: one row per group of ``by`` x metric of :func:`metrics_of`, with ``n`` (answers
    the metric applies to), ``value``, ``ci_low`` and ``ci_high`` (95%) and ``interval`` (Wilson
    for proportions, bootstrap for means)."""
    import pandas as pd

    keys = list(by)
    picked = {name: pick(samples) for name, pick in metrics_of(samples).items()}
    proportions = {name for name, column in picked.items() if column.dtype == "boolean"}
    values = pd.DataFrame(picked).join(samples[keys])
    long = values.melt(id_vars=keys, var_name="metric", value_name="value").dropna(subset=["value"])
    groups = long.groupby([*keys, "metric"], observed=True, sort=False)["value"]
    out = groups.apply(lambda chunk: pd.Series(_describe(chunk, chunk.name[-1], chunk.name[-1] in proportions))).unstack().reset_index()
    return _typed(out.reindex(columns=[*keys, *METRIC_COLUMNS]), samples, keys)


def _typed(out: pd.DataFrame, samples: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Dtypes of :data:`METRIC_COLUMNS` (keys keep the samples' dtypes); rows sorted by group in
    the order the groups appear in ``samples`` (categoricals: category order), then metric."""
    import pandas as pd

    out = out.astype({**{k: samples[k].dtype for k in keys}, **METRIC_COLUMNS, "metric": pd.CategoricalDtype([*metrics_of(samples), *RETRIEVAL_METRICS])})
    first_seen = {k: {v: i for i, v in enumerate(dict.fromkeys(samples[k].dropna()))} for k in keys}

    def order(column: pd.Series) -> pd.Series:
        return column if isinstance(column.dtype, pd.CategoricalDtype) else column.map(first_seen[str(column.name)])

    return out.sort_values([*keys, "metric"], kind="stable", key=order).reset_index(drop=True)


def widen(long: pd.DataFrame, by: Sequence[str] = ("system",)) -> pd.DataFrame:
    """One row per group (index ``by``), columns ``<metric>``, ``<metric>_n``, ``<metric>_ci_low``,
    ``<metric>_ci_high`` and ``<metric>_interval`` for every metric of ``long`` (a
    :func:`summarize` frame)."""
    wide = long.pivot(index=list(by), columns="metric", values=["value", "n", "ci_low", "ci_high", "interval"])
    suffix = {"value": "", "n": "_n", "ci_low": "_ci_low", "ci_high": "_ci_high", "interval": "_interval"}
    wide.columns = [f"{metric}{suffix[field]}" for field, metric in wide.columns]
    return wide


def retrieval_inputs(samples: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The ``(samples, items)`` records :func:`harness.scoring.metrics.retrieval_for` reads, from a frame."""
    records = [{"id": i, "system": str(s), "extra": e} for i, s, e in zip(samples["id"], samples["system"], samples["extra"])]
    items = {i: {"id": i, "category": str(c), "gold_passages": g} for i, c, g in zip(samples["id"], samples["category"], samples["gold_passages"])}
    return records, items


def retrieval_summary(samples: pd.DataFrame) -> pd.DataFrame:
    """Hit@k and MRR per run x system for the systems that recorded retrieved chunks, as
    :func:`summarize` rows (``n`` = answers with gold passages; hit@k with its Wilson interval,
    MRR without one); empty when none did. Reads the corpus the gold anchors point into
    (``retrieval_index``)."""
    import pandas as pd

    from harness.scoring.metrics import retrieval_for

    def row(run_id: str, system: str, metric: str, found: dict[str, Any]) -> dict[str, Any]:
        key = metric.removeprefix("retrieval_")
        low, high = found.get(f"{key}_ci") or (None, None)
        values = {"n": found.get("n"), "value": found[key], "ci_low": low, "ci_high": high, "interval": WILSON if low is not None else None}
        return {"run_id": run_id, "system": system, "metric": metric, **values}

    rows = [
        row(str(run_id), system, metric, found["all"])
        for run_id, run in samples.groupby("run_id", sort=False)
        for system, found in retrieval_for(*retrieval_inputs(run)).items()
        for metric in RETRIEVAL_METRICS
        if found.get("all", {}).get(metric.removeprefix("retrieval_")) is not None
    ]
    return _typed(pd.DataFrame(rows, columns=["run_id", "system", *METRIC_COLUMNS]), samples, ["run_id", "system"])


def _with_run_columns(frame: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    from harness.analysis.frames import RUN_COLUMNS

    runs = samples[list(RUN_COLUMNS)].drop_duplicates("run_id")
    return runs.merge(frame, on="run_id", how="inner", validate="one_to_many")


def metrics_df(*run_dirs: str | Path, retrieval: bool = True) -> pd.DataFrame:
    """One row per run x system x metric: the run columns of :func:`samples_df`, ``system``,
    ``metric`` (categorical), ``n``, ``value``, ``ci_low``, ``ci_high``, ``interval``.
    ``retrieval``: add hit@k and MRR rows for systems that retrieved (reads the corpus)."""
    import pandas as pd

    from harness.analysis.frames import samples_df

    samples = samples_df(*run_dirs)
    parts = [summarize(samples), *([retrieval_summary(samples)] if retrieval else [])]
    long = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    return _with_run_columns(_typed(long, samples, ["run_id", "system"]), samples)


#: Columns of :func:`comparisons_df` after the run columns.
COMPARISON_COLUMNS: dict[str, str] = {
    "metric": "string", "system": "string", "baseline": "string", "n_shared": "Int64", "system_value": "Float64", "baseline_value": "Float64",
    "difference": "Float64", "ci_low": "Float64", "ci_high": "Float64", "system_only": "Int64", "baseline_only": "Int64",
    "p_value": "Float64", "p_holm": "Float64", "significant": "boolean", "mdd": "Float64",
}  # fmt: skip


def comparisons_df(*run_dirs: str | Path, baseline: str | None = None) -> pd.DataFrame:
    """The report's pair table per run (``run.json`` ``metrics["comparisons"]``): one row per
    ``[report]`` pair and metric, with the difference, Newcombe's paired 95% CI, exact McNemar p,
    Holm p within the run and the minimum detectable difference (:mod:`harness.scoring.pairs`).
    ``baseline``: instead, every system's accuracy against that system (``metrics["versus_baseline"]``
    when it is the run's baseline system)."""
    import pandas as pd

    from harness.analysis.frames import samples_df
    from harness.runlog import load_run
    from harness.scoring.pairs import baseline_table, pair_table, report_config_of, rows_as_records

    samples = samples_df(*run_dirs)
    tables = []
    for run_id, run in samples.groupby("run_id", sort=False):
        if baseline is None:
            report = report_config_of(load_run(Path(str(run["run_dir"].iloc[0]))))
            tables.append((str(run_id), pair_table(run, report)))
        else:
            names = [str(s) for s in run["system"].cat.categories if (run["system"] == s).any()]  # run order
            tables.append((str(run_id), baseline_table(run, names, baseline)))
    out = pd.DataFrame(rows_as_records(tables), columns=["run_id", *COMPARISON_COLUMNS]).astype({"run_id": "string", **COMPARISON_COLUMNS})
    out["system"] = out["system"].astype(samples["system"].dtype)
    return _with_run_columns(out, samples)


def grade_records(samples: pd.DataFrame) -> list[dict[str, Any]]:
    """``{"id", "system", "category", "correct", "refused"}`` of every graded answer (not those
    of items the system was not applicable to), in log order, NA as None: the input of
    :func:`harness.scoring.metrics.outcomes`."""
    graded = samples[_graded(samples)]
    return [
        {"id": str(i), "system": str(s), "category": None if c is None else str(c), "correct": None if k is None else bool(k), "refused": bool(r)}
        for i, s, c, k, r in zip(graded["id"], graded["system"], _nullable(graded["category"]), _nullable(graded["correct"]), graded["refused"].fillna(False))
    ]


def _nullable(column: pd.Series) -> list[Any]:
    return [None if missing else value for value, missing in zip(column.astype(object), column.isna())]
