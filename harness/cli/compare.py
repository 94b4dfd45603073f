"""``python -m harness compare RUN_A RUN_B``: per-metric deltas (B - A) with paired tests on shared items.

python -m harness compare runs/before runs/after
python -m harness compare runs/before runs/after --json > deltas.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


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
    from harness.scoring.comparison import compare_runs, format_table

    grades_a, samples_a = graded_answers(args.run_a)
    grades_b, samples_b = graded_answers(args.run_b)
    rows = compare_runs(grades_a, samples_a, grades_b, samples_b)
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


def graded_answers(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(grade records, samples) of a run. A run folder that kept only its ``run.json`` (such as a
    committed baseline without its answers) is compared through the per-item outcomes the gate
    uses: correct and refused per system and item, so only accuracy and refusal rows get values;
    a note on stderr says so."""
    from harness.runlog import SAMPLES, load_run, read_samples
    from harness.scoring.gate import read_outcomes
    from harness.scoring.gradebook import ensure_grades

    run = load_run(run_dir)  # a clear error for a folder that is not a run
    if (Path(run_dir) / SAMPLES).exists():
        return ensure_grades(run_dir), read_samples(run_dir)
    outcomes = read_outcomes(run, f"{run_dir}/run.json")
    print(f"note: {run_dir} has no {SAMPLES}; comparing its per-item outcomes from run.json (accuracy and refusals only)", file=sys.stderr)
    grades = [
        {"system": system, "id": item, "correct": outcome[0], "refused": outcome[1], "category": outcome[2] if len(outcome) > 2 else None}
        for system, per_item in outcomes.items()
        for item, outcome in per_item.items()
    ]
    return grades, []
