"""Render a run directory's reports from its log files only (never calls a model).

    python -m harness report RUN_DIR [--regrade]

Writes, inside RUN_DIR: ``report.md`` (+ ``plots/*.png`` it links to), a self-contained
``report.html``, and ``summary.csv`` (one row per system). With ``update_run_json`` the metrics
recomputed from ``grades.jsonl`` are also stored back under run.json ``"metrics"``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from harness.runlog import RUN_JSON, load_run, write_json_atomic, write_text_atomic
from reports.data import ReportData, load_report_data

log = logging.getLogger(__name__)

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
SUMMARY_CSV = "summary.csv"
PLOTS_DIR = "plots"


def write_reports(data: ReportData) -> list[Path]:
    from reports.html import render_html
    from reports.likelihood import likelihood_figures
    from reports.markdown import render_markdown
    from reports.plots import all_figures
    from reports.tables import summary_csv

    run_dir = data.run_dir
    figures = {**all_figures(data), **likelihood_figures(run_dir, data.run)}
    plots = run_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    files: dict[str, tuple[str, str]] = {}
    written = []
    for name, (title, png) in figures.items():
        path = plots / f"{name}.png"
        path.write_bytes(png)
        files[name] = (title, f"{PLOTS_DIR}/{name}.png")
        written.append(path)
    write_text_atomic(run_dir / REPORT_MD, render_markdown(data, files))
    write_text_atomic(run_dir / REPORT_HTML, render_html(data, figures))
    write_text_atomic(run_dir / SUMMARY_CSV, summary_csv(data))
    return [run_dir / REPORT_MD, run_dir / REPORT_HTML, run_dir / SUMMARY_CSV, *written]


def render_run(run_dir: Path, regrade: bool = False, baseline: str | None = None, update_run_json: bool = False, quiet: bool = True) -> list[Path]:
    """Load, (re)grade if needed, write the report files; returns their paths."""
    data = load_report_data(Path(run_dir), regrade=regrade, baseline=baseline, quiet=quiet)
    if update_run_json:
        from reports.likelihood import likelihood_metrics_of

        run = load_run(Path(run_dir))
        likelihood = likelihood_metrics_of(Path(run_dir), run)
        run["metrics"] = {**data.metrics, **({"likelihood": likelihood} if likelihood else {})}
        write_json_atomic(Path(run_dir) / RUN_JSON, run)
    return write_reports(data)
