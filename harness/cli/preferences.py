"""``python -m harness preferences RUN_DIR``: win rates, Bradley-Terry ranking and agreement from
the run's human and judge votes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preferences",
        help="summarise pairwise preference votes",
        description="Print win rates with 95% CIs, a Bradley-Terry ranking and rater agreement from RUN_DIR/preferences.jsonl and judge_preferences.jsonl.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder with preference votes")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of Markdown")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for the intervals (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.api.errors import ConfigError, DataError
    from harness.preferences.analysis import preference_summary, render_preferences_markdown

    if args.resamples < 100:
        raise ConfigError(f"--resamples must be >= 100 for a usable 95% interval, got {args.resamples}")
    if not args.run_dir.is_dir():
        raise DataError(f"{args.run_dir}: not a directory; pass a run folder written by python -m harness run")
    summary = preference_summary(args.run_dir, resamples=args.resamples, seed=args.seed)
    if summary is None:
        raise DataError(
            f"{args.run_dir}: no votes yet (no preferences.jsonl or judge_preferences.jsonl); "
            f"collect some with `python -m harness rate {args.run_dir}` or `python -m harness judge {args.run_dir} --judge NAME`"
        )
    print(json.dumps(summary, indent=2) if args.json else render_preferences_markdown(summary), end="" if not args.json else "\n")
    return 0
