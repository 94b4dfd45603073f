"""Sentence embeddings for the paraphrase-aware graders (key points, refusal).

    python -m harness calibrate          # uses these embeddings to fit the grader thresholds

The model is the packaged ``all-MiniLM-L6-v2`` (:mod:`harness.models.minilm`, the same loader
retrieval uses), loaded once per process. Vectors are L2-normalised, so a dot product is
the cosine similarity. Graders take any object with the :class:`Embedder` shape, so unit tests can
pass a small deterministic stand-in instead of the real model.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol, Sequence

MODEL_NAME = "all-MiniLM-L6-v2"
_CACHE_LIMIT = 50_000  # texts kept per embedder; a full run grades a few thousand responses


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Any:
        """Return a float32 array of shape (len(texts), dim), each row L2-normalised."""
        ...


class MiniLMEmbedder:
    """sentence-transformers wrapper with a per-text cache (graders embed the same points often)."""

    name = MODEL_NAME

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        from harness.models.minilm import load_sentence_transformer

        self._model = load_sentence_transformer(device)
        self._batch_size = batch_size  # sentences per forward pass
        self._cache: dict[str, Any] = {}

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self._model.encode(missing, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            if len(self._cache) + len(missing) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache.update(zip(missing, vectors.astype(np.float32)))
        if not texts:
            return np.zeros((0, self._model.get_embedding_dimension() or 384), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


@functools.lru_cache(maxsize=1)
def minilm() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (first call loads the model, ~1 s on CPU)."""
    return MiniLMEmbedder()
