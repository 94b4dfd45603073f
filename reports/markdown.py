"""``report.md``: the run's tables, links to the PNG figures, and a per-item side-by-side table.

    python -m harness report RUN_DIR

Model and item text is escaped (:func:`escape`): HTML special characters become entities, so a
response containing ``<script>`` shows as text on every Markdown renderer, and Markdown syntax
characters (``| * _ [ ] ` # \\``) are backslash-escaped so they cannot break the tables.
"""

from __future__ import annotations

import html
import re

from harness.analysis import answer_key
from reports.data import ReportData, verdict
from reports.findings import findings
from reports.tables import (
    NO_OTHER,
    PAIR_NOTE,
    Table,
    baseline_table,
    category_table,
    comparison_table,
    degenerate_table,
    grader_agreement,
    retrieval_table,
    summary_table,
)

ANSWER_CHARS = 240  # characters of each answer shown in the per-item table (report.html has all)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~>!{}])")


def escape(text: object, limit: int | None = None) -> str:
    """Make arbitrary text safe inside a Markdown table cell."""
    s = str(text)
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    s = html.escape(s, quote=False)
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return re.sub(r"\s*\n\s*", " ⏎ ", s).strip()


def table(t: Table) -> str:
    header, rows = t
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(data: ReportData, figure_files: dict[str, tuple[str, str]]) -> str:
    """``figure_files``: name -> (title, path relative to the run dir)."""
    run = data.run
    bench = run.get("benchmark", {})
    grading = data.metrics.get("grading", {})
    out = [
        f"# RAQ report: {escape(data.run_dir.name)}",
        "",
        f"- benchmark: {escape(bench.get('name'))} {escape(bench.get('version'))} "
        f"({bench.get('selected_items', len(data.items))} items, sha256 {escape(str(bench.get('sha256', ''))[:12])})",
        f"- run: {escape(run.get('created'))}, status {escape(run.get('status'))}, systems: {escape(', '.join(data.systems))}",
        f"- graders: version {escape(grading.get('grader_version'))}; {escape(grader_agreement(grading))}",
        "",
        "## Findings",
        "",
        *[f"- {escape(sentence)}" for sentence in findings(data)],
        "",
        "## Summary",
        "",
        "n: answers scored; n/a: items the system cannot do (nothing generated), left out of all its figures. "
        "Accuracy counts items with an answer key. Every rate carries its 95% Wilson interval in brackets (quality: a 95% bootstrap interval). "
        "Strict accuracy reads numeric answers only after an explicit 'Final answer:'. Degenerate: loops, empty text, gibberish or an echo. "
        "Unit errors: numeric items with the right number but a missing or wrong unit. "
        "Value errors: numeric items with the wrong number. Quality: mean fraction of key points covered. False refusals: refusals on benign probe questions.",
        "",
        table(summary_table(data)),
        "",
        "## Accuracy by category",
        "",
        table(category_table(data)),
        "",
        "## Degenerate answers by category",
        "",
        "Loops, empty text, gibberish or an echo of the prompt (a degenerate answer is a refusal only when it declines before it starts repeating).",
        "",
        table(degenerate_table(data)),
        "",
        "## Paired comparisons",
        "",
    ]
    pairs = data.metrics.get("comparisons") or {}
    comparison = comparison_table(data)
    out += [escape(PAIR_NOTE), "", table(comparison), ""] if comparison[1] else ["None of the benchmark's report pairs could be tested in this run.", ""]
    if pairs.get("skipped"):
        out += ["Not tested: " + escape("; ".join(pairs["skipped"])) + ".", ""]
    out += [f"## Every system against {escape(data.baseline)}", ""]
    versus = baseline_table(data)
    if versus[1]:
        out += ["Accuracy only; Holm-adjusted across these rows.", "", table(versus), ""]
    else:
        out += [escape(data.metrics.get("versus_baseline", {}).get("note") or NO_OTHER.format(baseline=data.baseline)), ""]
    retrieval = retrieval_table(data)
    if retrieval[1]:
        out += [
            "## Retrieval",
            "",
            "Hit@k: a gold passage among the top k retrieved chunks; MRR: mean reciprocal rank of the first hit.",
            "",
            table(retrieval),
            "",
        ]
    out += ["## Figures", ""]
    for title, path in figure_files.values():
        out += [f"![{escape(title)}]({path})", ""]
    if data.preferences is not None:
        from harness.preferences.report import render_preferences_markdown

        out += [render_preferences_markdown(data.preferences, heading_level=2), ""]
    from reports.likelihood import render_likelihood_markdown

    likelihood = render_likelihood_markdown(data.run_dir, data.run)
    if likelihood:
        out += [likelihood, ""]
    out += ["## Answers side by side", "", f"First {ANSWER_CHARS} characters of each answer; report.html shows them in full.", ""]
    header = ["item", "category", "expected"] + data.systems
    rows = []
    for item_id, item in data.items.items():
        cells = [item_id, item.category, escape(answer_key(item), 120)]
        for system in data.systems:
            answer = data.answer(system, item_id)
            if answer is None:
                cells.append("-")
                continue
            cells.append(f"**{escape(verdict(answer))}**: {escape(answer.get('response') or '', ANSWER_CHARS)}")
        rows.append(cells)
    out.append("| " + " | ".join(escape(h) for h in header) + " |")
    out.append("|" + "---|" * len(header))
    out += ["| " + " | ".join(c if i >= 3 or i == 2 else escape(c) for i, c in enumerate(row)) + " |" for row in rows]
    return "\n".join(out) + "\n"
