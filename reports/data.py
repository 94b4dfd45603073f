"""Everything a report shows, gathered from a run directory's log files (never from models).

    python -m harness report RUN_DIR

:func:`load_report_data` reads the run as one frame (:func:`harness.analysis.samples_df`:
``run.json``, ``samples.jsonl``, ``benchmark.jsonl`` and ``grades.jsonl``, regraded when it is
missing or stale) and computes every number from it by ``groupby``
(:func:`harness.analysis.summarize`), so a report always agrees with the grades it shows and
with the metrics stored in ``run.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from harness.api.items import Item

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ReportData:
    run_dir: Path
    run: dict[str, Any]  # run.json
    items: dict[str, Item]  # id -> item, in benchmark order
    samples: pd.DataFrame  # harness.analysis.samples_df of the run: one row per answer, with its grade
    systems: list[str]  # in run order
    summary: pd.DataFrame  # one row per system (index): harness.analysis.widen(summarize(samples)) + the summary.csv extras
    metrics: dict[str, Any]  # run.json "metrics" (harness.scoring.metrics.metrics_from_frame)
    preferences: dict[str, Any] | None = None  # harness.preferences.analysis.preference_summary()

    @property
    def baseline(self) -> str:
        return str(self.metrics.get("versus_baseline", {}).get("baseline") or self.run.get("config", {}).get("baseline_system") or "vanilla")

    def stats(self, system: str) -> dict[str, Any]:
        """The system's row of :attr:`summary`, missing values as None."""
        import pandas as pd

        if system not in self.summary.index:
            return {}
        return {k: None if pd.isna(v) else v for k, v in self.summary.loc[system].items()}

    def per_system(self, name: str) -> dict[str, Any]:
        return self.metrics.get("per_system", {}).get(name, {})

    def comparison(self, name: str) -> dict[str, Any] | None:
        """``name``'s accuracy row against the baseline system (None for the baseline itself)."""
        for row in self.metrics.get("versus_baseline", {}).get("rows", []):
            if row.get("system") == name:
                return row
        return None

    @cached_property
    def _answers(self) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self.samples.astype(object).where(self.samples.notna(), None).to_dict("records")
        return {(str(r["system"]), str(r["id"])): r for r in rows}

    def answer(self, system: str, item_id: str) -> dict[str, Any] | None:
        """The sample row of ``system`` on ``item_id`` (response and grade fields, NA as None)."""
        return self._answers.get((system, item_id))


def load_report_data(run_dir: Path, regrade: bool = False, baseline: str | None = None, quiet: bool = True) -> ReportData:
    from harness.analysis import samples_df, summarize, widen
    from harness.preferences.analysis import preference_summary
    from harness.runlog import load_run
    from harness.scoring.gradebook import load_items
    from harness.scoring.metrics import metrics_from_frame
    from harness.scoring.pairs import report_config_of

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    items = load_items(run_dir)
    samples = samples_df(run_dir, regrade=regrade)
    declared = list((run.get("systems") or {}).keys())
    seen = list(dict.fromkeys(samples["system"].astype(str)))
    systems = [s for s in declared if s in seen] + [s for s in seen if s not in declared]
    chosen = baseline or (run.get("config") or {}).get("baseline_system") or "vanilla"
    summary = widen(summarize(samples, by=["system"]))
    metrics = metrics_from_frame(samples, systems, chosen, summary=summary, report=report_config_of(run))
    return ReportData(
        run_dir=run_dir,
        run=run,
        items=items,
        samples=samples,
        systems=systems,
        summary=_with_extras(summary, samples, metrics, systems),
        metrics=metrics,
        preferences=preference_summary(run_dir),
    )


def _with_extras(summary: pd.DataFrame, samples: pd.DataFrame, metrics: Mapping[str, Any], systems: list[str]) -> pd.DataFrame:
    """Add what ``summary.csv`` shows beside the groupby metrics: answer counts (``n`` scored,
    ``n_not_applicable`` left out), retrieval hit@5 and MRR, and the paired comparison against the
    baseline system. Every system of the run gets a row, one with no scored answer too."""
    summary = summary.set_axis(summary.index.astype(str)).reindex([*systems, *(s for s in summary.index.astype(str) if s not in systems)])
    per_system = metrics.get("per_system", {})
    comparisons = {row["system"]: row for row in metrics.get("versus_baseline", {}).get("rows", [])}
    retrieval = {name: (m.get("retrieval") or {}).get("all", {}) for name, m in per_system.items()}
    names = [str(s) for s in summary.index]
    scored = samples["grader"].notna() & samples["applicable"]
    by_system = samples.assign(system=samples["system"].astype(str), scored=scored, not_applicable=~samples["applicable"]).groupby("system")
    return summary.assign(
        n=by_system["scored"].sum().reindex(summary.index).fillna(0).astype(int),
        n_not_applicable=by_system["not_applicable"].sum().reindex(summary.index).fillna(0).astype(int),
        n_scored=summary.get("accuracy_n"),
        **{f"retrieval_{k}": [retrieval.get(s, {}).get(k) for s in names] for k in ("hit@5", "mrr")},
        difference_vs_baseline=[comparisons.get(s, {}).get("difference") for s in names],
        p_holm_vs_baseline=[comparisons.get(s, {}).get("p_holm") for s in names],
    )


def verdict(answer: Mapping[str, Any] | None) -> str:
    """One word for a graded answer (a :meth:`ReportData.answer` row): correct, wrong, unit
    error, refused, answered (no key), not applicable (the system cannot do the item), missing
    (no answer or no grade); a degenerate answer adds its kind ("wrong, loop")."""
    if answer is not None and answer.get("applicable") is False:
        return "not applicable"
    if answer is None or answer.get("grader") is None:
        return "missing"
    word = _verdict(answer)
    return f"{word}, {answer['degenerate_kind']}" if answer.get("degenerate") and answer.get("degenerate_kind") else word


def _verdict(answer: Mapping[str, Any]) -> str:
    if answer.get("refused"):
        return "refused"
    if answer.get("unit_error"):
        return "unit error"
    if answer.get("correct") is None:
        return "answered"
    return "correct" if answer.get("correct") else "wrong"
