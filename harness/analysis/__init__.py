"""Results as pandas DataFrames: the Python analysis API over run logs.

    from harness.analysis import samples_df, metrics_df, comparisons_df
    df = samples_df("reports/baseline")           # one row per system x item, with grades
    metrics_df("reports/baseline")                # one row per system x metric, with 95% CI
    comparisons_df("reports/baseline")            # the pair table: the paper's questions, item by item
    likelihood_df("runs/RUN")                     # run --mode likelihood|all: one row per system x item or document
    python -m harness export RUN_DIR... --format csv|parquet|jsonl --output FILE

Several run directories concatenate into one frame with run columns (``run_id``, ``created``,
``source_commit``, config), so a sweep or a CI history is one frame. Column names and dtypes are
stable and documented in ``docs/analysis.md``; the report's tables, ``summary.csv`` and the
metrics stored in ``run.json`` are computed from the same frames (:func:`summarize`).
"""

from __future__ import annotations

from harness.analysis.frames import RUN_COLUMNS, SAMPLE_COLUMNS, answer_key, graded_frame, samples_df
from harness.analysis.likelihood import LIKELIHOOD_COLUMNS, likelihood_df
from harness.analysis.summary import METRICS, comparisons_df, metrics_df, metrics_of, summarize, widen

__all__ = [
    "LIKELIHOOD_COLUMNS",
    "METRICS",
    "RUN_COLUMNS",
    "SAMPLE_COLUMNS",
    "answer_key",
    "comparisons_df",
    "graded_frame",
    "likelihood_df",
    "metrics_df",
    "metrics_of",
    "samples_df",
    "summarize",
    "widen",
]
