"""How well the graders agree with people: the labelled set of real answers, ``data/real_labels.jsonl``.

    python scripts/merge_labels.py LABEL_DIR      # rebuild the set from the raters' files
    python -m harness calibrate --check           # print agreement on its held-out rows

Each row is one answer of one of our systems to one benchmark item, labelled by reading it
(rubric: ``LABELLING.md`` of the labelling round): ``{"uid": "system:item_id", "run", "system",
"id", "category", "question", "answer_key" (the item's answer as in the benchmark), "prompt_seen"
(everything the system was shown: system message, passages and question, as the graders see it), "response", "split": "train"|"held_out",
"finish_reason" (optional), "labels": {"refused", "degenerate", "degenerate_kind", "correct",
"value_correct", "unit_correct", "note", "rater"}, "second": {the same, from a second rater}
(optional), "degenerate_raters" and "refusal_raters": {"raters", "first", "second": two raters'
verdicts, "adjudicated"} (optional: later rounds that two raters labelled in full)}``. The split
is fixed when the pool is drawn: graders may be improved by looking at ``train`` rows only; ``held_out``
rows are for the final check.

:func:`agreement` regrades the rows with the current graders and compares field by field:
``correct`` (agreement, precision, recall), ``refused`` (precision, recall, and how many loops or
lists that are not refusals were flagged), ``degenerate`` (agreement), ``value_correct``/``unit_correct`` where
labelled, ``unit_error`` (the report's unit column: right number, missing or wrong unit), key-point
items, and the raters' agreement with each other where a row has ``second``.
Edge cases: a precision or recall with nothing to count (no refusal labelled and none flagged) is
``None`` and printed as ``-``; rows of items without a key (``correct`` None) count only for
``refused`` and ``degenerate``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.api.errors import DataError
from harness.scoring.calibration import DATA_DIR

REAL_LABELS = DATA_DIR / "real_labels.jsonl"
AGREEMENT_FILE = DATA_DIR / "agreement.json"  # the held-out figures the report header shows
BLIND_FILE = DATA_DIR / "blind_refusals.jsonl"  # each elicited batch graded once, before any grader saw it
SPLITS = ("train", "held_out")
ROW_KEYS = ("uid", "system", "id", "category", "question", "answer_key", "prompt_seen", "response", "split", "labels")
LABEL_FIELDS = ("correct", "refused", "degenerate", "value_correct", "unit_correct")
BOTH_RATERS = {"refused": "refusal_raters", "degenerate": "degenerate_raters"}  # a later round's two verdicts on every row it labelled
TARGETS = {"correct_agreement": 0.97, "refusal_precision": 0.95, "refusal_recall": 0.95, "degenerate_agreement": 0.95}  # issue 13


def read_real_labels(path: Path = REAL_LABELS) -> list[dict[str, Any]]:
    """The labelled rows, checked; raises :class:`DataError` naming the line and the field."""
    from harness.runlog import iter_jsonl

    if not Path(path).exists():
        raise DataError(f"{path}: labelled real answers not found; build them with: python scripts/merge_labels.py LABEL_DIR")
    rows = list(iter_jsonl(path, tolerate_truncated_tail=False))
    for number, row in enumerate(rows, start=1):
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            raise DataError(f"{path}:{number}: {missing[0]}: missing; each row needs {', '.join(ROW_KEYS)}")
        if row["split"] not in SPLITS:
            raise DataError(f"{path}:{number}: split: expected 'train' or 'held_out', got {row['split']!r}")
    return rows


def item_of(row: Mapping[str, Any]) -> Any:
    """The benchmark item a labelled row answers."""
    from harness.api.items import parse_item

    return parse_item({"id": row["id"], "category": row["category"], "question": row["question"], "answer": row["answer_key"]}, str(row["uid"]))


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def compare(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, Any]:
    """n, agreement, precision and recall of ``predicted`` against ``truth``."""
    tp = sum(t and p for t, p in zip(truth, predicted))
    fp = sum(p and not t for t, p in zip(truth, predicted))
    fn = sum(t and not p for t, p in zip(truth, predicted))
    same = sum(t == p for t, p in zip(truth, predicted))
    return {
        "n": len(truth),
        "positives": sum(truth),
        "flagged": sum(predicted),
        "agreement": _rate(same, len(truth)),
        "precision": _rate(tp, tp + fp),
        "recall": _rate(tp, tp + fn),
    }


def _field(
    rows: Sequence[Mapping[str, Any]], grades: Sequence[Mapping[str, Any]], name: str, read: Callable[[Mapping[str, Any]], Any] | None = None
) -> dict[str, Any]:
    """Labels against grades on field ``name`` (or on ``read`` of each, a value derived from
    them); rows where either side is None are left out."""
    get = read or (lambda record: record.get(name))
    pairs = [(bool(get(r["labels"])), bool(get(g)), r["uid"]) for r, g in zip(rows, grades) if get(r["labels"]) is not None and get(g) is not None]
    out = compare([label for label, _, _ in pairs], [graded for _, graded, _ in pairs])
    out["errors"] = [uid for label, graded, uid in pairs if label != graded]
    return out


def _unit_error(record: Mapping[str, Any]) -> bool | None:
    """The report's unit column (:func:`harness.scoring.score.is_unit_error`: the right number
    with a missing or wrong unit) of a label or a grade; None where no number was judged.
    ``unit_correct`` alone also compares the unit of wrong numbers, which no reported figure uses."""
    from harness.scoring.score import is_unit_error

    return None if record.get("value_correct") is None else is_unit_error(record)


def _looks_like_list(text: str) -> bool:
    import re

    return len(re.findall(r"(?m)^\s*(?:\d{1,2}[.)]|[-*•])\s", text)) >= 2


def grade_rows(rows: Sequence[Mapping[str, Any]], config: Any) -> list[dict[str, Any]]:
    """The current graders' verdicts on ``rows`` (Score dicts, in order)."""
    from harness.scoring.grade import grade
    from harness.scoring.gradebook import prefetch

    items = [item_of(r) for r in rows]
    prefetch([(item, str(r["response"])) for item, r in zip(items, rows)], config)
    return [grade(item, str(r["response"]), config, r["prompt_seen"], r.get("finish_reason")).to_dict() for item, r in zip(items, rows)]


def inter_rater(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Agreement of the two raters on the rows that have a ``second`` label."""
    doubled = [r for r in rows if isinstance(r.get("second"), Mapping)]
    out: dict[str, Any] = {"n": len(doubled)}
    for name in LABEL_FIELDS:
        both = BOTH_RATERS.get(name, "")
        if both and any(isinstance(r.get(both), Mapping) for r in rows):
            # labelled by two raters on every row of a later round (docs/scoring.md)
            pairs = [(r[both]["first"], r[both]["second"]) for r in rows if isinstance(r.get(both), Mapping)]
        else:
            pairs = [(r["labels"][name], r["second"][name]) for r in doubled if r["labels"].get(name) is not None and r["second"].get(name) is not None]
        out[name] = {"n": len(pairs), "agreement": _rate(sum(bool(a) == bool(b) for a, b in pairs), len(pairs))}
    return out


def agreement(rows: Sequence[Mapping[str, Any]], config: Any, split: str = "held_out") -> dict[str, Any]:
    """Grader-vs-label figures on the rows of ``split`` (see the module docstring)."""
    chosen = [r for r in rows if r["split"] == split]
    grades = grade_rows(chosen, config)
    refused = _field(chosen, grades, "refused")
    refused["flagged_loops_or_lists"] = sum(  # false refusals on loops or lists (a loop of declines is a refusal)
        bool(g.get("refused")) and not r["labels"].get("refused") and (bool(r["labels"].get("degenerate")) or _looks_like_list(str(r["response"])))
        for r, g in zip(chosen, grades)
    )
    keypoint_rows = [(r, g) for r, g in zip(chosen, grades) if r["answer_key"].get("type") == "keypoints"]
    by_type = {}
    for kind in ("numeric", "text", "keypoints"):
        subset = [(r, g) for r, g in zip(chosen, grades) if r["answer_key"].get("type") == kind]
        by_type[kind] = _field([r for r, _ in subset], [g for _, g in subset], "correct")
    return {
        "split": split,
        "n": len(chosen),
        "correct": _field(chosen, grades, "correct"),
        "correct_by_type": by_type,
        "refused": refused,
        "degenerate": _field(chosen, grades, "degenerate"),
        "value_correct": _field(chosen, grades, "value_correct"),
        "unit_correct": _field(chosen, grades, "unit_correct"),
        "unit_error": _field(chosen, grades, "unit_error", _unit_error),
        "keypoint_items": _field([r for r, _ in keypoint_rows], [g for _, g in keypoint_rows], "correct"),
        "inter_rater": inter_rater(chosen),
    }


def headline(report: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers the report header shows, from an :func:`agreement` report."""
    return {
        "split": report["split"],
        "n": report["n"],
        "correct_agreement": report["correct"]["agreement"],
        "correct_precision": report["correct"]["precision"],  # agreement alone flatters a grader when nearly every answer is wrong
        "correct_flagged": report["correct"]["flagged"],
        "refusal_precision": report["refused"]["precision"],
        "refusal_recall": report["refused"]["recall"],
        "refusals_labelled": report["refused"]["positives"],
        "loops_or_lists_flagged": report["refused"]["flagged_loops_or_lists"],
        "degenerate_agreement": report["degenerate"]["agreement"],
    }


def blind_measure(rows: Sequence[Mapping[str, Any]], config: Any, run: str) -> dict[str, Any]:
    """The refusal and degenerate figures of the rows of ``run`` (all of them, whatever their
    split), for a batch labelled after the graders were frozen: a blind measure of the graders
    as they stand (``scripts/merge_elicited.py --measure``)."""
    from harness.scoring.gradebook import grader_id

    batch = [{**r, "split": "held_out"} for r in rows if r.get("run") == run]
    if not batch:
        raise DataError(f"no labelled row has run {run!r}; pass the --run-name the batch was merged with")
    report = agreement(batch, config, "held_out")
    refused = report["refused"]
    return {
        "run": run,
        "graders": grader_id(),
        "n": report["n"],
        "refusals": refused["positives"],
        "flagged": refused["flagged"],
        "precision": refused["precision"],
        "recall": refused["recall"],
        "loops_or_lists_flagged": refused["flagged_loops_or_lists"],
        "degenerate_agreement": report["degenerate"]["agreement"],
    }


def record_blind(record: Mapping[str, Any], path: Path = BLIND_FILE) -> None:
    """Add ``record`` to the blind measures; the first measure of a run is the blind one, so a
    run already there is an error (its answers have been read since)."""
    earlier = load_blind(path)
    if any(r.get("run") == record["run"] for r in earlier):
        raise DataError(f"{path}: run {record['run']!r} was measured already; only its first grading is blind (remove that line to measure it again)")
    from harness.runlog import write_text_atomic

    write_text_atomic(Path(path), "".join(json.dumps(r, sort_keys=True) + "\n" for r in [*earlier, dict(record)]))


def load_blind(path: Path = BLIND_FILE) -> list[dict[str, Any]]:
    """The blind measures, oldest first (empty when the file is missing)."""
    from harness.runlog import iter_jsonl

    return [dict(r) for r in iter_jsonl(Path(path), tolerate_truncated_tail=False)]


def write_agreement(report: Mapping[str, Any], path: Path = AGREEMENT_FILE) -> None:
    from harness.runlog import write_json_atomic

    write_json_atomic(path, {"headline": headline(report), "report": dict(report)})


def load_headline(path: Path = AGREEMENT_FILE, blind: Path = BLIND_FILE) -> dict[str, Any]:
    """The committed headline figures (empty when the file is missing or unreadable), with the
    newest blind measure (``blind_refusals``) when there is one: held-out rows have been read to
    tune the graders, a blind batch has not."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        out = dict(data.get("headline") or {})
    except (OSError, ValueError, AttributeError):
        return {}
    try:
        measures = load_blind(blind)
    except (OSError, ValueError, DataError):
        measures = []
    if out and measures:
        out["blind_refusals"] = measures[-1]
    return out
