"""The chunk-embedding store: batches are committed as they are computed, reused by the next build,
and a damaged row is recomputed."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from harness.models.minilm import MiniLMEmbedder
from retrieval_index import embedder as embedder_module
from retrieval_index.embedder import encode_chunks
from retrieval_index.embedding_store import EmbeddingStore


class CountingModel:
    """Stands in for SentenceTransformer: a deterministic unit vector per text; counts texts seen."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.seen: list[str] = []
        self.fail_after = fail_after

    def encode(self, texts: list[str], **_: object) -> np.ndarray:
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise KeyboardInterrupt  # the build is interrupted here
        self.seen.extend(texts)
        rows = []
        for text in texts:
            v = np.random.default_rng(abs(hash(text)) % 2**32).normal(size=384).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)


@pytest.fixture
def fake_minilm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedder_module, "model_identity", lambda: {"weights_sha256": "f" * 64})


def make_embedder(model: CountingModel, batch_size: int = 4) -> MiniLMEmbedder:
    e = MiniLMEmbedder(device="cpu", batch_size=batch_size)
    e._model = model
    return e


TEXTS = [f"chunk number {i} " + "word " * (i % 7) for i in range(22)]


def test_vectors_round_trip_and_are_keyed_by_text(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path / "e.sqlite", dim=3)
    store.put_many([("a", np.array([1, 2, 3], dtype=np.float32)), ("b", np.array([0, 0, 1], dtype=np.float32))])
    got = store.get_many(["a", "b", "c"])
    assert sorted(got) == ["a", "b"] and len(store) == 2
    assert np.array_equal(got["a"], [1, 2, 3])


def test_a_row_of_the_wrong_size_is_dropped_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = EmbeddingStore(tmp_path / "e.sqlite", dim=3)
    store.put_many([("a", np.ones(3, dtype=np.float32))])
    with sqlite3.connect(tmp_path / "e.sqlite") as db:
        db.execute("INSERT INTO vectors VALUES ('b', ?)", (b"\x00" * 5,))
    with caplog.at_level(logging.WARNING):
        got = store.get_many(["a", "b"])
    assert sorted(got) == ["a"]
    assert "dropping 1 corrupt embedding rows" in caplog.text
    assert len(store) == 1


def test_an_interrupted_encode_keeps_its_batches_and_the_rerun_embeds_only_the_rest(tmp_path: Path, fake_minilm: None) -> None:
    store = EmbeddingStore(tmp_path / "e.sqlite", dim=384)
    interrupted = CountingModel(fail_after=12)  # three batches of 4, then the "kill"
    with pytest.raises(KeyboardInterrupt):
        encode_chunks(make_embedder(interrupted), TEXTS, store)
    assert len(store) == 12

    rerun = CountingModel()
    vectors, reused = encode_chunks(make_embedder(rerun), TEXTS, store)
    assert reused == 12
    assert len(rerun.seen) == len(TEXTS) - 12 and not set(rerun.seen) & set(interrupted.seen)

    straight, none_reused = encode_chunks(make_embedder(CountingModel()), TEXTS, None)
    assert none_reused == 0
    assert np.array_equal(vectors, straight)


def test_another_model_never_reads_these_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = EmbeddingStore(tmp_path / "e.sqlite", dim=384)
    monkeypatch.setattr(embedder_module, "model_identity", lambda: {"weights_sha256": "a" * 64})
    encode_chunks(make_embedder(CountingModel()), TEXTS[:5], store)
    monkeypatch.setattr(embedder_module, "model_identity", lambda: {"weights_sha256": "b" * 64})
    _, reused = encode_chunks(make_embedder(CountingModel()), TEXTS[:5], store)
    assert reused == 0
