"""What retrieval adds to the shared MiniLM embedder (:class:`harness.models.minilm.MiniLMEmbedder`):
the embedding space's identity, chunk sizes in MiniLM word pieces, and chunk vectors kept in the
embedding store.

    python -m harness index build      # chunks measured with wordpiece_counter, embedded by encode_chunks
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Callable, Sequence

from harness.models.minilm import MODEL_DISTRIBUTION, MODEL_NAME, MiniLMEmbedder, model_dir
from retrieval_index.embedding_store import EmbeddingStore, text_key


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


def encode_chunks(
    embedder: MiniLMEmbedder, texts: Sequence[str], store: EmbeddingStore | None, progress: bool = False, desc: str = "embedding"
) -> tuple[Any, int]:
    """``embedder.encode_stored`` with the store keyed by MiniLM's weights hash and the text, so
    vectors of another model are never read. Returns (vectors, number read from the store)."""
    if store is None:
        return embedder.encode_stored(texts, None, progress=progress, desc=desc)
    weights = model_identity()["weights_sha256"]
    return embedder.encode_stored(texts, store, [text_key(weights, text) for text in texts], progress=progress, desc=desc)
