"""``report.html``: one self-contained file (inline CSS, figures as base64 PNG data URIs, no
scripts, nothing fetched), with every answer side by side.

    python -m harness report RUN_DIR

All model and item text goes through :func:`html.escape`, so a response containing ``<script>``
or ``<img onerror=...>`` is displayed as text and never executed.
"""

from __future__ import annotations

import base64
from html import escape

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

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#1d1d1f;padding:0 16px;line-height:1.45}
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:.92em}.meta li{margin:2px 0}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.9em}
th,td{border:1px solid #d8d8d8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;position:sticky;top:0}
tbody tr:nth-child(even){background:#fafafa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:.9em;max-width:900px}
figure{display:inline-block;width:calc(50% - 24px);min-width:420px;margin:8px 16px 16px 0;vertical-align:top}figure img{width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#444;text-align:center}
.items td{min-width:160px;max-width:480px}.items td.q{max-width:240px}
.ans{white-space:pre-wrap;overflow-wrap:anywhere;max-height:14em;overflow:auto;font-size:.88em;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.extracted{overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:.8em;font-weight:600;margin-bottom:3px}
.correct{background:#d9f2d9;color:#1e5e1e}.wrong{background:#f8d7d7;color:#8a1f1f}.unit-error{background:#fde8c4;color:#7a4a00}
.refused{background:#e3dcf5;color:#47318a}.answered,.missing,.not-applicable{background:#e8e8e8;color:#333}
.extracted{font-size:.8em;color:#555}
"""


def _table(t: Table, numeric_from: int = 1) -> str:
    header, rows = t
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _answer_cell(data: ReportData, system: str, item_id: str) -> str:
    answer = data.answer(system, item_id)
    if answer is None:
        return '<td><span class="badge missing">missing</span></td>'
    word = verdict(answer)
    parts = [f'<span class="badge {word.split(",")[0].replace(" ", "-")}">{escape(word)}</span>']
    if answer.get("extracted"):
        parts.append(f'<div class="extracted">graded: {escape(str(answer["extracted"]))}</div>')
    if answer.get("coverage") is not None:
        parts.append(f'<div class="extracted">key points covered: {100 * float(answer["coverage"]):.0f}%</div>')
    parts.append(f'<div class="ans">{escape(answer.get("response") or "")}</div>')
    return "<td>" + "".join(parts) + "</td>"


def render_html(data: ReportData, figures: dict[str, tuple[str, bytes]]) -> str:
    run = data.run
    bench = run.get("benchmark", {})
    grading = data.metrics.get("grading", {})
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>RAQ report: {escape(data.run_dir.name)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>RAQ report: {escape(data.run_dir.name)}</h1>",
        '<ul class="meta">',
        f"<li>benchmark: {escape(str(bench.get('name')))} {escape(str(bench.get('version')))} "
        f"({escape(str(bench.get('selected_items', len(data.items))))} items, sha256 {escape(str(bench.get('sha256', ''))[:12])})</li>",
        f"<li>run: {escape(str(run.get('created')))}, status {escape(str(run.get('status')))}</li>",
        f"<li>graders: version {escape(str(grading.get('grader_version')))}; {escape(grader_agreement(grading))}</li>",
        "</ul>",
        "<h2>Findings</h2>",
        "<ul>" + "".join(f"<li>{escape(sentence)}</li>" for sentence in findings(data)) + "</ul>",
        "<h2>Summary</h2>",
        '<p class="note">n: answers scored; n/a: items the system cannot do (nothing generated), left out of all its figures. '
        "Accuracy counts items with an answer key. Every rate carries its 95% Wilson interval in brackets (quality: a 95% bootstrap interval). "
        "Strict accuracy reads numeric answers only after an explicit 'Final answer:'. Degenerate: loops, empty text, gibberish or an echo. "
        "Unit errors: numeric items with the right number but a missing or wrong unit. Value errors: numeric items with the wrong number. "
        "Quality: mean fraction of key points covered. False refusals: refusals on benign probe questions.</p>",
        _table(summary_table(data)),
        "<h2>Accuracy by category</h2>",
        _table(category_table(data)),
        "<h2>Degenerate answers by category</h2>",
        '<p class="note">Loops, empty text, gibberish or an echo of the prompt '
        "(a degenerate answer is a refusal only when it declines before it starts repeating).</p>",
        _table(degenerate_table(data)),
        "<h2>Paired comparisons</h2>",
    ]
    pairs = data.metrics.get("comparisons") or {}
    comparison = comparison_table(data)
    if comparison[1]:
        out += [f'<p class="note">{escape(PAIR_NOTE)}</p>', _table(comparison, numeric_from=2)]
    else:
        out.append('<p class="note">None of the benchmark&#x27;s report pairs could be tested in this run.</p>')
    if pairs.get("skipped"):
        out.append(f'<p class="note">Not tested: {escape("; ".join(pairs["skipped"]))}.</p>')
    out.append(f"<h2>Every system against {escape(data.baseline)}</h2>")
    versus = baseline_table(data)
    if versus[1]:
        out += ['<p class="note">Accuracy only; Holm-adjusted across these rows.</p>', _table(versus, numeric_from=2)]
    else:
        out.append(f'<p class="note">{escape(data.metrics.get("versus_baseline", {}).get("note") or NO_OTHER.format(baseline=data.baseline))}</p>')
    retrieval = retrieval_table(data)
    if retrieval[1]:
        out += [
            "<h2>Retrieval</h2>",
            '<p class="note">Hit@k: a gold passage among the top k retrieved chunks; MRR: mean reciprocal rank of the first hit.</p>',
            _table(retrieval),
        ]
    out.append("<h2>Figures</h2><div>")
    for name, (title, png) in figures.items():
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        out.append(f'<figure id="fig-{escape(name)}"><img src="{uri}" alt="{escape(title)}"><figcaption>{escape(title)}</figcaption></figure>')
    out.append("</div>")
    if data.preferences is not None:
        from harness.preferences.report import render_preferences_html

        out.append(render_preferences_html(data.preferences, heading_level=2))
    from reports.likelihood import render_likelihood_html

    likelihood = render_likelihood_html(data.run_dir, data.run)
    if likelihood:
        out.append(likelihood)
    out += [
        "<h2>Answers side by side</h2>",
        '<table class="items"><thead><tr><th>item</th><th>question</th><th>expected</th>'
        + "".join(f"<th>{escape(s)}</th>" for s in data.systems)
        + "</tr></thead><tbody>",
    ]
    for item_id, item in data.items.items():
        cells = [
            f"<td>{escape(item_id)}<br><small>{escape(item.category)}</small></td>",
            f'<td class="q">{escape(item.question)}</td>',
            f'<td class="q">{escape(answer_key(item))}</td>',
        ]
        cells += [_answer_cell(data, system, item_id) for system in data.systems]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody></table>", "</body></html>"]
    return "\n".join(out) + "\n"
