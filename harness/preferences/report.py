"""Markdown and HTML sections for a preference summary (see ``analysis.preference_summary``).

    python -m harness preferences RUN_DIR          # prints the Markdown section

Both renderers take the summary dict only (reports never call models); every name or label that
came from a file is escaped (``|`` in Markdown tables, everything in HTML).
"""

from __future__ import annotations

import html
from typing import Any, Callable, Sequence

Row = Sequence[str]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _ci(pair: Sequence[float] | None, percent: bool = True) -> str:
    if not pair:
        return "n/a"
    if percent:
        return f"[{100 * pair[0]:.0f}%, {100 * pair[1]:.0f}%]"
    return f"[{pair[0]:+.2f}, {pair[1]:+.2f}]"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def _kappa(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def _sections(summary: dict[str, Any]) -> list[tuple[str, list[str], list[str], list[Row]]]:
    """(heading, prose lines, table header, table rows) for each block, shared by both renderers."""
    out: list[tuple[str, list[str], list[str], list[Row]]] = []
    blocks = []
    if summary.get("human"):
        blocks.append(("Human raters", summary["human"]))
    for name, block in (summary.get("judges") or {}).items():
        blocks.append((f"Judge {name.removeprefix('judge:')}", block))
    for title, block in blocks:
        prose = [
            f"{_n(block['votes'], 'preference vote')} on {_n(block['items'], 'item')} from {_n(len(block['raters']), 'rater')}"
            f" ({', '.join(block['raters'])}); {block['skipped']} skipped" + (f", {block['invalid']} unparsable" if block.get("invalid") else "") + "."
        ]
        agreement = block.get("agreement")
        if agreement is not None:
            name = "Cohen's" if agreement["method"] == "cohen" else "Fleiss'"
            prose.append(
                f"Inter-rater agreement: {name} kappa {_kappa(agreement['kappa'])} "
                f"on {_n(agreement['shared_comparisons'], 'comparison')} rated by more than one rater "
                f"(raw agreement {_pct(agreement['observed_agreement'])})."
            )
        consistency = block.get("position_consistency")
        if consistency is not None:
            prose.append(
                f"Position consistency: {_pct(consistency['rate'])} of {_n(consistency['judged'], 'comparison')} "
                "got the same verdict with the answers swapped (inconsistent ones count as ties)."
            )
        versus = block.get("agreement_with_humans")
        if versus is not None:
            prose.append(
                f"Agreement with the human majority: {_pct(versus['observed_agreement'])} "
                f"on {_n(versus['comparisons'], 'comparison')} (Cohen's kappa {_kappa(versus['kappa'])})."
            )
        ranking: list[Row] = [[str(r["rank"]), r["system"], _num(r["score"]), _ci(r["ci"], percent=False)] for r in block["bradley_terry"]]
        out.append((f"{title}: Bradley-Terry ranking", prose, ["Rank", "System", "Score", "95% CI"], ranking))
        rows: list[Row] = []
        for p in block["pairwise"]:
            x, y = p["systems"]
            rows.append(
                [
                    f"{x} vs {y}",
                    str(p["comparisons"]),
                    str(p["wins"][x]),
                    str(p["wins"][y]),
                    str(p["ties"]),
                    str(p["both_wrong"]),
                    f"{_pct(p['win_rate'])} {_ci(p['win_rate_ci'])}",
                    f"{_pct(p['decisive_win_rate'])} {_ci(p['decisive_ci'])}",
                ]
            )
        out.append(
            (
                f"{title}: pairwise win rates",
                [],
                ["Pair (x vs y)", "n", "x wins", "y wins", "Ties", "Both wrong", "Win rate of x [95% CI]", "Decisive win rate [Wilson 95%]"],
                rows,
            )
        )
        flags = block.get("flags") or {}
        if any(f["refused"] or f["unit_error"] for f in flags.values()):
            flag_rows: list[Row] = [[s, str(f["shown"]), str(f["refused"]), str(f["unit_error"])] for s, f in flags.items()]
            out.append((f"{title}: answers marked by raters", [], ["System", "Answers shown", "Marked refused", "Marked unit error"], flag_rows))
    return out


def _method_lines(summary: dict[str, Any]) -> list[str]:
    method = summary.get("method", {})
    return [
        f"Win rate: {method.get('win_rate', '')}. Intervals: {method.get('interval', '')}; decisive: {method.get('decisive_interval', '')}.",
        f"Bradley-Terry: {method.get('bradley_terry', '')}; a score gap d means P(preferred) = 1/(1+exp(-d)).",
    ]


def render_preferences_markdown(summary: dict[str, Any], heading_level: int = 2) -> str:
    """The preference section of ``report.md``."""
    esc: Callable[[str], str] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    top = "#" * heading_level
    lines = [f"{top} Preferences (blind pairwise)", ""]
    for title, prose, header, rows in _sections(summary):
        lines += [f"{top}# {esc(title)}", ""]
        lines += [esc(p) for p in prose]
        if prose:
            lines.append("")
        if rows:
            lines.append("| " + " | ".join(esc(h) for h in header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
            lines.append("")
    lines += [f"_{esc(m)}_" for m in _method_lines(summary)]
    return "\n".join(lines).rstrip() + "\n"


def render_preferences_html(summary: dict[str, Any], heading_level: int = 2) -> str:
    """The preference section of ``report.html``: a ``<section>`` fragment, all text escaped."""
    e = html.escape
    h, h2 = f"h{heading_level}", f"h{min(heading_level + 1, 6)}"
    parts = ['<section class="preferences">', f"<{h}>Preferences (blind pairwise)</{h}>"]
    for title, prose, header, rows in _sections(summary):
        parts.append(f"<{h2}>{e(title)}</{h2}>")
        parts += [f"<p>{e(p)}</p>" for p in prose]
        if rows:
            parts.append("<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in header) + "</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</tbody></table>")
    parts += [f'<p class="method"><small>{e(m)}</small></p>' for m in _method_lines(summary)]
    parts.append("</section>")
    return "\n".join(parts) + "\n"
