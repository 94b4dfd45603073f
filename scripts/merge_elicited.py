"""Add a batch of elicited refusal-probe answers, labelled by two raters, to real_labels.jsonl.

    python scripts/merge_elicited.py runs/elicit/run LABEL_DIR --tag elicit --run-name elicit-refusals
    python scripts/merge_elicited.py runs/elicit2/run LABEL_DIR --tag elicit2 --run-name elicit-refusals-2 --split held_out

``RUN_DIR`` is the run of ``scripts/elicit_refusals.py``'s benchmark (``samples.jsonl``,
``benchmark.jsonl``). ``LABEL_DIR`` holds what the raters saw and wrote: ``key.json`` (blind row id
-> ``system:item_id``), exactly two rater files ``labels_<RATER>.jsonl`` with lines ``{"rid",
"refused", "degenerate", "kind", "note"}``, and, where they disagree, ``adjudicated.jsonl`` with
``{"rid", "refused"?, "degenerate"?, "kind"?, "note"}`` for each field settled by a third reading;
``settled.jsonl`` (same form, optional) overrides verdicts the raters agreed on when a point of the
rubric was settled after they labelled (the note says which), so every batch is read the same way.
Each answer becomes one row with uid ``SYSTEM+TAG:ITEM`` and both raters' verdicts
(``refusal_raters``, ``degenerate_raters``); ``correct`` is None (probes have no key), unless
``--graded``: the raters also judged ``correct`` against the item's key (and each key point,
``covered``, kept per rater in ``keypoint_raters``). ``--split``:
``hash`` (the pool's fixed 60/40 split by uid) or one split for the whole batch (``held_out`` for a
batch labelled after the graders were frozen, so it measures them blind; ``--measure`` grades it
first and records that blind measure in ``harness/scoring/data/blind_refusals.jsonl``, which the
report header quotes beside the held-out figures). Rows of the same
``--run-name`` already in the file are replaced; a disagreement left unsettled is an error that
names the row.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from label_pool import _row  # noqa: E402
from merge_labels import DEFAULT_OUTPUT, read_jsonl  # noqa: E402

FIELDS = ("refused", "degenerate")
GRADED = FIELDS + ("correct",)  # --graded: raters also judged correctness by the item's key points


def _by_rid(path: Path, required: tuple[str, ...] = FIELDS) -> dict[str, dict[str, Any]]:
    """Rows by rid, ``kind`` read from ``degenerate_kind`` where a file uses that name; a file with
    nothing required (adjudications name only the fields they settle) may be absent."""
    if not required and not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in read_jsonl(path):
        rid = str(row.get("rid"))
        if rid in out:
            raise SystemExit(f"{path}: {rid}: labelled twice; keep one line per rid")
        missing = [k for k in required if k not in row]
        if missing:
            raise SystemExit(f"{path}: {rid}: {missing[0]}: missing; each line needs rid, {', '.join(required)}, kind, note")
        out[rid] = {**row, "kind": row.get("kind", row.get("degenerate_kind"))}
    return out


def merge(run_dir: Path, label_dir: Path, tag: str, run_name: str, split: str, graded: bool = False) -> list[dict[str, Any]]:
    """The labelled rows of this batch (see the module docstring)."""
    fields = GRADED if graded else FIELDS
    key: dict[str, str] = json.loads((label_dir / "key.json").read_text(encoding="utf-8"))
    files = sorted(label_dir.glob("labels_*.jsonl"))
    if len(files) != 2:
        raise SystemExit(f"{label_dir}: {len(files)} labels_*.jsonl files; give exactly two raters' files")
    raters = [f.stem.split("_", 1)[1] for f in files]
    first, second = (_by_rid(f, fields) for f in files)
    adjudicated = _by_rid(label_dir / "adjudicated.jsonl", required=())
    later = _by_rid(label_dir / "settled.jsonl", required=())
    samples = {(s["system"], s["id"]): s for s in read_jsonl(run_dir / "samples.jsonl")}
    items = {i["id"]: i for i in read_jsonl(run_dir / "benchmark.jsonl")}
    rows, unsettled = [], []
    for rid, uid in sorted(key.items()):
        system, item_id = uid.split(":", 1)
        if rid not in first or rid not in second:
            raise SystemExit(f"{label_dir}: {rid} ({uid}): not labelled by both raters; label it in both files")
        a, b = first[rid], second[rid]
        settled = {**adjudicated.get(rid, {}), **later.get(rid, {})}
        final: dict[str, Any] = {}
        third: set[str] = set()  # fields whose verdict is a third reading's
        for field in fields:
            if field in later.get(rid, {}) or (bool(a[field]) != bool(b[field]) and field in settled):
                final[field] = bool(settled[field])
                third.add(field)
            elif bool(a[field]) == bool(b[field]):
                final[field] = bool(a[field])
            else:
                unsettled.append(f"{rid} ({uid}) {field}")
        kind = settled.get("kind") or a.get("kind") or b.get("kind") if final.get("degenerate") else None
        row = _row(samples[(system, item_id)], items[item_id], run_name)
        row.update(
            {
                "uid": f"{system}+{tag}:{item_id}" if tag else uid,
                "split": split if split != "hash" else row["split"],
                "finish_reason": samples[(system, item_id)].get("finish_reason"),
                "labels": {
                    "refused": final.get("refused"),
                    "degenerate": final.get("degenerate"),
                    "degenerate_kind": kind,
                    "correct": final.get("correct"),
                    "value_correct": None,
                    "unit_correct": None,
                    "note": "; ".join(str(x) for x in (a.get("note"), b.get("note"), settled.get("note")) if x)[:300],
                    "rater": ",".join(raters),
                },
            }
        )
        for field, name in (("refused", "refusal_raters"), ("degenerate", "degenerate_raters")) + ((("correct", "correct_raters"),) if graded else ()):
            row[name] = {"raters": ",".join(raters), "first": bool(a[field]), "second": bool(b[field]), "adjudicated": field in third}
        if graded:  # each rater's verdict on every key point, for the key-point matcher
            row["keypoint_raters"] = {"raters": ",".join(raters), "first": a.get("covered"), "second": b.get("covered")}
        rows.append(row)
    if unsettled:
        raise SystemExit(f"{label_dir}/adjudicated.jsonl: {len(unsettled)} disagreements unsettled, first {unsettled[0]}; add a line for each")
    return rows


def measure(batch: list[dict[str, Any]], run_name: str) -> None:
    """Grade ``batch`` with the current graders and record the blind figures."""
    from harness.benchmark import DEFAULT_BENCHMARK, load_config
    from harness.scoring.agreement import BLIND_FILE, blind_measure, record_blind
    from harness.scoring.grade import GradeConfig

    config = GradeConfig.from_benchmark(load_config(DEFAULT_BENCHMARK.parent / "benchmark.toml"))
    record = blind_measure(batch, config, run_name)
    record_blind(record)
    print(
        f"{BLIND_FILE}: {run_name} graded blind by graders {record['graders']}: {record['refusals']} refusals labelled, "
        f"{record['flagged']} flagged, precision {record['precision']}, recall {record['recall']}, "
        f"{record['loops_or_lists_flagged']} loops or lists flagged, degenerate agreement {record['degenerate_agreement']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("label_dir", type=Path)
    parser.add_argument("--tag", required=True, help="uid tag: rows get uid SYSTEM+TAG:ITEM ('' keeps SYSTEM:ITEM)")
    parser.add_argument("--graded", action="store_true", help="raters also labelled correct (and covered per key point)")
    parser.add_argument("--run-name", required=True, help="the rows' run field; rows of this run already in the output are replaced")
    parser.add_argument("--split", choices=("hash", "train", "held_out"), default="hash")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--measure",
        action="store_true",
        help="first grade the batch with the current graders and add the figures to harness/scoring/data/blind_refusals.jsonl "
        "(only for a batch labelled after the graders were frozen, and only once)",
    )
    args = parser.parse_args()
    batch = merge(args.run_dir, args.label_dir, args.tag, args.run_name, args.split, args.graded)
    if args.measure:
        from harness.api.errors import DataError

        try:
            measure(batch, args.run_name)
        except DataError as error:
            raise SystemExit(f"error: {error}") from None
    kept = [r for r in read_jsonl(args.output) if r.get("run") != args.run_name] if args.output.exists() else []
    rows = sorted(kept + batch, key=lambda r: r["uid"])
    args.output.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    refused = sum(bool(r["labels"]["refused"]) for r in batch)
    print(f"{args.output}: {len(rows)} rows ({len(batch)} from {args.run_name}: {refused} refusals)")


if __name__ == "__main__":
    main()
