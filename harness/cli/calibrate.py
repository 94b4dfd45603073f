"""``python -m harness calibrate``: fit the refusal detector and key-point matcher; measure every grader
against people.

python -m harness calibrate            # refit on the train splits, write calibration.json and agreement.json
python -m harness calibrate --check    # evaluate the committed calibration only (writes nothing)
python -m harness calibrate --check --record   # ... and record the held-out figures in data/agreement.json
python -m harness calibrate --check --split train   # the same on the rows graders may be tuned on

Two yardsticks are printed: the hand-written unit sets the learned graders are fitted on
(``data/refusal_labels.jsonl``, ``data/keypoint_labels.jsonl``), and the labelled real answers of
our own systems (``data/real_labels.jsonl``, :mod:`harness.scoring.agreement`): per grader
agreement, precision and recall on the held-out rows, with the targets of issue 13. A refit also
writes ``data/agreement.json``, whose headline the report header shows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit grader thresholds on the labelled sets; measure agreement with labelled real answers",
        description="Fit the refusal detector and key-point matcher on the train splits of "
        "harness/scoring/data/*_labels.jsonl, print accuracy on the held-out splits and every grader's "
        "agreement with the labelled real answers (data/real_labels.jsonl).",
    )
    p.add_argument("--check", action="store_true", help="do not refit; evaluate the committed calibration (writes nothing unless --record)")
    p.add_argument("--record", action="store_true", help="with --check: write the held-out agreement to harness/scoring/data/agreement.json")
    p.add_argument("--output", type=Path, default=None, help="where to write the calibration (default: harness/scoring/data/calibration.json)")
    p.add_argument("--labels", type=Path, default=None, help="labelled real answers (default: harness/scoring/data/real_labels.jsonl)")
    p.add_argument("--split", choices=("held_out", "train"), default="held_out", help="rows of the real answers to measure on (default: held_out)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=handle)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_real(report: dict[str, Any], path: Path) -> None:
    from harness.scoring.agreement import TARGETS

    print(f"\nlabelled real answers ({path.name}), {report['split']} rows: {report['n']}")
    print(f"{'grader field':<20}{'n':>5}{'labelled':>10}{'flagged':>9}{'agreement':>11}{'precision':>11}{'recall':>8}  target")
    targets = {
        "correct": f"agreement >= {TARGETS['correct_agreement']:.2f}",
        "refused": f"precision, recall >= {TARGETS['refusal_precision']:.2f}",
        "degenerate": f"agreement >= {TARGETS['degenerate_agreement']:.2f}",
    }
    rows = [(k, report[k]) for k in ("correct", "refused", "degenerate", "value_correct", "unit_correct", "unit_error", "keypoint_items")]
    rows += [(f"correct ({kind})", part) for kind, part in report["correct_by_type"].items()]
    for name, row in rows:
        print(
            f"{name:<20}{row['n']:>5}{row['positives']:>10}{row['flagged']:>9}{_fmt(row['agreement']):>11}{_fmt(row['precision']):>11}{_fmt(row['recall']):>8}"
            f"  {targets.get(name, '')}"
        )
    print(f"refusals flagged on loops or lists: {report['refused']['flagged_loops_or_lists']} (target 0)")
    if report["refused"]["positives"] == 0:
        print("no refusal is labelled in these rows: refusal recall cannot be measured here")
    rater = report["inter_rater"]
    if rater["n"]:
        parts = ", ".join(f"{k} {_fmt(v['agreement'])} (n={v['n']})" for k, v in rater.items() if k != "n" and v["n"])
        print(f"inter-rater agreement on {rater['n']} doubly labelled rows: {parts}")
    for name in ("correct", "refused", "degenerate"):
        if report[name]["errors"]:
            print(f"  {name} disagreements: {', '.join(report[name]['errors'][:40])}")


def handle(args: argparse.Namespace) -> int:
    from harness.benchmark import DEFAULT_BENCHMARK, load_config
    from harness.runlog import write_json_atomic
    from harness.scoring.agreement import REAL_LABELS, agreement, read_real_labels, write_agreement
    from harness.scoring.calibration import CALIBRATION_FILE, load_calibration
    from harness.scoring.embeddings import minilm
    from harness.scoring.fitting import calibrate, evaluate
    from harness.scoring.grade import GradeConfig

    embedder = minilm()
    if args.check:
        calibration = load_calibration()
        report = {"test": evaluate(calibration, embedder, "test")}
    else:
        calibration = calibrate(embedder)
        output = args.output or CALIBRATION_FILE
        write_json_atomic(output, calibration.to_dict())
        load_calibration.cache_clear()
        report = calibration.report
        print(f"calibration written to {output}")
    labels = args.labels or REAL_LABELS
    real = None
    if labels.exists():
        config = GradeConfig.from_benchmark(load_config(DEFAULT_BENCHMARK.parent / "benchmark.toml"), embedder=embedder, calibration=calibration)
        real = agreement(read_real_labels(labels), config, args.split)
        if (args.record or not args.check) and args.split == "held_out" and args.labels is None and args.output is None:
            write_agreement(real)
    if args.json:
        print(json.dumps({**report, "real": real}, indent=2))
        return 0
    test = report["test"]
    print(f"{'unit set grader':<28}{'held-out n':>11}{'accuracy':>10}{'precision':>11}{'recall':>8}")
    for key, label in (("refusal", "refusal detector"), ("keypoint_pairs", "key-point matcher (pairs)"), ("keypoint_items", "key-point items (>=0.6)")):
        row = test[key]
        print(f"{label:<28}{row['n']:>11}{row['accuracy']:>10.3f}{row['precision']:>11.3f}{row['recall']:>8.3f}")
    for key in ("refusal", "keypoint_pairs"):
        if test[key]["errors"]:
            print(f"  {key} held-out errors: {', '.join(test[key]['errors'])}")
    if "train" in report:
        print("train accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in report["train"].items()))
    if real is not None:
        print_real(real, labels)
    else:
        print(f"\n{labels}: not found; build it with: python scripts/merge_labels.py LABEL_DIR")
    return 0
