"""Likelihood rows as pandas frames: :func:`likelihood_df` (every row of ``likelihood.jsonl``)
and the per-item columns :func:`samples_df <harness.analysis.samples_df>` gains from it.

    from harness.analysis import likelihood_df
    df = likelihood_df("runs/my-run")                       # one row per run x system x item or document
    df[df.kind == "item"].groupby("system", observed=True)["reference_bpb"].mean()

Columns are :data:`LIKELIHOOD_COLUMNS` (documented in ``docs/analysis.md``). Edge cases: a run
without ``likelihood.jsonl`` contributes no rows; document rows have NA in the item columns and
item rows NA in the document columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import pandas as pd

#: Columns of :func:`likelihood_df`, in order, with their dtypes.
LIKELIHOOD_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "run_dir": "string",
    "system": "category",
    "kind": "string",  # item | corpus | heldout
    "id": "string",  # item id, or the document's path in its folder
    "category": "string",  # items: the benchmark category
    "answer_type": "string",  # items: numeric | text | keypoints
    "reference_text": "string",  # items: the reference answer as scored
    "reference_logprob": "Float64",  # natural-log probability of the reference answer given the system's prompt
    "reference_tokens": "Int64",
    "reference_bpb": "Float64",  # bits per byte of the reference answer (lower is better)
    "mc_correct": "boolean",  # top choice by summed log-prob is the key (lm-eval acc)
    "mc_correct_norm": "boolean",  # top choice by log-prob per byte is the key (acc_norm)
    "mc_pick_error": "string",  # error type of the top choice when it is a distractor
    "mc_choices": "Int64",  # number of choices
    "context_tokens": "Int64",  # items: tokens of the prompt the answers were scored after
    "doc_logprob": "Float64",  # documents: natural-log probability of the whole text
    "doc_tokens": "Int64",
    "doc_bytes": "Int64",
    "doc_bpb": "Float64",  # documents: bits per byte
    "cached": "boolean",  # every score came from the likelihood cache
}
#: The per-item columns ``samples_df`` gains when a run has ``likelihood.jsonl``.
SAMPLE_LIKELIHOOD_COLUMNS = ("reference_bpb", "reference_logprob", "mc_correct", "mc_correct_norm", "mc_pick_error")


def _record(row: Mapping[str, Any], run_id: str, run_dir: str) -> dict[str, Any]:
    reference = row.get("reference") or {}
    mc = row.get("mc") or {}
    item = row.get("kind") == "item"
    return {
        "run_id": run_id,
        "run_dir": run_dir,
        "system": str(row.get("system")),
        "kind": row.get("kind"),
        "id": str(row.get("id")),
        "category": row.get("category"),
        "answer_type": row.get("answer_type"),
        "reference_text": reference.get("text"),
        "reference_logprob": reference.get("logprob"),
        "reference_tokens": reference.get("tokens"),
        "reference_bpb": reference.get("bits_per_byte"),
        "mc_correct": mc.get("acc"),
        "mc_correct_norm": mc.get("acc_norm"),
        "mc_pick_error": mc.get("pick_error"),
        "mc_choices": mc.get("n_choices"),
        "context_tokens": row.get("context_tokens") if item else None,
        "doc_logprob": None if item else row.get("logprob"),
        "doc_tokens": None if item else row.get("tokens"),
        "doc_bytes": None if item else row.get("bytes"),
        "doc_bpb": None if item else row.get("bits_per_byte"),
        "cached": bool(row.get("cached")),
    }


def likelihood_df(*run_dirs: str | Path) -> pd.DataFrame:
    """One row per run x system x item or document of the runs' ``likelihood.jsonl`` files."""
    import pandas as pd

    from harness.analysis.frames import _run_ids
    from harness.likelihood_runner import read_likelihood
    from harness.runlog import load_run

    dirs = [Path(d) for d in run_dirs]
    records, systems = [], []
    for run_dir, run_id in zip(dirs, _run_ids(dirs)):
        systems += list((load_run(run_dir).get("systems") or {}).keys())
        records += [_record(r, run_id, str(run_dir)) for r in read_likelihood(run_dir)]
    frame = pd.DataFrame(records, columns=list(LIKELIHOOD_COLUMNS))
    dtypes = dict(LIKELIHOOD_COLUMNS)
    dtypes["system"] = pd.CategoricalDtype(list(dict.fromkeys([*systems, *frame["system"].dropna()])))
    return frame.astype(dtypes).reset_index(drop=True)


def with_likelihood(frame: pd.DataFrame, run_dirs: list[Path]) -> pd.DataFrame:
    """``frame`` (a samples frame) with :data:`SAMPLE_LIKELIHOOD_COLUMNS` joined on run, system
    and item when any of ``run_dirs`` has likelihood rows; unchanged otherwise."""
    from harness.runlog import LIKELIHOOD_SAMPLES

    if not any((Path(d) / LIKELIHOOD_SAMPLES).exists() for d in run_dirs):
        return frame
    scores = likelihood_df(*run_dirs)
    scores = scores[scores["kind"] == "item"][["run_id", "system", "id", *SAMPLE_LIKELIHOOD_COLUMNS]]
    scores = scores.astype({"system": "string"})
    keys = frame[["run_id", "system", "id"]].astype({"system": "string"})
    joined = keys.merge(scores, on=["run_id", "system", "id"], how="left")
    out = frame.copy()
    for column in SAMPLE_LIKELIHOOD_COLUMNS:
        out[column] = joined[column].astype(LIKELIHOOD_COLUMNS[column]).set_axis(out.index)
    return out
