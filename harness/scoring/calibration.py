"""Calibrated parameters of the learned graders (refusal detector, key-point matcher).

    python -m harness calibrate            # refit on the labelled sets, print held-out accuracy

Both graders are a small logistic model over a handful of named features. The fitted weights,
the refusal centroids and the held-out accuracy live in ``harness/scoring/data/calibration.json``
(committed; regenerate with the command above after editing a labelled set).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.api.errors import ArtifactError

DATA_DIR = Path(__file__).resolve().parent / "data"
CALIBRATION_FILE = DATA_DIR / "calibration.json"
REFUSAL_LABELS = DATA_DIR / "refusal_labels.jsonl"
KEYPOINT_LABELS = DATA_DIR / "keypoint_labels.jsonl"
CALIBRATION_SCHEMA = 1


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]  # feature names, in weight order
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # probability at or above which the label is positive

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.bias + sum(w * float(values.get(name, 0.0)) for name, w in zip(self.features, self.weights))
        z = max(-60.0, min(60.0, z))
        return 1.0 / (1.0 + math.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "weights": [round(w, 6) for w in self.weights], "bias": round(self.bias, 6), "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticModel:
        return cls(
            features=tuple(data["features"]),
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data.get("threshold", 0.5)),
        )


@dataclass(frozen=True)
class Calibration:
    refusal: LogisticModel
    refusal_centroids: tuple[tuple[float, ...], tuple[float, ...]]  # (refusal, answer) opening centroids
    keypoints: LogisticModel
    embedder: str  # embedding model the parameters were fitted with
    report: dict[str, Any] = field(default_factory=dict)  # held-out accuracy etc., for the README

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CALIBRATION_SCHEMA,
            "embedder": self.embedder,
            "report": self.report,
            "refusal": self.refusal.to_dict(),
            "keypoints": self.keypoints.to_dict(),
            "refusal_centroids": {"refusal": [round(x, 6) for x in self.refusal_centroids[0]], "answer": [round(x, 6) for x in self.refusal_centroids[1]]},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        centroids = data["refusal_centroids"]
        return cls(
            refusal=LogisticModel.from_dict(data["refusal"]),
            refusal_centroids=(tuple(centroids["refusal"]), tuple(centroids["answer"])),
            keypoints=LogisticModel.from_dict(data["keypoints"]),
            embedder=str(data["embedder"]),
            report=dict(data.get("report", {})),
        )


@functools.lru_cache(maxsize=4)
def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("schema") != CALIBRATION_SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {CALIBRATION_SCHEMA}")
        return Calibration.from_dict(data)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: grader calibration is missing; run: python -m harness calibrate") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: unreadable grader calibration ({exc}); run: python -m harness calibrate") from None


def fit_logistic(features: Sequence[str], rows: Sequence[Mapping[str, float]], labels: Sequence[bool], l2: float = 0.001) -> LogisticModel:
    """Maximum-likelihood logistic regression with an L2 penalty ``l2`` on the weights (not the
    bias); features are used as given (they are already on comparable 0..~5 scales)."""
    import numpy as np
    from scipy.optimize import minimize

    x = np.array([[float(r.get(f, 0.0)) for f in features] for r in rows], dtype=np.float64)
    y = np.array([1.0 if v else 0.0 for v in labels])

    def loss(params: Any) -> tuple[float, Any]:
        w, b = params[:-1], params[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        eps = 1e-12
        nll = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + l2 * float(w @ w) / 2
        grad_z = (p - y) / len(y)
        return nll, np.concatenate([x.T @ grad_z + l2 * w, [grad_z.sum()]])

    result = minimize(loss, np.zeros(len(features) + 1), jac=True, method="L-BFGS-B")
    params = result.x
    return LogisticModel(features=tuple(features), weights=tuple(float(v) for v in params[:-1]), bias=float(params[-1]))


def read_labels(path: Path) -> list[dict[str, Any]]:
    from harness.runlog import iter_jsonl

    return list(iter_jsonl(path, tolerate_truncated_tail=False))
