"""Replace the ``degenerate`` labels of the labelled real answers with a second labelling round.

    python scripts/relabel_degenerate.py ROUND_DIR [--labels harness/scoring/data/real_labels.jsonl]

``ROUND_DIR`` holds ``key.json`` (rater id -> ``system:item`` uid; raters saw only the rater id, the
question, the prompt and the response), ``labels_C.jsonl`` and ``labels_D.jsonl`` (two raters,
every row, rubric in docs/scoring.md "Degenerate answers: the settled reading") and
``adjudicated.jsonl`` (the verdict on each row where they disagree). Each row gets the agreed or
adjudicated label in ``labels.degenerate``/``labels.degenerate_kind`` and both raters' verdicts
in ``degenerate_raters`` (``first``, ``second``), which ``calibrate`` uses for the inter-rater figure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _by_rid(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["rid"]: row for row in rows}


def relabel(round_dir: Path, labels: Path) -> tuple[int, int]:
    key: dict[str, str] = json.loads((round_dir / "key.json").read_text(encoding="utf-8"))
    first, second = _by_rid(round_dir / "labels_C.jsonl"), _by_rid(round_dir / "labels_D.jsonl")
    verdicts = _by_rid(round_dir / "adjudicated.jsonl")
    rid_of = {uid: rid for rid, uid in key.items()}
    rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    changed = 0
    for row in rows:
        rid = rid_of[row["uid"]]
        c, d = first[rid], second[rid]
        if c["degenerate"] == d["degenerate"]:
            degenerate, kind = bool(c["degenerate"]), (c["kind"] or d["kind"]) if c["degenerate"] else None
        elif rid in verdicts:
            degenerate, kind = bool(verdicts[rid]["degenerate"]), verdicts[rid]["kind"]
        else:
            raise SystemExit(f"{round_dir}: raters disagree on {rid} ({row['uid']}) and adjudicated.jsonl has no verdict; add one")
        changed += degenerate != bool(row["labels"]["degenerate"])
        row["labels"]["degenerate"], row["labels"]["degenerate_kind"] = degenerate, kind
        notes = "; ".join(n for n in (c.get("note"), d.get("note"), (verdicts.get(rid) or {}).get("note")) if n)
        row["degenerate_raters"] = {
            "raters": "C,D",
            "first": bool(c["degenerate"]),
            "second": bool(d["degenerate"]),
            "adjudicated": rid in verdicts,
            **({"notes": notes[:300]} if notes else {}),
        }
    labels.write_text("".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows), encoding="utf-8")
    return len(rows), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("round_dir", type=Path)
    parser.add_argument("--labels", type=Path, default=ROOT / "harness" / "scoring" / "data" / "real_labels.jsonl")
    args = parser.parse_args()
    total, changed = relabel(args.round_dir, args.labels)
    print(f"{args.labels}: {total} rows, {changed} degenerate labels changed")


if __name__ == "__main__":
    main()
