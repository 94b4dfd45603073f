"""``python -m harness report RUN_DIR``: re-render report.md, report.html and summary.csv from a run log.

python -m harness report runs/20250101T000000Z-abcd1234
python -m harness report RUN_DIR --regrade     # regrade every answer first (after a grader change)
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="re-render a run's reports from its log",
        description="Render report.md, report.html and summary.csv from a run directory's log files (no model is called).",
    )
    p.add_argument("run_dir", type=Path, help="a run directory written by python -m harness run")
    p.add_argument("--regrade", action="store_true", help="regrade every answer and store the recomputed metrics in run.json")
    p.add_argument(
        "--baseline-system", default=None, help="the system every other is compared with below the pair table (default: the run's --baseline-system)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from reports.render import render_run

    paths = render_run(args.run_dir, regrade=args.regrade, baseline=args.baseline_system, update_run_json=args.regrade, quiet=args.quiet)
    for path in paths[:3]:
        print(f"wrote {path}")
    return 0
