"""The report's tables as plain rows of strings, formatted by :mod:`reports.markdown` and
:mod:`reports.html`, and ``summary.csv``; the numbers come from :attr:`ReportData.summary` (a
``groupby`` over the run's samples frame) and, for the paired tests and retrieval, from the
run's metrics. Every rate is shown with its 95% interval (Wilson; quality: bootstrap).

    python -m harness report RUN_DIR
"""

from __future__ import annotations

from typing import Any

from reports.data import ReportData

Table = tuple[list[str], list[list[str]]]  # header, rows


def pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def ci_pct(ci: Any) -> str:
    return "-" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _ci(m: dict[str, Any], metric: str) -> list[float] | None:
    low, high = m.get(f"{metric}_ci_low"), m.get(f"{metric}_ci_high")
    return None if low is None or high is None else [low, high]


def with_ci(value: Any, ci: Any) -> str:
    """``12.5% [4.3, 31.0]``: a rate with its 95% interval (``-`` without a value)."""
    if value is None:
        return "-"
    return pct(value) if not ci else f"{pct(value)} {ci_pct(ci)}"


def pct_ci(m: dict[str, Any], metric: str) -> str:
    """A rate of a :meth:`ReportData.stats` row with its interval."""
    return with_ci(m.get(metric), _ci(m, metric))


RATES = ("unit_error_rate", "numeric_value_error_rate", "quality", "refusal_rate", "false_refusal_rate", "degenerate_rate")


def grader_agreement(grading: dict[str, Any]) -> str:
    """The report header's line on how far the graders can be trusted: their agreement with
    labelled real answers (``data/agreement.json``, written by ``python -m harness calibrate``)."""
    a = grading.get("agreement") or {}
    if not a.get("n"):
        return "not measured (python -m harness calibrate --check)"
    refusal = f"refusal precision {num(a.get('refusal_precision'))}, recall {num(a.get('refusal_recall'))}"
    refusal += f" ({a['refusals_labelled']} refusals labelled)" if a.get("refusals_labelled") else " (no refusal labelled)"
    correct = pct(a.get("correct_agreement"))
    if a.get("correct_flagged"):  # older agreement files lack it
        correct += f" (precision {num(a.get('correct_precision'))} on {a['correct_flagged']} answers graded correct)"
    line = (
        f"agreement with {a['n']} labelled real answers ({a.get('split', 'held_out')}): correct {correct}, "
        f"degenerate {pct(a.get('degenerate_agreement'))}, {refusal}, {a.get('loops_or_lists_flagged', 0)} loops or lists flagged as refusals"
    )
    blind = a.get("blind_refusals")
    if blind:  # the held-out rows were read to tune the graders; a blind batch was not
        line += (
            f"; graded blind on the newest elicited batch ({blind['run']}, graders {blind['graders']}, {blind['refusals']} refusals labelled): "
            f"refusal precision {num(blind.get('precision'))}, recall {num(blind.get('recall'))}"
        )
    return line


def summary_table(data: ReportData) -> Table:
    header = ["system", "n", "accuracy [95% CI]", "strict acc. [95% CI]", "unit errors", "value errors", "quality", "refusals", "false refusals", "degenerate"]
    header += ["latency s", "tokens"]
    rows = []
    for name in data.systems:
        m = data.stats(name)
        speed = [num(m.get("mean_latency_s"), 3), num(m.get("mean_completion_tokens"), 1)]
        n = str(m.get("n") or 0) + (f" ({m['n_not_applicable']} n/a)" if m.get("n_not_applicable") else "")
        rows.append([name, n, pct_ci(m, "accuracy"), pct_ci(m, "accuracy_strict"), *(pct_ci(m, k) for k in RATES), *speed])
    return header, rows


def categories(data: ReportData) -> list[str]:
    """The run's categories in benchmark order (the samples frame's category order) that some
    system was scored on."""
    return [str(c) for c in data.samples["category"].cat.categories if f"accuracy_{c}_n" in data.summary]


def _per_category(data: ReportData, prefix: str, interval: bool) -> Table:
    """One row per system, one ``<prefix><category>`` rate per category column with its n (and
    its Wilson interval when ``interval``); ``-`` where the category has no answer."""
    header = ["system"] + [f"{c.replace('_', ' ')} (n)" for c in categories(data)]
    rows = []
    for name in data.systems:
        m = data.stats(name)
        cells = [name]
        for metric in (f"{prefix}{c}" for c in categories(data)):
            shown = f"{pct(m.get(metric))} {ci_pct(_ci(m, metric))}" if interval else pct(m.get(metric))
            cells.append("-" if not m.get(f"{metric}_n") else f"{shown} ({m.get(f'{metric}_n')})")
        rows.append(cells)
    return header, rows


def category_table(data: ReportData) -> Table:
    return _per_category(data, "accuracy_", interval=True)


def degenerate_table(data: ReportData) -> Table:
    """Share of degenerate answers (loops, empty text, gibberish, echoes) per system and category."""
    return _per_category(data, "degenerate_rate_", interval=False)


def pair_rows(table: dict[str, Any]) -> Table:
    """A pair table of ``run.json`` (``metrics["comparisons"]`` or ``["versus_baseline"]``) as rows."""
    header = ["system vs baseline", "metric", "items", "system", "baseline", "difference", "95% CI", "only system", "only baseline"]
    header += ["McNemar p", "Holm p", "detectable", "significant"]
    rows = []
    for row in table.get("rows", []):
        ci, mdd = row.get("ci"), row.get("mdd")
        rows.append(
            [
                f"{row['system']} vs {row['baseline']}",
                str(row.get("metric")),
                str(row.get("n_shared")),
                pct(row.get("system_value")),
                pct(row.get("baseline_value")),
                f"{100 * row['difference']:+.1f} pts",
                "-" if not ci else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]",
                str(row.get("system_only")),
                str(row.get("baseline_only")),
                num(row.get("p_value"), 4),
                num(row.get("p_holm"), 4),
                "-" if mdd is None else f"> {100 * mdd:.1f} pts",
                "yes" if row.get("significant") else "no",
            ]
        )
    return header, rows


def comparison_table(data: ReportData) -> Table:
    """The pair table: the benchmark's ``[report]`` pairs (the paper's questions)."""
    return pair_rows(data.metrics.get("comparisons") or {})


def baseline_table(data: ReportData) -> Table:
    """Every system's accuracy against the baseline system."""
    return pair_rows(data.metrics.get("versus_baseline") or {})


NO_OTHER = "No other system was scored on an item {baseline} was scored on."  # an empty table against the baseline
PAIR_NOTE = (
    "Same items for both systems. Difference: first system minus second, in points, with Newcombe's 95% CI for paired proportions; "
    "only system / only baseline: the items on which just that one is correct (or refused); exact McNemar p on those, Holm-adjusted across "
    "the table. Detectable: the smallest difference this test finds with 80% power at these items and this disagreement rate, "
    'so a "no" is read as "smaller than that, or none", not as "no difference".'
)


def retrieval_table(data: ReportData) -> Table:
    header = ["system", "items", "depth", "hit@1", "hit@3", "hit@5", "hit@10", "MRR"]
    rows = []
    for name in data.systems:
        r = data.per_system(name).get("retrieval")
        if not r:
            continue
        overall = r.get("all", {})
        rows.append(
            [
                name,
                str(overall.get("n")),
                str(r.get("depth")),
                *(with_ci(overall.get(f"hit@{k}"), overall.get(f"hit@{k}_ci")) for k in (1, 3, 5, 10)),
                num(overall.get("mrr"), 3),
            ]
        )
    return header, rows


def csv_columns(data: ReportData) -> list[str]:
    """``system``, the counts, then every metric of the summary (accuracy, per category, the rates,
    quality, latency, tokens) with ``_ci_low``/``_ci_high`` after each proportion, then retrieval
    and the comparison against the baseline system."""
    from harness.analysis.summary import WILSON, metrics_of

    columns = ["system", "n", "n_not_applicable", "n_scored"]
    for metric in metrics_of(data.samples):
        if metric not in data.summary:
            continue
        columns.append(metric)
        if (data.summary.get(f"{metric}_interval") == WILSON).any():
            columns += [f"{metric}_ci_low", f"{metric}_ci_high"]
    return [*columns, *CSV_TAIL]


CSV_TAIL = ["retrieval_hit@5", "retrieval_mrr", "difference_vs_baseline", "p_holm_vs_baseline"]


def summary_csv(data: ReportData) -> str:
    """``summary.csv``: one row per system, the :func:`csv_columns` of :attr:`ReportData.summary`."""
    table = data.summary.reindex(index=data.systems, columns=csv_columns(data)[1:])
    return table.rename_axis("system").reset_index().to_csv(index=False, lineterminator="\n")
