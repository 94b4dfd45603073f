"""Sentence embeddings for the paraphrase-aware graders (key points, refusal).

    python -m harness calibrate          # uses these embeddings to fit the grader thresholds

The model is the packaged ``all-MiniLM-L6-v2``: :class:`harness.models.minilm.MiniLMEmbedder`, the
class retrieval uses too, with its per-text memo on, loaded once per process. Vectors are L2-normalised, so a dot product is
the cosine similarity. Graders take any object with the :class:`Embedder` shape, so unit tests can
pass a small deterministic stand-in instead of the real model.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol, Sequence

if TYPE_CHECKING:
    from harness.models.minilm import MiniLMEmbedder


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Any:
        """Return a float32 array of shape (len(texts), dim), each row L2-normalised."""
        ...


@functools.lru_cache(maxsize=1)
def minilm() -> MiniLMEmbedder:
    """The process-wide grader embedder: MiniLM on the CPU with its per-text memo (the first
    encode loads the model, ~1 s)."""
    from harness.models.minilm import MiniLMEmbedder

    return MiniLMEmbedder(device="cpu", memo=True)
