"""``python -m harness merge RUN_DIR... --output-dir DIR``: combine sharded runs into one run."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge",
        help="combine the folders of sharded runs (--shard I/N) into one run",
        description=(
            "Combine run folders written with --shard I/N into one run: samples deduplicated, item snapshots united, run.json rebuilt, metrics recomputed."
        ),
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run folders to merge (the first wins on duplicate answers)")
    p.add_argument("--output-dir", type=Path, required=True, help="new (or empty) folder for the merged run")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.cli.run import print_summary
    from harness.merge import merge_runs
    from harness.runlog import load_run

    out = merge_runs(args.run_dirs, args.output_dir)
    print_summary(out)
    run = load_run(out)
    if run.get("missing_shards"):
        print(f"  missing shards: {', '.join(run['missing_shards'])} (status {run['status']})")
    return 0
