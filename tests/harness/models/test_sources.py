from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.api.errors import ModelSourceError
from harness.models.sources import resolve


def test_hub_id_is_accepted_and_fails_offline_with_a_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelSourceError) as err:
        resolve("meta-llama/Llama-2-7b-chat-hf")
    message = str(err.value)
    assert "'meta-llama/Llama-2-7b-chat-hf' is not in the local Hugging Face cache" in message
    assert "HF_HUB_OFFLINE=1" in message and "huggingface-cli download meta-llama/Llama-2-7b-chat-hf" in message


def test_unknown_name_and_bad_local_dir(tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match="unknown model 'smollm'"):
        resolve("smollm")
    with pytest.raises(ModelSourceError, match="no config.json"):
        resolve(str(tmp_path))


def test_local_folder_is_a_model_source(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)).save_pretrained(tmp_path)
    resolved = resolve(str(tmp_path))
    assert resolved.path == tmp_path and resolved.template == "plain"
    assert resolved.weights_sha256 == resolve(str(tmp_path)).weights_sha256


@pytest.mark.integration
def test_packaged_smollm2_converts_once_and_loads_warm() -> None:
    from harness.models.loading import load_causal_lm

    resolved = resolve("smollm2-135m-instruct")
    assert (resolved.path / "model.safetensors").exists() and resolved.template == "chat"
    assert len(resolved.weights_sha256) == 64
    started = time.perf_counter()
    model, tokenizer = load_causal_lm(resolved, device="cpu")
    load_s = time.perf_counter() - started
    assert model.config.num_hidden_layers == 30
    assert tokenizer.padding_side == "left" and tokenizer.chat_template
    print(f"warm load {load_s:.2f} s")  # recorded by the benchmark suite; not asserted here
