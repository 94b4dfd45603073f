"""Test stand-ins for the graders' embedding model (unit tests must not load MiniLM)."""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

DIM = 384  # same width as MiniLM, so the packaged refusal centroids fit


class HashEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words are similar, others are not."""

    name = "hash-bow-test"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", str(text).lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out


def pattern_only_calibration():
    """The packaged calibration with zero refusal centroids: the embedding feature is 0, so the
    refusal decision rests on the phrase features alone (a fake embedder's vectors mean nothing)."""
    from dataclasses import replace

    from harness.scoring.calibration import load_calibration

    calibration = load_calibration()
    zeros = tuple(0.0 for _ in calibration.refusal_centroids[0])
    return replace(calibration, refusal_centroids=(zeros, zeros))
