"""MiniLMEmbedder's two batchings, on a stand-in model (the real one runs in the integration tests):
each is the one its vectors were made with, so merging the two embedder classes changed no vector."""

from __future__ import annotations

import numpy as np
import pytest

from harness.api.errors import ConfigError
from harness.models.minilm import DIM, MiniLMEmbedder


class RecordingModel:
    """Stands in for SentenceTransformer: one distinct unit vector per text; records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int]] = []

    def encode(self, texts: list[str], batch_size: int, **_: object) -> np.ndarray:
        self.calls.append((list(texts), batch_size))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, len(text) % DIM] = 1.0
        return out


def embedder(batch_size: int, memo: bool = False) -> tuple[MiniLMEmbedder, RecordingModel]:
    model = RecordingModel()
    e = MiniLMEmbedder(device="cpu", batch_size=batch_size, memo=memo)
    e._model = model
    return e, model


TEXTS = ["ccc", "a", "bbbbb", "dd", "eeee"]


def test_without_memo_texts_go_in_length_order_one_batch_per_forward() -> None:
    e, model = embedder(batch_size=2)
    vectors = e.encode(TEXTS)
    assert model.calls == [(["a", "dd"], 2), (["ccc", "eeee"], 2), (["bbbbb"], 1)]
    assert [int(np.argmax(v)) for v in vectors] == [len(t) for t in TEXTS]  # input order kept


def test_with_memo_the_new_texts_go_in_one_call_and_repeats_are_not_encoded_again() -> None:
    e, model = embedder(batch_size=64, memo=True)
    first = e.encode(TEXTS[:3])
    again = e.encode(["dd", "a", "dd", "ccc"])
    assert model.calls == [(["ccc", "a", "bbbbb"], 64), (["dd"], 64)]
    assert np.array_equal(again[1], first[1]) and np.array_equal(again[3], first[0])
    assert e.encode([]).shape == (0, DIM)


def test_stored_vectors_are_read_and_new_batches_committed() -> None:
    class Store(dict):
        def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
            return {k: self[k] for k in keys if k in self}

        def put_many(self, entries: object) -> None:
            self.update(entries)  # type: ignore[arg-type]

    store = Store(k1=np.full(DIM, 0.5, dtype=np.float32))
    e, model = embedder(batch_size=8)
    vectors, reused = e.encode_stored(["a", "bb"], store, ["k1", "k2"])
    assert reused == 1 and model.calls == [(["bb"], 1)]
    assert vectors[0][0] == 0.5 and sorted(store) == ["k1", "k2"]
    with pytest.raises(ValueError, match="one key per text"):
        e.encode_stored(["a"], store, [])


def test_batch_size_is_checked() -> None:
    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        MiniLMEmbedder(batch_size=0)
