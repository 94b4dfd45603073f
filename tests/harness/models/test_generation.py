"""BatchGenerator on a tiny random Llama built in the test: batching must not change greedy text."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from harness.api import ChatMessage, GenerationRequest
from harness.models.generation import BatchGenerator, GenerationSettings, cut_at_stop, render_prompt

WORDS = ["<pad>", "<s>", "</s>", "<unk>"] + [f"w{i}" for i in range(60)] + ["Question:", "Answer:", "STOP"]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.padding_side = "left"
    return tok


@pytest.fixture(scope="module")
def tiny() -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config).eval()
    return model, tiny_tokenizer()


def requests(n: int, max_new: int = 8, stop: tuple[str, ...] = ()) -> list[GenerationRequest]:
    out = []
    for i in range(n):
        words = " ".join(f"w{(i * 7 + j) % 60}" for j in range(3 + (i * 5) % 9))  # varied lengths
        out.append(GenerationRequest(id=f"r{i}", prompt=f"Question: {words} Answer:", max_new_tokens=max_new, stop=stop))
    return out


def test_batched_greedy_equals_one_at_a_time(tiny) -> None:
    model, tok = tiny
    reqs = requests(7)
    batched = BatchGenerator(model, tok, GenerationSettings(batch_size=4)).generate(reqs)
    single = BatchGenerator(model, tok, GenerationSettings(batch_size=1)).generate(reqs)
    assert [r.id for r in batched] == [r.id for r in reqs]
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.prompt_tokens for r in batched] == [len(tok(f"{r.prompt}")["input_ids"]) for r in reqs]


def test_token_counts_and_finish_reason(tiny) -> None:
    model, tok = tiny
    results = BatchGenerator(model, tok).generate(requests(3, max_new=5))
    for result in results:
        assert 0 <= result.completion_tokens <= 5
        assert result.finish_reason in {"stop", "length"}
        assert result.latency_s > 0


def test_stop_strings_cut_the_completion(tiny) -> None:
    model, tok = tiny
    plain = BatchGenerator(model, tok).generate(requests(3, max_new=12))
    word = plain[0].text.split()[2] if len(plain[0].text.split()) > 2 else None
    if word is None:
        pytest.skip("tiny model produced too short a text to test a stop string")
    stopped = BatchGenerator(model, tok).generate(requests(3, max_new=12, stop=(word,)))
    assert word not in stopped[0].text
    assert plain[0].text.startswith(stopped[0].text)


def test_cut_at_stop() -> None:
    assert cut_at_stop("a b STOP c", ["STOP"]) == ("a b ", True)
    assert cut_at_stop("a b", ["STOP", ""]) == ("a b", False)
    assert cut_at_stop("x\n\nQuestion: y", ["\nQuestion:", "\n\n"]) == ("x", True)


def test_render_prompt_plain_transcript_without_chat_template(tiny) -> None:
    _, tok = tiny
    request = GenerationRequest(id="a", messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "w1 w2")))
    assert render_prompt(tok, request) == "Be brief.\n\nQuestion: w1 w2\nAnswer:"
