"""Run logs as one pandas frame: :func:`samples_df`, one row per run x system x item.

    from harness.analysis import samples_df
    df = samples_df("reports/baseline")                  # one run
    df = samples_df(*sorted(Path("runs").iterdir()))     # a sweep or a CI history, one frame

Each row joins a line of ``samples.jsonl`` with its item (``benchmark.jsonl``), its grade
(``grades.jsonl``, regraded and rewritten when missing or stale, exactly as ``python -m harness
report`` does) and its run (``run.json``). Rows keep the order of ``samples.jsonl``, runs the
order they were passed in; the bootstrap intervals of :mod:`harness.analysis.summary` depend on
that order, which is how they reproduce the ones stored in ``run.json``.

The columns and their dtypes are :data:`SAMPLE_COLUMNS` (documented in ``docs/analysis.md``);
grade fields this version does not know (a newer grader's) follow them with inferred dtypes.
Edge cases: a sample whose item is not in the snapshot keeps its own ``category``/``question``
and has no grade (NA); numbers of the wrong type (a string latency) become NA.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from harness.api.errors import DataError
from harness.api.items import ANSWER_TYPES, Item
from harness.api.system import NOT_APPLICABLE
from harness.scoring.score import is_unit_error

if TYPE_CHECKING:
    import pandas as pd

#: Run-level columns, repeated on every row of a run (NA where the run did not record them).
RUN_COLUMNS: dict[str, str] = {
    "run_id": "string",  # the run folder's name (its path where two folders share a name)
    "run_dir": "string",  # the path as passed
    "created": "datetime64[ns, UTC]",  # when the run started
    "source_commit": "string",  # git commit the run started from (run.json "source")
    "source_dirty": "boolean",  # the checkout had uncommitted changes
    "benchmark": "string",  # benchmark name, e.g. raq
    "benchmark_version": "string",
    "benchmark_sha256": "string",  # of the items file
    "max_new_tokens": "Int64",  # run config: completion budget, tokens
    "seed": "Int64",
    "limit": "Int64",  # --limit N, NA = all items
    "shard": "string",  # --shard I/N
    "baseline_system": "string",  # the system paired comparisons are against
}
#: Per-row columns: system, item, answer, grade. ``system`` and ``category`` are categoricals
#: (systems in run order; categories in benchmark order, those of items missing from the snapshot last).
ROW_COLUMNS: dict[str, str] = {
    "system": "category",
    "system_options": "string",  # JSON of the run's options for this system ({} = defaults)
    "id": "string",
    "category": "category",
    "tags": "object",  # list of str
    "question": "string",
    "answer_type": "category",  # numeric | text | keypoints | none
    "answer_key": "string",  # the key as text: "19.2 GB/s", "bank group / BG", key points joined by "; "
    "answer_value": "Float64",  # numeric items: expected value, in answer_unit
    "answer_unit": "string",
    "gold_passages": "object",  # list of corpus anchors
    "prompt": "object",  # str, or a list of {role, content} chat messages
    "response": "string",
    "latency_s": "Float64",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "finish_reason": "string",
    "applicable": "boolean",  # False: the system cannot do this item (finish_reason not_applicable), so it is left out of its scores
    "cached": "boolean",  # served from the generation cache
    "retrieved": "object",  # list of chunk ids in rank order (rag: all recorded; rag-oracle: those shown); NA without retrieval
    "passages_shown": "Int64",  # how many of them were in the prompt (extra["k"])
    "extra": "object",  # the sample's raw extra dict (index hash, scores, future measures)
    "grader": "string",  # grader id of the grade; NA = not graded (item unknown)
    "correct": "boolean",  # NA for items without an answer key
    "refused": "boolean",
    "value_correct": "boolean",  # numeric items only
    "unit_correct": "boolean",  # numeric items only
    "unit_error": "boolean",  # numeric items: right number, missing or wrong unit
    "value_error": "boolean",  # numeric items: wrong number
    "coverage": "Float64",  # key-point items: fraction of points covered, 0..1
    "refusal_p": "Float64",  # refusal detector probability
    "extracted": "string",  # what the grader read from the response
    "note": "string",  # the grader's short reason
    "correct_strict": "boolean",  # numeric items: right after an explicit "Final answer:" only; others = correct
    "ambiguous": "boolean",  # the answer hedges between candidates that disagree
    "degenerate": "boolean",  # a loop, empty text, gibberish or an echo of the prompt
    "degenerate_kind": "string",  # loop | empty | gibberish | echo; NA when not degenerate
}
SAMPLE_COLUMNS: dict[str, str] = {**RUN_COLUMNS, **ROW_COLUMNS}

_GRADE_KEYS = (
    "grader", "correct", "refused", "value_correct", "unit_correct", "coverage", "refusal_p", "extracted", "note",
    "correct_strict", "ambiguous", "degenerate", "degenerate_kind",
)  # fmt: skip
_GRADE_SKIP = {"id", "system", "category", "kind", "applicable"}  # repeated from the sample and the item


def answer_key(item: Item) -> str:
    """An item's answer key as short text (what the reports print under "expected")."""
    answer = item.answer
    if answer.type == "numeric":
        unit = "" if (answer.unit or "").lower() == "dimensionless" else f" {answer.unit}"
        return f"{answer.value:g}{unit}"
    if answer.type == "text":
        return " / ".join(answer.accept)
    if answer.type == "keypoints":
        return "; ".join(answer.points)
    return "(no key: answering is correct, refusing is a false refusal)"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _retrieved(extra: Mapping[str, Any]) -> list[str] | None:
    hits = extra.get("retrieved", extra.get("passages"))
    if not isinstance(hits, list):
        return None
    return [str(h.get("chunk_id")) for h in hits if isinstance(h, Mapping)]


def _run_fields(run: Mapping[str, Any], run_id: str | None, run_dir: str | None) -> dict[str, Any]:
    config = run.get("config") or {}
    bench = run.get("benchmark") or {}
    source = run.get("source") or {}
    return {
        "run_id": run_id,
        "run_dir": run_dir,
        "created": run.get("created"),
        "source_commit": source.get("commit"),
        "source_dirty": source.get("dirty"),
        "benchmark": bench.get("name"),
        "benchmark_version": bench.get("version"),
        "benchmark_sha256": bench.get("sha256"),
        "max_new_tokens": config.get("max_new_tokens"),
        "seed": config.get("seed"),
        "limit": config.get("limit"),
        "shard": config.get("shard"),
        "baseline_system": config.get("baseline_system"),
    }


def _row(sample: Mapping[str, Any], item: Item | None, grade: Mapping[str, Any] | None, options: Mapping[str, Any]) -> dict[str, Any]:
    recorded = sample.get("extra")
    extra: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    numeric = item is not None and item.answer.type == "numeric"
    row: dict[str, Any] = {
        "system": str(sample.get("system")),
        "system_options": json.dumps(options.get(str(sample.get("system")), {}), sort_keys=True),
        "id": str(sample.get("id")),
        "category": item.category if item else sample.get("category"),
        "tags": list(item.tags) if item else [],
        "question": item.question if item else sample.get("question"),
        "answer_type": item.answer.type if item else None,
        "answer_key": answer_key(item) if item else None,
        "answer_value": item.answer.value if item else None,
        "answer_unit": item.answer.unit if item else None,
        "gold_passages": list(item.gold_passages) if item else [],
        "prompt": sample.get("prompt"),
        "response": sample.get("response") if isinstance(sample.get("response"), str) else None,
        "latency_s": _number(sample.get("latency_s")),
        "prompt_tokens": _count(sample.get("prompt_tokens")),
        "completion_tokens": _count(sample.get("completion_tokens")),
        "finish_reason": sample.get("finish_reason"),
        "applicable": sample.get("finish_reason") != NOT_APPLICABLE,
        "cached": bool(sample.get("cached")),
        "retrieved": _retrieved(extra),
        "passages_shown": _count(extra.get("k")),
        "extra": extra,
    }
    grade = grade or {}
    row.update({key: grade.get(key) for key in _GRADE_KEYS})
    if grade and numeric and grade.get("applicable", True):
        row["unit_error"] = is_unit_error(grade)
        row["value_error"] = not grade.get("value_correct")
    row.update({k: v for k, v in grade.items() if k not in _GRADE_SKIP and k not in row})  # fields of newer graders
    return row


def _frame(rows: list[dict[str, Any]], systems: Sequence[str], categories: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows)
    for name in SAMPLE_COLUMNS:
        if name not in frame:
            frame[name] = None
    extra_grade_fields = [c for c in frame.columns if c not in SAMPLE_COLUMNS]
    frame = frame[[*SAMPLE_COLUMNS, *extra_grade_fields]]
    dtypes = dict(SAMPLE_COLUMNS)
    dtypes["system"] = pd.CategoricalDtype(list(dict.fromkeys([*systems, *frame["system"].dropna()])))
    dtypes["category"] = pd.CategoricalDtype(list(dict.fromkeys([*categories, *sorted(set(frame["category"].dropna()) - set(categories))])))
    dtypes["answer_type"] = pd.CategoricalDtype(ANSWER_TYPES)
    dtypes["created"] = "object"
    frame = frame.astype(dtypes)
    frame["created"] = pd.to_datetime(frame["created"], utc=True, format="ISO8601", errors="coerce")
    return frame.reset_index(drop=True)


def graded_frame(
    samples: Iterable[Mapping[str, Any]],
    grades: Iterable[Mapping[str, Any]],
    items: Mapping[str, Item],
    run: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    run_dir: str | None = None,
) -> pd.DataFrame:
    """The :func:`samples_df` frame of records already in memory (``samples.jsonl`` lines, grade
    records of :func:`~harness.scoring.gradebook.ensure_grades`, items by id, ``run.json``)."""
    run = run or {}
    return _frame(_rows(samples, grades, items, run, run_id, run_dir), list((run.get("systems") or {}).keys()), _categories(items))


def _rows(
    samples: Iterable[Mapping[str, Any]],
    grades: Iterable[Mapping[str, Any]],
    items: Mapping[str, Item],
    run: Mapping[str, Any],
    run_id: str | None,
    run_dir: str | None,
) -> list[dict[str, Any]]:
    by_key = {(str(g.get("system")), str(g.get("id"))): g for g in grades}
    fields = _run_fields(run, run_id, run_dir)
    options = (run.get("config") or {}).get("system_options") or {}
    return [{**fields, **_row(s, items.get(str(s.get("id"))), by_key.get((str(s.get("system")), str(s.get("id")))), options)} for s in samples]


def _categories(items: Mapping[str, Item]) -> list[str]:
    """The categories of ``items`` in benchmark order (the order they first appear)."""
    return list(dict.fromkeys(item.category for item in items.values()))


def _run_ids(run_dirs: Sequence[Path]) -> list[str]:
    names = [d.resolve().name for d in run_dirs]
    return [name if names.count(name) == 1 else str(d) for name, d in zip(names, run_dirs)]


def _check_samples(run_dir: Path, samples: Sequence[Any]) -> None:
    from harness.runlog import SAMPLES

    for number, sample in enumerate(samples, start=1):
        if not isinstance(sample, dict):
            raise DataError(f"{run_dir / SAMPLES}: record {number}: expected a JSON object, got {type(sample).__name__}; restore the file from the run")


def samples_df(*run_dirs: str | Path, regrade: bool = False) -> pd.DataFrame:
    """One row per run x system x item of the given run directories, with the item, the
    response, every grade, tokens, latency, retrieval and run columns (:data:`SAMPLE_COLUMNS`),
    and, when a run has ``likelihood.jsonl``, the per-item likelihood columns
    (:data:`~harness.analysis.likelihood.SAMPLE_LIKELIHOOD_COLUMNS`).

    ``regrade``: grade every answer again (after a grader change) instead of reusing a current
    ``grades.jsonl``. Raises :class:`~harness.api.errors.DataError` for a folder that is not a
    run, a missing ``samples.jsonl`` or a malformed log file."""
    from harness.runlog import SAMPLES, load_run, read_samples
    from harness.scoring.gradebook import ensure_grades, load_items

    if not run_dirs:
        raise DataError("samples_df: no run directory given; pass one or more folders written by python -m harness run")
    dirs = [Path(d) for d in run_dirs]
    rows: list[dict[str, Any]] = []
    systems: list[str] = []
    categories: list[str] = []
    for run_dir, run_id in zip(dirs, _run_ids(dirs)):
        run = load_run(run_dir)
        if not (run_dir / SAMPLES).exists():
            raise DataError(f"{run_dir / SAMPLES}: not found; a run directory keeps its answers there (copy it along with run.json)")
        samples = read_samples(run_dir)
        _check_samples(run_dir, samples)
        items = load_items(run_dir)
        grades = ensure_grades(run_dir, items, regrade=regrade)
        rows += _rows(samples, grades, items, run, run_id, str(run_dir))
        systems += list((run.get("systems") or {}).keys())
        categories += _categories(items)
    from harness.analysis.likelihood import with_likelihood

    return with_likelihood(_frame(rows, systems, categories), dirs)  # + reference_bpb, mc_correct... when likelihood.jsonl exists
