"""The report's tables as plain rows of strings; :mod:`reports.markdown`, :mod:`reports.html`
and ``summary.csv`` format the same rows.

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


def summary_table(data: ReportData) -> Table:
    header = ["system", "n", "accuracy", "95% CI", "unit errors", "value errors", "quality", "refusals", "false refusals", "latency s", "tokens"]
    rows = []
    for name in data.systems:
        m = data.per_system(name)
        rows.append(
            [
                name,
                str(m.get("n", 0)),
                pct(m.get("accuracy")),
                ci_pct(m.get("accuracy_ci")),
                pct(m.get("unit_error_rate")),
                pct(m.get("numeric_value_error_rate")),
                pct(m.get("quality")),
                pct(m.get("refusal_rate")),
                pct(m.get("false_refusal_rate")),
                num(m.get("mean_latency_s"), 3),
                num(m.get("mean_completion_tokens"), 1),
            ]
        )
    return header, rows


def categories(data: ReportData) -> list[str]:
    """The run's categories in benchmark order (as the metrics list them)."""
    return list(dict.fromkeys(c for s in data.systems for c in data.per_system(s).get("accuracy_by_category", {})))


def category_table(data: ReportData) -> Table:
    header = ["system"] + [f"{c.replace('_', ' ')} (n)" for c in categories(data)]
    rows = []
    for name in data.systems:
        per = data.per_system(name).get("accuracy_by_category", {})
        cells = [name]
        for category in categories(data):
            row = per.get(category)
            cells.append("-" if not row else f"{pct(row.get('accuracy'))} {ci_pct(row.get('ci'))} ({row.get('n')})")
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
    "unit_error_rate", "numeric_value_error_rate", "quality", "refusal_rate", "false_refusal_rate",
    "mean_latency_s", "mean_completion_tokens", "mean_prompt_tokens",
    "retrieval_hit@5", "retrieval_mrr", "difference_vs_baseline", "p_holm_vs_baseline",
]  # fmt: skip


def csv_rows(data: ReportData) -> list[dict[str, Any]]:
    out = []
    for name in data.systems:
        m = data.per_system(name)
        ci = m.get("accuracy_ci") or [None, None]
        comparison = data.comparison(name) or {}
        retrieval = (m.get("retrieval") or {}).get("all", {})
        row = {
            "system": name,
            "n": m.get("n"),
            "n_scored": m.get("n_scored"),
            "accuracy": m.get("accuracy"),
            "accuracy_ci_low": ci[0],
            "accuracy_ci_high": ci[1],
            **{f"accuracy_{c}": (m.get("accuracy_by_category", {}).get(c) or {}).get("accuracy") for c in categories(data)},
            **{
                k: m.get(k)
                for k in (
                    "unit_error_rate",
                    "numeric_value_error_rate",
                    "quality",
                    "refusal_rate",
                    "false_refusal_rate",
                    "mean_latency_s",
                    "mean_completion_tokens",
                    "mean_prompt_tokens",
                )
            },
            "retrieval_hit@5": retrieval.get("hit@5"),
            "retrieval_mrr": retrieval.get("mrr"),
            "difference_vs_baseline": comparison.get("difference"),
            "p_holm_vs_baseline": comparison.get("p_holm"),
        }
        out.append({k: ("" if v is None else v) for k, v in row.items()})
    return out
