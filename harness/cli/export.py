"""``python -m harness export RUN_DIR... --output FILE``: a run's answers and grades as one table.

python -m harness export runs/A --output samples.csv                     # format from the extension
python -m harness export runs/* --format parquet --output history.parquet # several runs, one table
python -m harness export runs/A --frame metrics --output metrics.jsonl    # one row per system x metric

Writes :func:`harness.analysis.samples_df` (or ``metrics_df`` / ``comparisons_df``); the columns
are documented in docs/analysis.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

FRAMES = ("samples", "metrics", "comparisons")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write run logs as one table (CSV, JSONL, Parquet)",
        description="Write the samples frame of one or more run directories (one row per run x system x item, with grades) to a file. No model is called.",
    )
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run directories written by python -m harness run")
    p.add_argument("--output", type=Path, required=True, metavar="FILE", help="file to write (replaced if it exists)")
    p.add_argument(
        "--format", choices=("csv", "jsonl", "parquet"), default=None, help="default: from the --output extension; parquet needs pyarrow (the [parquet] extra)"
    )
    p.add_argument(
        "--frame",
        choices=FRAMES,
        default="samples",
        help="samples (default): one row per answer; metrics: per system x metric with 95%% CI; comparisons: paired tests",
    )
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.analysis import comparisons_df, metrics_df, samples_df
    from harness.analysis.export import check_format, format_for, write_frame

    fmt = format_for(args.output, args.format)
    check_format(fmt)  # a missing pyarrow is reported before the runs are read
    builders: dict[str, Callable[..., Any]] = {"samples": samples_df, "metrics": metrics_df, "comparisons": comparisons_df}
    build = builders[args.frame]
    frame = build(*args.run_dirs)
    path = write_frame(frame, args.output, fmt)
    print(f"wrote {path} ({len(frame)} rows, {len(frame.columns)} columns)")
    return 0
