"""``python -m harness compare RUN_A RUN_B``: per-metric deltas (B - A) with paired tests on shared items.

python -m harness compare runs/before runs/after
python -m harness compare runs/before runs/after --json > deltas.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two runs metric by metric",
        description="Per-metric deltas (B - A) for every system in both runs, on the items both answered, "
        "with paired tests (exact McNemar / Wilcoxon) and Holm-adjusted p-values.",
    )
    p.add_argument("run_a", type=Path, help="run directory A (the reference)")
    p.add_argument("run_b", type=Path, help="run directory B")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.api.errors import DataError
    from harness.runlog import load_run, read_samples
    from harness.scoring.comparison import compare_runs, format_table
    from harness.scoring.gradebook import ensure_grades

    for run_dir in (args.run_a, args.run_b):
        load_run(run_dir)  # a clear error for a folder that is not a run
    grades_a, grades_b = ensure_grades(args.run_a), ensure_grades(args.run_b)
    rows = compare_runs(grades_a, read_samples(args.run_a), grades_b, read_samples(args.run_b))
    if not rows:
        raise DataError(f"{args.run_a} and {args.run_b} share no system with graded answers; compare runs of the same systems")
    if not any(row.n for row in rows):
        raise DataError(
            f"{args.run_a} and {args.run_b} share no graded item (same system, same item id); "
            "compare runs over the same items (same benchmark, --sample/--shard/--limit)"
        )
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        print(format_table(rows, str(args.run_a), str(args.run_b)))
    return 0
