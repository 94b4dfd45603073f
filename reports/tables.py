"""The report's tables as plain rows of strings, formatted by :mod:`reports.markdown` and
:mod:`reports.html`, and ``summary.csv``; the numbers come from :attr:`ReportData.summary` (a
``groupby`` over the run's samples frame) and, for the paired tests and retrieval, from the
run's metrics.

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


def grader_agreement(grading: dict[str, Any]) -> str:
    """The report header's line on how far the graders can be trusted: their agreement with
    labelled real answers (``data/agreement.json``, written by ``python -m harness calibrate``)."""
    a = grading.get("agreement") or {}
    if not a.get("n"):
        return "not measured (python -m harness calibrate --check)"
    refusal = f"refusal precision {num(a.get('refusal_precision'))}, recall {num(a.get('refusal_recall'))}"
    if not a.get("refusals_labelled"):
        refusal += " (no refusal labelled)"
    return (
        f"agreement with {a['n']} labelled real answers ({a.get('split', 'held_out')}): correct {pct(a.get('correct_agreement'))}, "
        f"degenerate {pct(a.get('degenerate_agreement'))}, {refusal}, {a.get('loops_or_lists_flagged', 0)} loops or lists flagged as refusals"
    )


def summary_table(data: ReportData) -> Table:
    header = [
        "system", "n", "accuracy", "95% CI", "strict acc.", "unit errors", "value errors", "quality",
        "refusals", "false refusals", "degenerate", "latency s", "tokens",
    ]  # fmt: skip
    rows = []
    for name in data.systems:
        m = data.stats(name)
        rates = [pct(m.get(k)) for k in ("unit_error_rate", "numeric_value_error_rate", "quality", "refusal_rate", "false_refusal_rate", "degenerate_rate")]
        speed = [num(m.get("mean_latency_s"), 3), num(m.get("mean_completion_tokens"), 1)]
        rows.append([name, str(m.get("n", 0)), pct(m.get("accuracy")), ci_pct(_ci(m, "accuracy")), pct(m.get("accuracy_strict")), *rates, *speed])
    return header, rows


def categories(data: ReportData) -> list[str]:
    """The run's categories in benchmark order (the samples frame's category order) that some
    system was scored on."""
    return [str(c) for c in data.samples["category"].cat.categories if f"accuracy_{c}_n" in data.summary]


def category_table(data: ReportData) -> Table:
    header = ["system"] + [f"{c.replace('_', ' ')} (n)" for c in categories(data)]
    rows = []
    for name in data.systems:
        m = data.stats(name)
        cells = [name]
        for metric in (f"accuracy_{c}" for c in categories(data)):
            cells.append("-" if not m.get(f"{metric}_n") else f"{pct(m.get(metric))} {ci_pct(_ci(m, metric))} ({m.get(f'{metric}_n')})")
        rows.append(cells)
    return header, rows


def degenerate_table(data: ReportData) -> Table:
    """Share of degenerate answers (loops, empty text, gibberish, echoes) per system and category."""
    header = ["system"] + [f"{c.replace('_', ' ')} (n)" for c in categories(data)]
    rows = []
    for name in data.systems:
        m = data.stats(name)
        cells = [name]
        for metric in (f"degenerate_rate_{c}" for c in categories(data)):
            cells.append("-" if not m.get(f"{metric}_n") else f"{pct(m.get(metric))} ({m.get(f'{metric}_n')})")
        rows.append(cells)
    return header, rows


def comparison_table(data: ReportData) -> Table:
    header = [
        "system",
        "shared items",
        f"{data.baseline} acc.",
        "system acc.",
        "difference",
        "95% CI",
        "only baseline right",
        "only system right",
        "McNemar p",
        "Holm p",
        "significant",
    ]
    rows = []
    for row in data.metrics.get("comparisons", {}).get("rows", []):
        diff = row.get("difference")
        ci = row.get("ci")
        rows.append(
            [
                row["system"],
                str(row.get("n_shared")),
                pct(row.get("baseline_accuracy")),
                pct(row.get("accuracy")),
                "-" if diff is None else f"{100 * diff:+.1f} pts",
                "-" if not ci else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]",
                str(row.get("baseline_only_correct")),
                str(row.get("system_only_correct")),
                num(row.get("p_value"), 4),
                num(row.get("p_holm"), 4),
                "yes" if row.get("significant") else "no",
            ]
        )
    return header, rows


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
                pct(overall.get("hit@1")),
                pct(overall.get("hit@3")),
                pct(overall.get("hit@5")),
                pct(overall.get("hit@10")),
                num(overall.get("mrr"), 3),
            ]
        )
    return header, rows


def csv_columns(data: ReportData) -> list[str]:
    return [*CSV_COLUMNS[:6], *(f"accuracy_{c}" for c in categories(data)), *CSV_COLUMNS[6:]]


CSV_COLUMNS = [  # the fixed columns; csv_columns() puts one accuracy_<category> column after the sixth
    "system", "n", "n_scored", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "accuracy_strict", "unit_error_rate", "numeric_value_error_rate", "quality", "refusal_rate", "false_refusal_rate", "degenerate_rate",
    "mean_latency_s", "mean_completion_tokens", "mean_prompt_tokens",
    "retrieval_hit@5", "retrieval_mrr", "difference_vs_baseline", "p_holm_vs_baseline",
]  # fmt: skip


def summary_csv(data: ReportData) -> str:
    """``summary.csv``: one row per system, the :func:`csv_columns` of :attr:`ReportData.summary`."""
    table = data.summary.reindex(index=data.systems, columns=csv_columns(data)[1:])
    return table.rename_axis("system").reset_index().to_csv(index=False, lineterminator="\n")
