"""Everything a report shows, gathered from a run directory's log files (never from models).

    python -m harness report RUN_DIR

:func:`load_report_data` reads ``run.json``, ``samples.jsonl``, ``benchmark.jsonl`` and
``grades.jsonl`` (regrading when it is missing or stale) and recomputes the metrics from the
grades, so a report always agrees with the grades it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.api.items import Item


@dataclass(frozen=True)
class ReportData:
    run_dir: Path
    run: dict[str, Any]  # run.json
    items: dict[str, Item]  # id -> item, in benchmark order
    samples: dict[tuple[str, str], dict[str, Any]]  # (system, id) -> sample
    grades: dict[tuple[str, str], dict[str, Any]]  # (system, id) -> grade record
    systems: list[str]  # in run order
    metrics: dict[str, Any]  # compute_metrics() output
    preferences: dict[str, Any] | None = None  # harness.preferences.analysis.preference_summary()

    @property
    def baseline(self) -> str:
        return str(self.metrics.get("comparisons", {}).get("baseline") or self.run.get("config", {}).get("baseline_system") or "vanilla")

    def per_system(self, name: str) -> dict[str, Any]:
        return self.metrics.get("per_system", {}).get(name, {})

    def comparison(self, name: str) -> dict[str, Any] | None:
        for row in self.metrics.get("comparisons", {}).get("rows", []):
            if row.get("system") == name:
                return row
        return None


def load_report_data(run_dir: Path, regrade: bool = False, baseline: str | None = None, quiet: bool = True) -> ReportData:
    from harness.runlog import load_run, read_samples
    from harness.scoring.gradebook import ensure_grades, load_items
    from harness.preferences.analysis import preference_summary
    from harness.scoring.metrics import compute_metrics

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    items = load_items(run_dir)
    grades = ensure_grades(run_dir, items, regrade=regrade, quiet=quiet)
    samples = read_samples(run_dir)
    declared = list((run.get("systems") or {}).keys())
    seen = list(dict.fromkeys(str(s.get("system")) for s in samples))
    systems = [s for s in declared if s in seen] + [s for s in seen if s not in declared]
    chosen = baseline or (run.get("config") or {}).get("baseline_system") or "vanilla"
    metrics = compute_metrics(grades, samples, items, systems, chosen)
    return ReportData(
        run_dir=run_dir,
        run=run,
        items=items,
        samples={(str(s.get("system")), str(s.get("id"))): s for s in samples},
        grades={(str(g.get("system")), str(g.get("id"))): g for g in grades},
        systems=systems,
        metrics=metrics,
        preferences=preference_summary(run_dir),
    )


def expected_text(item: Item) -> str:
    """The answer key as a short human-readable string."""
    answer = item.answer
    if answer.type == "numeric":
        unit = "" if (answer.unit or "").lower() == "dimensionless" else f" {answer.unit}"
        return f"{answer.value:g}{unit}"
    if answer.type == "text":
        return " / ".join(answer.accept)
    if answer.type == "keypoints":
        return "; ".join(answer.points)
    return "(no key: answering is correct, refusing is a false refusal)"


def verdict(grade: Mapping[str, Any] | None) -> str:
    """One word for a grade: correct, wrong, unit error, refused, ungraded."""
    if grade is None:
        return "missing"
    if grade.get("refused"):
        return "refused"
    if grade.get("kind") == "numeric" and grade.get("value_correct") and grade.get("unit_correct") is False:
        return "unit error"
    if grade.get("correct") is None:
        return "answered"
    return "correct" if grade.get("correct") else "wrong"
