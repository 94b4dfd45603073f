"""``python -m harness calibrate``: fit the refusal detector and key-point matcher, print held-out accuracy.

python -m harness calibrate            # refit on the train splits, write calibration.json
python -m harness calibrate --check    # evaluate the committed calibration only
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit grader thresholds on the labelled sets",
        description="Fit the refusal detector and key-point matcher on the train splits of "
        "harness/scoring/data/*_labels.jsonl and print accuracy on the held-out splits.",
    )
    p.add_argument("--check", action="store_true", help="do not refit; evaluate the committed calibration")
    p.add_argument("--output", type=Path, default=None, help="where to write the calibration (default: harness/scoring/data/calibration.json)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.runlog import write_json_atomic
    from harness.scoring.calibration import CALIBRATION_FILE, load_calibration
    from harness.scoring.embeddings import minilm
    from harness.scoring.fitting import calibrate, evaluate

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
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    test = report["test"]
    print(f"{'grader':<28}{'held-out n':>11}{'accuracy':>10}{'precision':>11}{'recall':>8}")
    for key, label in (("refusal", "refusal detector"), ("keypoint_pairs", "key-point matcher (pairs)"), ("keypoint_items", "key-point items (>=0.6)")):
        row = test[key]
        print(f"{label:<28}{row['n']:>11}{row['accuracy']:>10.3f}{row['precision']:>11.3f}{row['recall']:>8.3f}")
    for key in ("refusal", "keypoint_pairs"):
        if test[key]["errors"]:
            print(f"  {key} held-out errors: {', '.join(test[key]['errors'])}")
    if "train" in report:
        print("train accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in report["train"].items()))
    return 0
