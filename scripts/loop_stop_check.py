"""What loop stopping would have changed in a run made without it: tokens saved and verdicts moved.

    python -m harness run --benchmark benchmarks/raq/dev.jsonl --systems vanilla,lora,teacher,rag \\
        --no-loop-stop --output-dir runs/dev-noloop
    python scripts/loop_stop_check.py runs/dev-noloop [--ngram 10 --repeats 3] [--json out.json]

Greedy decoding is deterministic, so an answer generated with loop stopping is the answer generated
without it, cut where the loop is recognised. This script re-tokenises each answer of the run with
its system's tokenizer, finds the cut with :func:`harness.models.loops.find_loop`, grades the full
and the cut answer with the harness's graders and prints, per system, how many answers loop, the
completion tokens the cut would save, the accuracy before and after, and every item whose verdict
changes (with both texts), so the thresholds can be judged on answers rather than on faith.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.models.loops import LOOP_NGRAM, LOOP_REPEATS, find_loop  # noqa: E402


def tokenizers_by_system(run: dict[str, Any]) -> dict[str, Any]:
    from harness.models.loading import load_tokenizer
    from harness.models.sources import resolve

    loaded: dict[str, Any] = {}
    out = {}
    for name, meta in run["systems"].items():
        model = (meta.get("fingerprint") or {}).get("model", "smollm2-135m-instruct")
        if model not in loaded:
            loaded[model] = load_tokenizer(resolve(model))
        out[name] = loaded[model]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--ngram", type=int, default=LOOP_NGRAM)
    parser.add_argument("--repeats", type=int, default=LOOP_REPEATS)
    parser.add_argument("--json", type=Path, default=None, help="also write every changed verdict and the per-system figures here")
    args = parser.parse_args(argv)

    from harness.runlog import load_run, read_samples
    from harness.scoring.grade import grade
    from harness.scoring.gradebook import grade_config_for, load_items

    run = load_run(args.run_dir)
    items = load_items(args.run_dir)
    config = grade_config_for(args.run_dir)
    tokenizers = tokenizers_by_system(run)
    per_system: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"answers": 0, "loops": 0, "tokens": 0, "saved": 0, "correct_before": 0, "correct_after": 0, "scored": 0}
    )
    changed: list[dict[str, Any]] = []
    for sample in read_samples(args.run_dir):
        name, item = sample["system"], items[sample["id"]]
        figures = per_system[name]
        tokenizer = tokenizers[name]
        ids = tokenizer(sample["response"], add_special_tokens=False)["input_ids"]
        figures["answers"] += 1
        figures["tokens"] += len(ids)
        loop = find_loop(ids, ngram=args.ngram, repeats=args.repeats)
        cut = sample["response"]
        if loop is not None and loop.looped_at is not None:
            figures["loops"] += 1
            figures["saved"] += len(ids) - loop.looped_at
            cut = tokenizer.decode(ids[: loop.looped_at], skip_special_tokens=True).strip()
        before, after = grade(item, sample["response"], config), grade(item, cut, config)
        if before.correct is not None:
            figures["scored"] += 1
            figures["correct_before"] += bool(before.correct)
            figures["correct_after"] += bool(after.correct)
        if (before.correct, before.refused) != (after.correct, after.refused):
            changed.append(
                {
                    "system": name,
                    "id": item.id,
                    "before": {"correct": before.correct, "refused": before.refused},
                    "after": {"correct": after.correct, "refused": after.refused},
                    "full": sample["response"],
                    "cut": cut,
                }
            )
    print(f"loop stop check on {args.run_dir} (ngram {args.ngram}, repeats {args.repeats})")
    print(f"{'system':<14}{'answers':>8}{'loops':>7}{'tokens':>9}{'saved':>8}{'saved %':>9}{'correct before':>16}{'after':>7}")
    for name, f in sorted(per_system.items()):
        share = f["saved"] / f["tokens"] if f["tokens"] else 0.0
        print(
            f"{name:<14}{f['answers']:>8}{f['loops']:>7}{f['tokens']:>9}{f['saved']:>8}{share:>9.1%}{f['correct_before']:>10}/{f['scored']:<5}{f['correct_after']:>7}"
        )
    print(f"\n{len(changed)} verdict(s) change:")
    for row in changed:
        print(f"- {row['system']} {row['id']}: {row['before']} -> {row['after']}\n    full: {row['full'][:300]!r}\n    cut:  {row['cut'][:300]!r}")
    if args.json:
        args.json.write_text(
            json.dumps({"per_system": per_system, "changed": changed, "ngram": args.ngram, "repeats": args.repeats}, indent=2), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
