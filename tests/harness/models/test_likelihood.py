"""LikelihoodScorer on a tiny random Llama built in the test, against an independent reference:
a plain forward over the concatenated ids (no harness code), lm-evaluation-harness's split."""

from __future__ import annotations

import math

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from harness.models.likelihood import LikelihoodScorer, LikelihoodSettings
from tests.conftest import tiny_llama

WORDS = ["<pad>", "<s>", "</s>", "<unk>"] + [f"w{i}" for i in range(60)] + ["Question:", "Answer:", "Final", "answer:"]


def tiny_tokenizer(bos: bool = True) -> PreTrainedTokenizerFast:
    """Word-level; with ``bos`` it puts <s> in front of every text, as Gemma's tokenizer does."""
    core = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if bos:
        core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.padding_side = "left"
    return tok


@pytest.fixture(scope="module")
def model() -> LlamaForCausalLM:
    return tiny_llama(len(WORDS), max_position_embeddings=256)


def reference_split(tok, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness's ``_encode_pair``, written out independently of the harness."""
    n = len(context) - len(context.rstrip())
    if n:
        continuation = context[-n:] + continuation
        context = context[:-n]
    whole = tok(context + continuation)["input_ids"]
    ctx = tok(context)["input_ids"]
    return ctx, whole[len(ctx) :]


def reference_logprob(model, context_ids: list[int], continuation_ids: list[int]) -> tuple[float, bool]:
    """Sum of log p(continuation token | everything before it), one plain forward, no padding."""
    ids = torch.tensor([context_ids + continuation_ids])
    with torch.no_grad():
        logp = model(input_ids=ids).logits[0].double().log_softmax(dim=-1)
    total, greedy = 0.0, True
    for k, token in enumerate(continuation_ids):
        row = logp[len(context_ids) - 1 + k]
        total += float(row[token])
        greedy = greedy and int(row.argmax()) == token
    return total, greedy


def text(i: int, n: int) -> str:
    return " ".join(f"w{(i * 11 + j * 7) % 60}" for j in range(n))


PAIRS = [(f"Question: {text(i, 2 + (i * 5) % 13)} Final answer:", text(i + 3, 1 + i % 4)) for i in range(9)]
PAIRS += [(PAIRS[0][0], "w5 w6"), (PAIRS[0][0], "w7"), (PAIRS[1][0], PAIRS[1][1])]  # shared contexts, one exact duplicate


@pytest.mark.parametrize("reuse_cache", [True, False])
def test_pairs_match_the_plain_forward_reference(model, reuse_cache: bool) -> None:
    tok = tiny_tokenizer()
    scorer = LikelihoodScorer(model, tok)
    scorer.reuse_cache = reuse_cache
    scores = scorer.score_pairs([(c, " " + x) for c, x in PAIRS])
    for (context, continuation), score in zip(PAIRS, scores):
        ctx, cont = reference_split(tok, context, " " + continuation)
        expected, greedy = reference_logprob(model, ctx, cont)
        assert score.logprob == pytest.approx(expected, abs=1e-4)
        assert score.tokens == len(cont) and score.greedy == greedy and score.context_tokens == len(ctx)


def test_batched_equals_one_at_a_time_with_left_padding(model) -> None:
    tok = tiny_tokenizer()
    pairs = [(c, " " + x) for c, x in PAIRS]
    together = LikelihoodScorer(model, tok, LikelihoodSettings(forward_tokens=4096)).score_pairs(pairs)
    tight = LikelihoodScorer(model, tok, LikelihoodSettings(forward_tokens=40, kv_cache_mb=1)).score_pairs(pairs)  # many small batches
    alone = [LikelihoodScorer(model, tok).score_pairs([p])[0] for p in pairs]
    for a, b, c in zip(together, tight, alone):
        assert a.logprob == pytest.approx(c.logprob, abs=1e-5) and b.logprob == pytest.approx(c.logprob, abs=1e-5)
        assert a.tokens == b.tokens == c.tokens


def test_context_trailing_whitespace_moves_to_the_continuation_and_bos_is_added_once(model) -> None:
    tok = tiny_tokenizer()
    scorer = LikelihoodScorer(model, tok)
    ctx, cont = scorer.encode_pair("Question: w1 w2 Answer: ", "w3 w4")
    assert ctx == tok("Question: w1 w2 Answer:")["input_ids"] and ctx[0] == 1 and ctx.count(1) == 1
    assert cont == [WORDS.index("w3"), WORDS.index("w4")]
    assert scorer.encode_pair("<s> Question: w1", " w2")[0].count(1) == 1  # text that already starts with BOS gets no second one


def test_empty_context_is_the_bos_token(model) -> None:
    tok = tiny_tokenizer()
    [score] = LikelihoodScorer(model, tok).score_pairs([("", "w1 w2")])
    expected, _ = reference_logprob(model, [1], [WORDS.index("w1"), WORDS.index("w2")])
    assert score.logprob == pytest.approx(expected, abs=1e-5) and score.tokens == 2


def test_greedy_flag_is_true_for_the_argmax_continuation(model) -> None:
    tok = tiny_tokenizer()
    context = "Question: w1 w2 Answer:"
    ids = tok(context)["input_ids"]
    chosen = []
    with torch.no_grad():
        for _ in range(3):
            chosen.append(int(model(input_ids=torch.tensor([ids + chosen])).logits[0, -1].argmax()))
    continuation = " " + " ".join(WORDS[t] for t in chosen)
    if any(WORDS[t].startswith("<") for t in chosen):
        pytest.skip("the random model prefers a special token here")
    [score] = LikelihoodScorer(model, tok).score_pairs([(context, continuation)])
    assert score.greedy


def reference_rolling(model, ids: list[int], window: int, prefix: int) -> float:
    """lm-evaluation-harness's disjoint rolling windows, each a plain forward."""
    total, predicted = 0.0, 0
    while predicted < len(ids):
        targets = ids[predicted : predicted + window]
        before = [prefix] if predicted == 0 else ids[predicted - 1 : predicted]
        inputs = before + targets[:-1]
        with torch.no_grad():
            logp = model(input_ids=torch.tensor([inputs])).logits[0].double().log_softmax(dim=-1)
        total += sum(float(logp[k, t]) for k, t in enumerate(targets))
        predicted += len(targets)
    return total


@pytest.mark.parametrize("window", [8, 64])
def test_rolling_matches_disjoint_windows_reference(model, window: int) -> None:
    tok = tiny_tokenizer(bos=False)
    texts = [text(i, 5 + 9 * i) for i in range(4)]
    scores = LikelihoodScorer(model, tok, LikelihoodSettings(window_tokens=window, forward_tokens=50)).score_texts(texts)
    for t, score in zip(texts, scores):
        ids = tok(t, add_special_tokens=False)["input_ids"]
        assert score.tokens == len(ids)
        assert score.logprob == pytest.approx(reference_rolling(model, ids, window, prefix=1), abs=1e-4)
        assert score.logprob < 0 and math.isfinite(score.logprob)


def test_window_truncates_long_contexts_from_the_left(model) -> None:
    tok = tiny_tokenizer()
    context, continuation = "Question: " + text(1, 40), " w1 w2"
    [score] = LikelihoodScorer(model, tok, LikelihoodSettings(window_tokens=16)).score_pairs([(context, continuation)])
    ctx, cont = reference_split(tok, context, continuation)
    kept = ctx[-(16 + 1 - len(cont)) :]
    expected, _ = reference_logprob(model, kept, cont)
    assert score.logprob == pytest.approx(expected, abs=1e-5) and score.context_tokens == len(kept)
