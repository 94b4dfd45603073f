"""Fit the refusal detector and the key-point matcher on their labelled sets; measure held-out accuracy.

    python -m harness calibrate              # refit, write data/calibration.json, print accuracy
    python -m harness calibrate --check      # only evaluate the committed calibration

Labelled sets (hand-written, committed):

* ``data/refusal_labels.jsonl``: ``{"id", "text", "refused": bool, "split": "train"|"test"}``.
* ``data/keypoint_labels.jsonl``: ``{"id", "question", "points": [...], "response",
  "covered": [bool per point], "split"}``; each (point, response) pair is one example.

Only ``train`` rows are used to fit; accuracy is reported on ``test`` rows. The refusal model also
fits on the ``train`` rows of the labelled real answers (``data/real_labels.jsonl``,
:mod:`harness.scoring.agreement`) when that file exists, so it sees long answers, lists and loops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.api.errors import DataError
from harness.scoring.calibration import KEYPOINT_LABELS, REFUSAL_LABELS, Calibration, LogisticModel, fit_logistic, read_labels
from harness.scoring.embeddings import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitReport:
    n: int
    accuracy: float
    precision: float
    recall: float
    errors: tuple[str, ...]  # ids (and text) of misclassified rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "errors": list(self.errors),
        }


def _report(ids: Sequence[str], truth: Sequence[bool], predicted: Sequence[bool]) -> SplitReport:
    tp = sum(t and p for t, p in zip(truth, predicted))
    fp = sum(p and not t for t, p in zip(truth, predicted))
    fn = sum(t and not p for t, p in zip(truth, predicted))
    correct = sum(t == p for t, p in zip(truth, predicted))
    n = len(truth)
    return SplitReport(
        n=n,
        accuracy=correct / n if n else float("nan"),
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        errors=tuple(i for i, t, p in zip(ids, truth, predicted) if t != p),
    )


def _check_rows(rows: list[dict[str, Any]], path: Path, keys: Sequence[str]) -> None:
    for number, row in enumerate(rows, start=1):
        missing = [k for k in keys if k not in row]
        if missing:
            raise DataError(f"{path}:{number}: {missing[0]}: missing; each row needs {', '.join(keys)}")
        if row["split"] not in ("train", "test"):
            raise DataError(f"{path}:{number}: split: expected 'train' or 'test', got {row['split']!r}")


def refusal_rows(path: Path = REFUSAL_LABELS) -> list[dict[str, Any]]:
    rows = read_labels(path)
    _check_rows(rows, path, ("id", "text", "refused", "split"))
    return rows


def real_refusal_rows() -> list[dict[str, Any]]:
    """The train rows of the labelled real answers as refusal examples (none when the set is
    absent): each row's text is the part the detector reads (:func:`harness.scoring.grade.refusal_text`)."""
    from harness.scoring.agreement import REAL_LABELS, read_real_labels
    from harness.scoring.grade import refusal_part

    if not REAL_LABELS.exists():
        return []
    return [
        {
            "id": r["uid"],
            "text": refusal_part(str(r["response"]), r["prompt_seen"], r.get("finish_reason"), r["question"]),
            "question": r["question"],
            "refused": bool(r["labels"]["refused"]),
            "split": "train",
        }
        for r in read_real_labels(REAL_LABELS)
        if r["split"] == "train"
    ]


def keypoint_pairs(path: Path = KEYPOINT_LABELS) -> list[dict[str, Any]]:
    """One dict per (point, response) pair: id, point, points, response, covered, split."""
    rows = read_labels(path)
    _check_rows(rows, path, ("id", "points", "response", "covered", "split"))
    pairs = []
    for number, row in enumerate(rows, start=1):
        if len(row["points"]) != len(row["covered"]):
            raise DataError(f"{path}:{number}: covered: {len(row['covered'])} labels for {len(row['points'])} points; give one bool per point")
        for index, (point, covered) in enumerate(zip(row["points"], row["covered"])):
            pairs.append(
                {
                    "id": f"{row['id']}/{index}",
                    "row": row["id"],
                    "point": point,
                    "points": row["points"],
                    "response": row["response"],
                    "covered": bool(covered),
                    "split": row["split"],
                }
            )
    return pairs


def fit_refusal(rows: list[dict[str, Any]], embedder: Embedder) -> tuple[LogisticModel, tuple[Any, Any]]:
    import numpy as np

    from harness.scoring.refusal import FEATURES, opening, pattern_features

    # the detector only weighs texts that hold a decline phrase (refusal.refusal_probability), so it is fitted on those
    train = [r for r in rows if r["split"] == "train" and pattern_features(r["text"], r.get("question", ""))["decline_anywhere"]]
    vectors = embedder.encode([opening(r["text"]) or " " for r in train]).astype(np.float64)
    labels = np.array([bool(r["refused"]) for r in train])
    sums = {True: vectors[labels].sum(axis=0), False: vectors[~labels].sum(axis=0)}
    counts = {True: int(labels.sum()), False: int((~labels).sum())}
    feats = []
    for vector, row, label in zip(vectors, train, labels):
        # leave-one-out centroids, so a row's own vector does not inflate its margin
        centroid = {k: (sums[k] - (vector if k == label else 0)) / max(counts[k] - (1 if k == label else 0), 1) for k in (True, False)}
        margin = 5.0 * (vector @ centroid[True] / np.linalg.norm(centroid[True]) - vector @ centroid[False] / np.linalg.norm(centroid[False]))
        feats.append({**pattern_features(row["text"], row.get("question", "")), "embedding_margin": float(margin)})
    model = fit_logistic(FEATURES, feats, [bool(r["refused"]) for r in train])
    centroids = (sums[True] / counts[True], sums[False] / counts[False])
    return model, (tuple(float(x) for x in centroids[0]), tuple(float(x) for x in centroids[1]))


def fit_keypoints(pairs: list[dict[str, Any]], embedder: Embedder) -> LogisticModel:
    from harness.scoring.keypoints import FEATURES

    train = [p for p in pairs if p["split"] == "train"]
    return fit_logistic(FEATURES, _pair_features(train, embedder), [p["covered"] for p in train])


def _pair_features(pairs: list[dict[str, Any]], embedder: Embedder) -> list[dict[str, float]]:
    from harness.scoring.keypoints import point_features

    cache: dict[tuple[str, tuple[str, ...]], list[dict[str, float]]] = {}
    out = []
    for pair in pairs:
        key = (pair["response"], tuple(pair["points"]))
        if key not in cache:
            cache[key] = point_features(pair["points"], pair["response"], embedder)
        out.append(cache[key][pair["points"].index(pair["point"])])
    return out


def evaluate(calibration: Calibration, embedder: Embedder, split: str = "test") -> dict[str, Any]:
    """Accuracy of both graders on one split of their labelled sets."""
    from harness.scoring.refusal import is_refusal

    rows = [r for r in refusal_rows() if r["split"] == split]
    predicted = [is_refusal(r["text"], embedder, calibration)[0] for r in rows]
    refusal = _report([r["id"] for r in rows], [bool(r["refused"]) for r in rows], predicted)
    pairs = [p for p in keypoint_pairs() if p["split"] == split]
    model = calibration.keypoints
    covered = [model.probability(f) >= model.threshold for f in _pair_features(pairs, embedder)]
    keypoints = _report([p["id"] for p in pairs], [p["covered"] for p in pairs], covered)
    # item level: does coverage >= 0.6 agree with the labelled coverage >= 0.6?
    by_row: dict[str, tuple[list[bool], list[bool]]] = {}
    for pair, guess in zip(pairs, covered):
        truth_list, guess_list = by_row.setdefault(pair["row"], ([], []))
        truth_list.append(pair["covered"])
        guess_list.append(guess)
    item_truth = [sum(t) / len(t) >= 0.6 for t, _ in by_row.values()]
    item_guess = [sum(g) / len(g) >= 0.6 for _, g in by_row.values()]
    items = _report(list(by_row), item_truth, item_guess)
    return {"split": split, "refusal": refusal.to_dict(), "keypoint_pairs": keypoints.to_dict(), "keypoint_items": items.to_dict()}


def calibrate(embedder: Embedder) -> Calibration:
    """Fit both graders on the train splits and attach the held-out report."""
    refusal_model, centroids = fit_refusal(refusal_rows() + real_refusal_rows(), embedder)
    keypoint_model = fit_keypoints(keypoint_pairs(), embedder)
    calibration = Calibration(refusal=refusal_model, refusal_centroids=centroids, keypoints=keypoint_model, embedder=embedder.name)
    train = evaluate(calibration, embedder, "train")
    test = evaluate(calibration, embedder, "test")
    report = {
        "refusal_labels": {"train": train["refusal"]["n"], "test": test["refusal"]["n"]},
        "keypoint_pairs": {"train": train["keypoint_pairs"]["n"], "test": test["keypoint_pairs"]["n"]},
        "train": {k: train[k]["accuracy"] for k in ("refusal", "keypoint_pairs", "keypoint_items")},
        "test": test,
    }
    return Calibration(refusal=refusal_model, refusal_centroids=centroids, keypoints=keypoint_model, embedder=embedder.name, report=report)
