"""The teacher cache: top-k at T=1 plus the tail mass at each cached temperature, saved and read
back, keyed so that an old-format file or another temperature set is never misread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from adapters.data import TokenStream, pack
from adapters.teacher_cache import CACHE_VERSION, build_cache, cache_key, cache_temperatures, load_cache, save_cache
from harness.api.errors import ArtifactError


class TableTeacher(torch.nn.Module):
    """Next-token logits looked up from the current token: a 'model' whose distributions are known."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.table = torch.nn.Embedding(vocab, vocab)
        with torch.no_grad():
            self.table.weight.mul_(3.0)

    def forward(self, input_ids: Any, attention_mask: Any = None, logits_to_keep: Any = None) -> Any:
        logits = self.table(input_ids)
        return type("Out", (), {"logits": logits[logits_to_keep] if logits_to_keep is not None else logits})()


def blocks(vocab: int, n_tokens: int = 64, seq_len: int = 16) -> Any:
    ids = torch.randint(0, vocab, (n_tokens,), generator=torch.Generator().manual_seed(1)).tolist()
    starts = list(range(n_tokens))
    return pack(TokenStream(ids=ids, starts=starts, ends=[s + 1 for s in starts], text="x" * n_tokens, documents=1), seq_len)


def test_cache_holds_the_tail_mass_at_each_temperature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    vocab, k = 20, 4
    teacher = TableTeacher(vocab)
    packed = blocks(vocab)
    temperatures = cache_temperatures(3.0)
    assert temperatures == (1.0, 2.0, 3.0, 5.0)
    key = cache_key({"model": "table"}, "corpus", packed.layout_hash(), k, "same-vocab", temperatures)
    cache = build_cache(teacher, packed, None, k, 2, key, temperatures)
    save_cache(cache)
    loaded = load_cache(key)
    assert loaded is not None and loaded.temperatures == temperatures
    with torch.no_grad():
        logits = teacher.table(packed.input_ids[:, :-1])
    top = torch.topk(torch.softmax(logits, -1), k, dim=-1)
    assert torch.allclose(loaded.probs[:, :-1].float(), top.values, atol=1e-3)  # fp16
    assert torch.equal(loaded.ids[:, :-1].long(), top.indices)
    for temperature in temperatures:
        expected = 1.0 - torch.softmax(logits / temperature, -1).gather(-1, top.indices).sum(-1)
        assert torch.allclose(loaded.rest_at(temperature)[:, :-1], expected, atol=1e-6)
        assert loaded.rest_at(temperature)[:, :-1].min() > 0
    assert torch.equal(loaded.rest_at(1.0)[:, -1], torch.zeros(packed.n_blocks))  # last position predicts nothing
    with pytest.raises(ArtifactError, match=r"tail mass for T in \[1.0, 2.0, 3.0, 5.0\], not T=4"):
        loaded.rest_at(4.0)


def test_cache_key_covers_version_and_temperatures() -> None:
    base = ({"model": "t"}, "corpus", "layout", 32, "cross-vocab")
    assert cache_key(*base, cache_temperatures(2.0)) == cache_key(*base, cache_temperatures(5.0))  # the sweep shares one file
    assert cache_key(*base, cache_temperatures(2.0)) != cache_key(*base, cache_temperatures(3.0))
    assert CACHE_VERSION >= 2  # files from before the tail mass was kept hash to other names


def test_a_cache_without_the_tail_mass_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import save_file

    from adapters.teacher_cache import cache_file

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    key = cache_key({"model": "t"}, "c", "l", 4, "cross-vocab", cache_temperatures(2.0))
    file = cache_file(key)
    file.parent.mkdir(parents=True)
    tensors = {"probs": torch.zeros(1, 4, 4, dtype=torch.float16), "ids": torch.zeros(1, 4, 4, dtype=torch.int32), "mask": torch.zeros(1, 4, dtype=torch.uint8)}
    save_file(tensors, str(file), metadata={"key": key, "kd_path": "cross-vocab", "version": "1"})
    with pytest.raises(ArtifactError, match="does not match .*delete the file and rerun"):
        load_cache(key)
