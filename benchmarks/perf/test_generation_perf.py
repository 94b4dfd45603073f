"""Generation performance: our continuous-batching path vs plain ``model.generate``.

    .venv/bin/python -m pytest benchmarks/perf/test_generation_perf.py -s --benchmark-json /tmp/generation-perf.json
    GENERATION_PERF_ITEMS=24 GENERATION_PERF_TOKENS=96 .venv/bin/python -m pytest benchmarks/perf/test_generation_perf.py -s -k smollm2

Not part of the default test run (``testpaths = tests``); nothing here asserts a speed, only that
both sides produce the same greedy text. Each test prints one ``PERF`` line with the ratio of
the two wall times measured back to back in this process, and stores the figures in the
benchmark JSON's ``extra_info``. ``python -m harness bench`` prints the same comparisons as a table.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from harness.api import GenerationRequest  # noqa: E402
from harness.models.generation import BatchGenerator, GenerationSettings  # noqa: E402
from harness.perf.generation import compare_generation, plain_generate  # noqa: E402

ITEMS = int(os.environ.get("GENERATION_PERF_ITEMS", "16"))  # SmolLM2 test: benchmark items
TOKENS = int(os.environ.get("GENERATION_PERF_TOKENS", "64"))  # SmolLM2 test: max new tokens


def report(benchmark: Any, name: str, **figures: Any) -> None:
    benchmark.extra_info.update(figures)
    print(f"\nPERF {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_tiny_random_llama_continuous_vs_generate(benchmark: Any) -> None:
    """Synthetic: a 4-layer random Llama, 32 prompts of 8-40 tokens, budgets of 8-40 tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<s>", "</s>", "<unk>"] + [f"w{i}" for i in range(500)]
    core = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.padding_side = "left"
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(words),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = LlamaForCausalLM(config).eval()
    requests = [GenerationRequest(id=f"r{i}", prompt=" ".join(f"w{(i * 13 + j) % 500}" for j in range(8 + (i * 7) % 33)), max_new_tokens=32) for i in range(32)]
    started = time.perf_counter()
    plain, _ = plain_generate(model, tok, requests, 1)
    plain_s = time.perf_counter() - started
    generator = BatchGenerator(model, tok, GenerationSettings())
    results = benchmark.pedantic(lambda: generator.generate(requests), rounds=1, iterations=1)
    ours_s = benchmark.stats.stats.mean
    assert [r.text for r in results] == plain
    report(
        benchmark,
        "tiny llama: ours vs plain generate batch 1",
        prompts=len(requests),
        plain_s=round(plain_s, 3),
        ours_s=round(ours_s, 3),
        speedup=round(plain_s / ours_s, 2),
    )


def test_smollm2_runner_vs_plain_generate(benchmark: Any) -> None:
    """Real: SmolLM2-135M-Instruct on the first benchmark items, fp32 and bf16."""
    try:
        from harness.models.sources import resolve

        resolve("smollm2-135m-instruct")
    except Exception as exc:  # no packaged weights on this machine
        pytest.skip(f"SmolLM2 unavailable: {exc}")
    report_ = benchmark.pedantic(lambda: compare_generation(items=ITEMS, max_new_tokens=TOKENS, plain_batch=0, grade=False), rounds=1, iterations=1)
    assert report_.agreement("ours", "plain-b1") is not None
    report(
        benchmark,
        "smollm2: ours vs plain generate",
        items=report_.items,
        max_new_tokens=TOKENS,
        speedup_vs_b1=round(report_.ratio("plain-b1", "ours") or 0, 2),
        agreement_vs_b1=round(report_.agreement("ours", "plain-b1") or 0, 4),
        bf16_speedup=round(report_.ratio("ours", "ours-bf16") or 0, 2),
        bf16_agreement=round(report_.agreement("ours-bf16", "ours") or 0, 4),
        autocast_speedup=round(report_.ratio("ours", "ours-autocast") or 0, 2),
        load_avg=max(p.load_avg for p in report_.passes.values()),
    )
