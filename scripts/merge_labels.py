"""Build harness/scoring/data/real_labels.jsonl from a labelling pool and the raters' label files.

    python scripts/merge_labels.py /work/labels                      # pool.jsonl + labels_*.jsonl (+ labels2_*.jsonl)
    python scripts/merge_labels.py LABEL_DIR --output harness/scoring/data/real_labels.jsonl

``LABEL_DIR/pool.jsonl`` holds the answers to label, one per line: ``{"uid": "system:item_id",
"run", "system", "id", "category", "question", "answer_key", "prompt_seen", "response",
"split": "train"|"held_out"}``. ``labels_*.jsonl`` hold the first rater's labels and
``labels2_*.jsonl`` a second rater's, each line ``{"uid", "rater", "refused", "degenerate",
"degenerate_kind", "correct", "value_correct", "unit_correct", "note"}``. When ``LABEL_DIR/<run>/
samples.jsonl`` exists, each row also gets the sample's ``finish_reason`` (evidence for the loop
detector) and, as ``prompt_seen``, everything the system was shown (system message included, as
the graders see it; the pool may hold only the user message). Rows without a first label are left out; the split is the pool's, never changed here.
Rerun after the raters add labels; the output is sorted by uid so diffs stay small.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.scoring.degenerate import prompt_text

LABEL_KEYS = ("refused", "degenerate", "degenerate_kind", "correct", "value_correct", "unit_correct", "note", "rater")
POOL_KEYS = ("uid", "run", "system", "id", "category", "question", "answer_key", "prompt_seen", "response", "split")
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "harness" / "scoring" / "data" / "real_labels.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not JSON ({exc.msg}); fix or remove the line") from None
    return rows


def read_labels(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Labels by uid; a uid labelled twice in these files is an error (say which to keep)."""
    out: dict[str, dict[str, Any]] = {}
    where: dict[str, Path] = {}
    for path in paths:
        for row in read_jsonl(path):
            uid = row.get("uid")
            if uid in out:
                raise SystemExit(f"{path}: {uid}: already labelled in {where[uid]}; keep one label per uid and file set")
            missing = [k for k in LABEL_KEYS if k not in row]
            if missing:
                raise SystemExit(f"{path}: {uid}: {missing[0]}: missing; each label needs {', '.join(LABEL_KEYS)}")
            out[str(uid)] = {k: row[k] for k in LABEL_KEYS}
            where[str(uid)] = path
    return out


def run_samples(label_dir: Path, runs: set[str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``(run, system, id) -> sample`` from ``LABEL_DIR/<run>/samples.jsonl`` where present."""
    out = {}
    for run in sorted(runs):
        path = label_dir / run / "samples.jsonl"
        if path.exists():
            for sample in read_jsonl(path):
                out[(run, str(sample.get("system")), str(sample.get("id")))] = sample
    return out


def merge(label_dir: Path) -> list[dict[str, Any]]:
    pool = read_jsonl(label_dir / "pool.jsonl")
    first = read_labels(sorted(label_dir.glob("labels_*.jsonl")))
    second = read_labels(sorted(label_dir.glob("labels2_*.jsonl")))
    samples = run_samples(label_dir, {str(r.get("run")) for r in pool})
    rows = []
    for entry in pool:
        missing = [k for k in POOL_KEYS if k not in entry]
        if missing:
            raise SystemExit(f"{label_dir / 'pool.jsonl'}: {entry.get('uid')}: {missing[0]}: missing; each pool row needs {', '.join(POOL_KEYS)}")
        if entry["split"] not in ("train", "held_out"):
            raise SystemExit(f"{label_dir / 'pool.jsonl'}: {entry['uid']}: split: expected 'train' or 'held_out', got {entry['split']!r}")
        labels = first.get(entry["uid"])
        if labels is None:
            continue
        row = {k: entry[k] for k in POOL_KEYS}
        sample = samples.get((entry["run"], entry["system"], entry["id"]))
        if sample is not None:
            row["prompt_seen"] = prompt_text(sample.get("prompt"))  # all the system saw, its system message too
            if sample.get("finish_reason") is not None:
                row["finish_reason"] = sample["finish_reason"]
        row["labels"] = labels
        if entry["uid"] in second:
            row["second"] = second[entry["uid"]]
        rows.append(row)
    unknown = sorted((set(first) | set(second)) - {r["uid"] for r in pool})
    if unknown:
        print(f"warning: {len(unknown)} labelled uid(s) not in the pool were ignored (e.g. {unknown[0]})", file=sys.stderr)
    return sorted(rows, key=lambda r: r["uid"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("label_dir", type=Path, help="folder with pool.jsonl and labels_*.jsonl (labels2_*.jsonl: second rater)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write (default: harness/scoring/data/real_labels.jsonl)")
    args = parser.parse_args()
    rows = merge(args.label_dir)
    args.output.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    held_out = sum(r["split"] == "held_out" for r in rows)
    print(f"wrote {len(rows)} labelled answers ({held_out} held out, {sum('second' in r for r in rows)} with a second rater) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
