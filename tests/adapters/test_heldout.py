"""Held-out text as prediction windows: every token predicted once, with or without BOS, and bits
per byte checked against a model whose answer is known (uniform next-token distribution)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from adapters.heldout import bits_per_byte, load_heldout
from harness.api.errors import DataError
from tests.adapters.conftest import byte_bpe_tokenizer, metaspace_tokenizer, write_corpus


class Uniform(torch.nn.Module):
    """Logits of zeros: every next token has probability 1 / V."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids: Any) -> Any:
        return type("Out", (), {"logits": torch.zeros((*input_ids.shape, self.vocab)) + self.anchor * 0})()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = write_corpus(tmp_path / "heldout", repeat=2)
    (root / "extra.txt").write_text("Slack is the required time minus the arrival time.\n", encoding="utf-8")
    (root / "README.md").write_text("not a document\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("make", [byte_bpe_tokenizer, metaspace_tokenizer])
def test_every_token_is_predicted_once(folder: Path, make: Any) -> None:
    from adapters.data import bos_id, tokenize_documents
    from adapters.heldout import heldout_texts

    tokenizer = make()
    heldout = load_heldout(folder, tokenizer, seq_len=16)
    texts = heldout_texts(folder)
    ids = tokenize_documents(texts, tokenizer).ids
    assert heldout.documents == 4 and heldout.tokens == len(ids)
    assert heldout.bytes == sum(len(t.encode()) for t in texts)
    predicted = heldout.labels[heldout.labels != -100].tolist()
    assert predicted == ids  # in order, each once
    # position i predicts the token at i + 1
    rows, cols = torch.nonzero(heldout.labels[:, :-1] != -100, as_tuple=True)
    assert torch.equal(heldout.labels[rows, cols], heldout.input_ids[rows, cols + 1])
    bos = bos_id(tokenizer)
    if bos is not None:
        assert set(heldout.input_ids[:, 0].tolist()) == {bos}
    else:
        assert heldout.input_ids[1, 0] == heldout.input_ids[0, -1]  # the window's context is the token before it


def test_bits_per_byte_of_a_uniform_model(folder: Path) -> None:
    tokenizer = byte_bpe_tokenizer()
    heldout = load_heldout(folder, tokenizer, seq_len=16)
    vocab = len(tokenizer)
    expected = heldout.tokens * math.log2(vocab) / heldout.bytes
    assert bits_per_byte(Uniform(vocab), heldout, batch_size=3) == pytest.approx(expected, rel=1e-6)


def test_an_empty_folder_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no held-out text"):
        load_heldout(tmp_path / "empty", byte_bpe_tokenizer(), seq_len=16)
