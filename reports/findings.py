"""The report's opening "Findings": the paper's questions answered in sentences, written from the
run's pair table and per-system rates (never typed by hand, so they cannot drift from the numbers).

    python -m harness report RUN_DIR

One sentence per row of ``metrics["comparisons"]`` (accuracy pairs, then refusal pairs), one
naming the pairs that could not be tested, one per system that was not applicable to some items,
and one on unit errors when the run has numeric items::

    lora-kd vs lora: +0.4 pts (35.3% vs 34.9% on 102 items), 95% CI [-1.2, +2.0], McNemar p = 1.00
    (Holm 1.00); not significant: this run could only detect differences above 4.1 pts.

Edge cases: a pair whose systems agree on every item has no minimum detectable difference and
says so; a run without a pair table (one system) has no pair sentences; rates are percentages of
the items each metric applies to, with their Wilson 95% intervals.
"""

from __future__ import annotations

from typing import Any, Mapping

from reports.data import ReportData

WHAT = {"accuracy": "accuracy", "refusal_rate": "refusals"}  # how a paired metric reads in a sentence


def p_text(p: float | None) -> str:
    """A p-value as the findings print it: two decimals, three below 0.01, "< 0.001" below that."""
    if p is None:
        return "-"
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}"


def points(value: float) -> str:
    return f"{100 * value:+.1f}"


def rate(value: Any, ci: Any) -> str:
    """``12.5% [4.3, 31.0]`` (the interval in percent), ``-`` when there is no value."""
    if value is None:
        return "-"
    return f"{100 * float(value):.1f}%" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def pair_sentence(row: Mapping[str, Any], alpha: float) -> str:
    """One row of the pair table as a sentence (see the module docstring)."""
    metric = str(row["metric"])
    label = f"{row['system']} vs {row['baseline']}" + ("" if metric == "accuracy" else f", {WHAT.get(metric, metric)}")
    values = f"{100 * row['system_value']:.1f}% vs {100 * row['baseline_value']:.1f}% on {row['n_shared']} items"
    ci = row.get("ci")
    interval = f", 95% CI [{points(ci[0])}, {points(ci[1])}]" if ci else ""
    test = f"McNemar p {p_text(row.get('p_value'))} (Holm {p_text(row.get('p_holm')).removeprefix('= ')})"
    if row.get("significant"):
        verdict = f"significant at alpha = {alpha:g} after Holm's adjustment."
    elif row.get("mdd") is None:
        verdict = "not significant: the two systems agree on every item, so this run cannot size the difference it could detect."
    else:
        verdict = f"not significant: this run could only detect differences above {100 * row['mdd']:.1f} pts."
    return f"{label}: {points(row['difference'])} pts ({values}){interval}, {test}; {verdict}"


def refusal_detail(data: ReportData, row: Mapping[str, Any]) -> str:
    """The false-refusal rates on benign probes of a refusal pair's two systems, when both have probes."""
    first, second = data.per_system(str(row["system"])), data.per_system(str(row["baseline"]))
    if not first.get("probe_n") or not second.get("probe_n"):
        return ""
    a = rate(first.get("false_refusal_rate"), first.get("false_refusal_rate_ci"))
    b = rate(second.get("false_refusal_rate"), second.get("false_refusal_rate_ci"))
    return f" On the {first['probe_n']} benign refusal probes alone: {row['system']} {a}, {row['baseline']} {b}."


def unit_error_sentence(data: ReportData) -> str | None:
    """Unit and value error rates on numeric items, per system, in one sentence."""
    shown = [(name, data.per_system(name)) for name in data.systems if data.per_system(name).get("numeric_n")]
    if not shown:
        return None
    units = "; ".join(f"{name} {rate(m.get('unit_error_rate'), m.get('unit_error_rate_ci'))}" for name, m in shown)
    wrong = [float(m["numeric_value_error_rate"]) for _, m in shown if m.get("numeric_value_error_rate") is not None]
    spread = f" Wrong numbers: {100 * min(wrong):.1f}% to {100 * max(wrong):.1f}% of numeric answers." if wrong else ""
    return f"Unit errors (right number, missing or wrong unit) as a share of numeric answers: {units}.{spread}"


def not_applicable_sentence(data: ReportData, name: str) -> str | None:
    """Says that ``name`` was left out on some items, how many and why."""
    m = data.per_system(name)
    if not m.get("n_not_applicable"):
        return None
    reasons = "; ".join(f"{reason} ({count})" for reason, count in (m.get("not_applicable") or {}).items())
    scored = int(m.get("n") or 0)
    rest = f"its figures count only the other {scored}" if scored else "it has no figures in this report"
    counts = f"{m['n_not_applicable']} of {m['n_not_applicable'] + scored} items"
    return f"{name} was not applicable to {counts} ({reasons}): nothing was generated for them and {rest}."


def findings(data: ReportData) -> list[str]:
    """The sentences of the report's Findings section, in order."""
    table = data.metrics.get("comparisons") or {}
    alpha = float(table.get("alpha", 0.05))
    out = []
    for row in table.get("rows", []):
        sentence = pair_sentence(row, alpha)
        if row.get("metric") == "refusal_rate":
            sentence += refusal_detail(data, row)
        out.append(sentence)
    if table.get("skipped"):
        out.append("Not tested: " + "; ".join(table["skipped"]) + ".")
    out += [sentence for sentence in (not_applicable_sentence(data, name) for name in data.systems) if sentence]
    units = unit_error_sentence(data)
    if units:
        out.append(units)
    return out
