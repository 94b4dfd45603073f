"""Peer check on the real packaged SmolLM2 (and the Gemma-3 teacher base): the harness's
log-probs equal an independent reference -- lm-evaluation-harness's split written out here and one
plain transformers forward over the concatenated ids -- within 1e-3 nats. lm-evaluation-harness's
``hf`` backend computes exactly this reference (docs/likelihood.md says how to run it as well)."""

from __future__ import annotations

import pytest
import torch

from harness.api.likelihood import joined
from harness.models.likelihood import LikelihoodScorer, LikelihoodSettings
from harness.models.loading import load_causal_lm
from harness.models.sources import resolve

pytestmark = pytest.mark.integration

TOLERANCE = 1e-3  # nats per (context, continuation) pair, the bar
PER_TOKEN = 5e-5  # nats per token for whole documents: fp32 rounding adds up over hundreds of tokens (measured 1.6e-5)
QUESTION = "A memory module is rated DDR5-5600. What peak data bandwidth does one 32-bit subchannel deliver, in GB/s?"


def reference(model, tokenizer, context: str, continuation: str) -> tuple[float, int]:
    """lm-eval's ``_encode_pair`` + ``_loglikelihood_tokens`` for one pair, without batching."""
    n = len(context) - len(context.rstrip())
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    special = not (tokenizer.bos_token and context.startswith(tokenizer.bos_token))  # BOS as the tokenizer adds it (lm-eval: add_bos_token)
    whole = tokenizer(context + continuation, add_special_tokens=special)["input_ids"]
    ctx = tokenizer(context, add_special_tokens=special)["input_ids"]
    cont = whole[len(ctx) :]
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([ctx + cont])).logits[0].double().log_softmax(dim=-1)
    return sum(float(logp[len(ctx) - 1 + k, t]) for k, t in enumerate(cont)), len(cont)


def pairs_for(tokenizer) -> list[tuple[str, str]]:
    chat = (
        tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}], tokenize=False, add_generation_prompt=True) if tokenizer.chat_template else None
    )
    plain = f"Question: {QUESTION}\nAnswer:"
    out = [
        joined(plain, "Final answer:", "22.4 GB/s"),
        joined(plain, "Final answer:", "179.2 GB/s"),
        joined(plain, "", "The subchannel moves 4 bytes per transfer."),
    ]
    if chat:
        out += [joined(chat, "Final answer:", "22.4 GB/s"), joined(chat, "", "Each subchannel is 32 bits wide.")]
    return out


@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma3-270m"])
def test_harness_log_probs_equal_the_plain_forward_reference(name: str) -> None:
    model, tokenizer = load_causal_lm(resolve(name), dtype="float32", device="cpu")
    pairs = pairs_for(tokenizer)
    scores = LikelihoodScorer(model, tokenizer).score_pairs(pairs)
    for (context, continuation), score in zip(pairs, scores):
        expected, count = reference(model, tokenizer, context, continuation)
        assert score.tokens == count
        assert abs(score.logprob - expected) < TOLERANCE, (name, context[-40:], continuation, score.logprob, expected)


def test_rolling_windows_on_smollm2_equal_the_reference() -> None:
    model, tokenizer = load_causal_lm(resolve("smollm2-135m-instruct"), dtype="float32", device="cpu")
    text = " ".join([QUESTION] * 6)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    scorer = LikelihoodScorer(model, tokenizer, LikelihoodSettings(window_tokens=64))
    [score] = scorer.score_texts([text])
    total, start = 0.0, 0
    while start < len(ids):
        targets = ids[start : start + 64]
        inputs = ([tokenizer.bos_token_id] if start == 0 else ids[start - 1 : start]) + targets[:-1]
        with torch.no_grad():
            logp = model(input_ids=torch.tensor([inputs])).logits[0].double().log_softmax(dim=-1)
        total += sum(float(logp[k, t]) for k, t in enumerate(targets))
        start += len(targets)
    assert score.tokens == len(ids) and abs(score.logprob - total) / len(ids) < PER_TOKEN
