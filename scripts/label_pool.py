"""Draw the pool of real answers to label by reading (issue: graders validated on real output).

    python scripts/label_pool.py RUN_DIR [RUN_DIR...] --extra-from RUN_DIR --extra N --output FILE

Every answer of the first runs is taken; ``--extra-from`` adds up to N more answers from another
run, refusal probes first, then answers that stopped in a loop, so both are oversampled. The output
has what a rater needs and nothing a grader decided: question, answer key, the prompt the system
saw (with its retrieved passages) and the response. Rows are ordered by a hash of ``system:id`` so
a rater meets the systems mixed, and each row carries a fixed split (``held_out`` for about 40 %).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from harness.scoring.degenerate import prompt_text


def _uid_hash(uid: str) -> int:
    return int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16)


def split_of(uid: str) -> str:
    return "held_out" if _uid_hash(uid) % 10 < 4 else "train"


def _rows(run_dir: Path) -> tuple[list[dict], dict[str, dict]]:
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]
    items = {}
    for line in (run_dir / "benchmark.jsonl").read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            items[item["id"]] = item
    return samples, items


def _row(sample: dict, item: dict, run: str) -> dict:
    uid = f"{sample['system']}:{sample['id']}"
    return {
        "uid": uid,
        "run": run,
        "system": sample["system"],
        "id": sample["id"],
        "category": sample["category"],
        "question": item["question"],
        "answer_key": item["answer"],
        "prompt_seen": prompt_text(sample["prompt"]),  # system message and question, as the graders see them
        "response": sample["response"],
        "split": split_of(uid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--extra-from", type=Path)
    parser.add_argument("--extra", type=int, default=0)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    pool: dict[str, dict] = {}
    for run in args.runs:
        samples, items = _rows(run)
        for s in samples:
            row = _row(s, items[s["id"]], run.name)
            pool.setdefault(row["uid"], row)
    if args.extra_from and args.extra:
        samples, items = _rows(args.extra_from)
        fresh = [s for s in samples if f"{s['system']}:{s['id']}" not in pool]
        fresh.sort(key=lambda s: (s["category"] != "refusal_probe", s["finish_reason"] != "loop", _uid_hash(f"{s['system']}:{s['id']}")))
        for s in fresh[: args.extra]:
            row = _row(s, items[s["id"]], args.extra_from.name)
            pool[row["uid"]] = row
    rows = sorted(pool.values(), key=lambda r: _uid_hash(r["uid"]))
    args.output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{args.output}: {len(rows)} answers to label")


if __name__ == "__main__":
    main()
