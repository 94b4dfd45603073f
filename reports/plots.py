"""The report's four figures, drawn with matplotlib (Agg backend) from :attr:`ReportData.summary`.

    python -m harness report RUN_DIR     # writes RUN_DIR/plots/*.png and inlines them in report.html

* ``accuracy_by_category``: grouped bars per category and system with 95% Wilson CI whiskers.
* ``unit_vs_value_errors``: per system, the share of numeric items with the wrong number and with
  the right number but a missing/wrong unit.
* ``false_refusals``: false-refusal rate on refusal probes with 95% Wilson CIs.
* ``accuracy_vs_latency``: mean latency per answer (log x) against accuracy with CI whiskers.

Each function returns PNG bytes; :func:`all_figures` returns ``{name: (title, png)}``.
"""

from __future__ import annotations

import io
from typing import Any

from reports.data import ReportData
from reports.tables import categories as run_categories

DPI = 110  # pixels per inch of the PNGs; 110 keeps text sharp at ~700 px wide
WIDTH_IN = 7.0  # figure width, inches


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    _pyplot().close(fig)
    return buffer.getvalue()


def _yerr(m: dict[str, Any], metric: str) -> tuple[float, float]:
    """Whisker lengths below and above ``metric`` from its 95% CI in a :meth:`ReportData.stats` row."""
    value, low, high = m.get(metric), m.get(f"{metric}_ci_low"), m.get(f"{metric}_ci_high")
    if value is None or low is None or high is None:
        return 0.0, 0.0
    return max(0.0, value - low), max(0.0, high - value)


def accuracy_by_category(data: ReportData) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.6))
    categories = run_categories(data)
    width = 0.8 / max(len(data.systems), 1)
    for k, system in enumerate(data.systems):
        m = data.stats(system)
        shown = [(i, f"accuracy_{c}") for i, c in enumerate(categories) if m.get(f"accuracy_{c}") is not None]
        xs = [i + (k - (len(data.systems) - 1) / 2) * width for i, _ in shown]
        errors = [_yerr(m, metric) for _, metric in shown]
        ax.bar(xs, [m[metric] for _, metric in shown], width=width * 0.95, yerr=[[e[0] for e in errors], [e[1] for e in errors]], capsize=3, label=system)
    ax.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories])
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("accuracy (95% CI)")
    ax.legend(fontsize=8, ncols=min(4, max(len(data.systems), 1)), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def unit_vs_value_errors(data: ReportData) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.2))
    xs = range(len(data.systems))
    value = [data.stats(s).get("numeric_value_error_rate") or 0.0 for s in data.systems]
    unit = [data.stats(s).get("unit_error_rate") or 0.0 for s in data.systems]
    ax.bar([x - 0.2 for x in xs], value, width=0.4, label="wrong number", color="#c0504d")
    ax.bar([x + 0.2 for x in xs], unit, width=0.4, label="right number, wrong/missing unit", color="#f0a030")
    ax.set_xticks(list(xs), data.systems, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of numeric items")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def false_refusals(data: ReportData) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.0))
    rows = [data.stats(system) for system in data.systems]
    errors = [_yerr(m, "false_refusal_rate") for m in rows]
    rates = [m.get("false_refusal_rate") or 0.0 for m in rows]
    ax.bar(range(len(data.systems)), rates, yerr=[[e[0] for e in errors], [e[1] for e in errors]], capsize=4, color="#4f81bd")
    ax.set_xticks(range(len(data.systems)), data.systems, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("false-refusal rate (95% CI)")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def accuracy_vs_latency(data: ReportData) -> bytes:
    from matplotlib.ticker import FuncFormatter

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.6))
    top = 0.0
    for system in data.systems:
        m = data.stats(system)
        if m.get("accuracy") is None or not m.get("mean_latency_s"):
            continue
        down, up = _yerr(m, "accuracy")
        top = max(top, m["accuracy"] + up)
        ax.errorbar([m["mean_latency_s"]], [m["accuracy"]], yerr=[[down], [up]], fmt="o", capsize=4, label=system)
        ax.annotate(system, (m["mean_latency_s"], m["accuracy"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # 0.6, 2, 3 rather than 6x10^-1, 2x10^0
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.margins(x=0.25)
    ax.set_xlabel("mean latency per answer (s, log scale)")
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_ylim(-0.02, min(1.08, max(0.2, top * 1.25)))  # zoom to the data: low accuracies stay readable
    ax.grid(alpha=0.3)
    return _png(fig)


FIGURES = {
    "accuracy_by_category": ("Accuracy by category", accuracy_by_category),
    "unit_vs_value_errors": ("Numeric items: unit vs value errors", unit_vs_value_errors),
    "false_refusals": ("False-refusal rate on refusal probes", false_refusals),
    "accuracy_vs_latency": ("Accuracy vs latency", accuracy_vs_latency),
}


def all_figures(data: ReportData) -> dict[str, tuple[str, bytes]]:
    return {name: (title, draw(data)) for name, (title, draw) in FIGURES.items()}
