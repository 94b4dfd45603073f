"""Reports include the preference study when the run has votes, escaped like every model text."""

from __future__ import annotations

from pathlib import Path

from harness.preferences.store import Vote, VoteStore
from reports.render import render_run


def _votes(run_dir: Path) -> None:
    store = VoteStore(run_dir / "preferences.jsonl")
    for n, choice in enumerate(["a", "a", "b", "tie", "a", "a"]):
        store.append(Vote(rater="<b>ann</b>", item=f"item-{n}", system_a="rag", system_b="vanilla", choice=choice, timestamp="2026-01-01T00:00:00+00:00"))


def test_report_has_no_preference_section_without_votes(graded_run: Path) -> None:
    render_run(graded_run)
    assert "preference" not in (graded_run / "report.md").read_text().lower().split("answers side by side")[0]


def test_report_shows_preferences_when_votes_exist(graded_run: Path) -> None:
    """Six votes, rag shown as A: four for rag, one for vanilla, one tie -- the section must carry
    exactly these counts, placed before the answers, with the rater's name escaped in HTML."""
    _votes(graded_run)
    render_run(graded_run)
    markdown = (graded_run / "report.md").read_text()
    html = (graded_run / "report.html").read_text()
    head, answers = markdown.split("## Answers side by side")
    section = head[head.index("## Preferences (blind pairwise)") :]
    assert "6 preference votes on 6 items from 1 rater (<b>ann</b>); 0 skipped." in section
    assert "| 1 | rag |" in section and "| 2 | vanilla |" in section  # Bradley-Terry order
    # pair, n, x wins, y wins, ties, both wrong, win rate (4 + 1/2) / 6, decisive 4 / 5 with Wilson [38%, 96%]
    assert "| rag vs vanilla | 6 | 4 | 1 | 1 | 0 | 75% [" in section
    assert "| 80% [38%, 96%] |" in section
    assert "Preferences" not in answers
    start = html.index('<section class="preferences">')
    block = html[start : html.index("</section>", start)]
    assert "<td>rag vs vanilla</td><td>6</td><td>4</td><td>1</td><td>1</td><td>0</td>" in block
    assert "(&lt;b&gt;ann&lt;/b&gt;)" in block and "<b>ann</b>" not in html
