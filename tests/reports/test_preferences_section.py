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
    _votes(graded_run)
    render_run(graded_run)
    markdown = (graded_run / "report.md").read_text()
    html = (graded_run / "report.html").read_text()
    head = markdown.split("## Answers side by side")[0]
    assert "rag" in head and "vanilla" in head and "reference" in head
    assert 'class="preferences"' in html
    assert "<b>ann</b>" not in html
