"""Refusal detection per elicited batch, and whether an ungated embedding classifier generalises.

    python scripts/refusal_batches.py

For each batch of elicited answers in ``harness/scoring/data/real_labels.jsonl`` (runs
``elicit-refusals*``) it prints the committed detector's precision and recall on all the batch's
rows, and those of a logistic regression on the MiniLM embedding of the text the detector reads
(the opening of :func:`harness.scoring.grade.refusal_part`, replies to invented questions set
aside), fitted on the other batches only (leave one batch out). Needs scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.scoring.calibration import load_calibration
from harness.scoring.degenerate import prompt_text
from harness.scoring.embeddings import minilm
from harness.scoring.grade import refusal_part
from harness.scoring.questions import drop_other_questions
from harness.scoring.refusal import is_refusal, opening

LABELS = Path(__file__).resolve().parents[1] / "harness" / "scoring" / "data" / "real_labels.jsonl"


def _scores(predicted: np.ndarray, truth: np.ndarray) -> str:
    hits, flagged, positives = int((predicted & truth).sum()), int(predicted.sum()), int(truth.sum())
    precision = f"{hits / flagged:.2f}" if flagged else "-"
    recall = f"{hits / positives:.2f}" if positives else "- (no refusal labelled)"
    return f"precision {precision} recall {recall} ({hits} of {positives}, {flagged} flagged)"


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if str(r.get("run", "")).startswith("elicit-refusals")]
    embedder, calibration = minilm(), load_calibration()
    openings, truth, batches, current = [], [], [], []
    for row in rows:
        part = refusal_part(str(row["response"]), row["prompt_seen"], row.get("finish_reason"), row["question"])
        openings.append(opening(drop_other_questions(part, row["question"])) or " ")
        truth.append(bool(row["labels"]["refused"]))
        batches.append(row["run"])
        current.append(is_refusal(part, embedder, calibration, row["question"], prompt_text(row["prompt_seen"]))[0])
    vectors, y, batch, detector = embedder.encode(openings), np.array(truth), np.array(batches), np.array(current)
    for name in sorted(set(batches)):
        test = batch == name
        model = LogisticRegression(class_weight="balanced", max_iter=2000).fit(vectors[~test], y[~test])
        print(f"{name}: detector {_scores(detector[test], y[test])}; embedding classifier {_scores(model.predict(vectors[test]), y[test])}")


if __name__ == "__main__":
    main()
