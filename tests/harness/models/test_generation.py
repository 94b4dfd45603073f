"""BatchGenerator on a tiny random Llama built in the test: batching must not change greedy text."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from harness.api import ChatMessage, GenerationRequest
from harness.models.generation import BatchGenerator, GenerationSettings, cut_at_stop, render_prompt
from tests.conftest import tiny_llama

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
    model = tiny_llama(len(WORDS))
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


def greedy_reference(model, ids: list[int], max_new: int, eos: int = 2) -> list[int]:
    """Greedy decoding step by step, no KV cache and no batching: the whole sequence through the
    model, the argmax of its last position, until ``eos`` or the budget. EOS is not included."""
    tokens: list[int] = []
    with torch.no_grad():
        while len(tokens) < max_new:
            token = int(model(input_ids=torch.tensor([ids + tokens])).logits[0, -1].argmax())
            if token == eos:
                break
            tokens.append(token)
    return tokens


def reference_rows(model, tok, reqs: list[GenerationRequest]) -> list[list[int]]:
    return [greedy_reference(model, tok(r.prompt)["input_ids"], r.max_new_tokens) for r in reqs]


def stop_word(tokens: list[int], tok, avoid: str = "", start: int = 2) -> tuple[int, str]:
    """(position, word) of the first token at or after ``start`` whose word is in neither the
    row's earlier text nor ``avoid``: a stop string on it cuts this row there and nowhere else."""
    for position in range(start, len(tokens)):
        word = tok.decode([tokens[position]])
        if word.startswith("w") and word not in tok.decode(tokens[:position]) and word not in avoid:
            return position, word
    raise AssertionError(f"seeded tiny model: no usable stop word in {tok.decode(tokens)!r}")


@pytest.mark.parametrize("settings", [GenerationSettings(), GenerationSettings(continuous=False, batch_size=3)], ids=["continuous", "static"])
def test_token_counts_and_finish_reason(tiny, settings: GenerationSettings) -> None:
    model, tok = tiny
    reqs = requests(3, max_new=10)
    expected = reference_rows(model, tok, reqs)
    results = BatchGenerator(model, tok, settings).generate(reqs)
    for request, result, tokens in zip(reqs, results, expected):
        assert result.text == tok.decode(tokens, skip_special_tokens=True).strip()
        assert result.completion_tokens == len(tokens)
        assert result.prompt_tokens == len(tok(request.prompt)["input_ids"])
        assert result.finish_reason == ("length" if len(tokens) == 10 else "stop")
        assert result.latency_s > 0
    # the seeded model ends the third answer with EOS after 8 tokens and runs the others to the budget
    assert [r.finish_reason for r in results] == ["length", "length", "stop"]


def test_stop_strings_cut_the_completion(tiny) -> None:
    model, tok = tiny
    reqs = requests(3, max_new=12)
    tokens = reference_rows(model, tok, reqs)[0]
    position, word = stop_word(tokens, tok)
    stopped = BatchGenerator(model, tok).generate(requests(3, max_new=12, stop=(word,)))
    first = stopped[0]
    assert first.text == tok.decode(tokens[:position]).strip()  # everything before the stop word
    assert first.finish_reason == "stop"
    assert first.completion_tokens == position + 1  # decoding stops on the token that completes the stop string


def test_cut_at_stop() -> None:
    assert cut_at_stop("a b STOP c", ["STOP"]) == ("a b ", True)
    assert cut_at_stop("a b", ["STOP", ""]) == ("a b", False)
    assert cut_at_stop("x\n\nQuestion: y", ["\nQuestion:", "\n\n"]) == ("x", True)


def test_render_prompt_plain_transcript_without_chat_template(tiny) -> None:
    _, tok = tiny
    request = GenerationRequest(id="a", messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "w1 w2")))
    assert render_prompt(tok, request) == "Be brief.\n\nQuestion: w1 w2\nAnswer:"


def hf_greedy(model, ids: list[int], max_new: int, eos: int = 2) -> list[int]:
    """Reference: transformers' own generate, one prompt at a time."""
    tensor = torch.tensor([ids])
    out = model.generate(input_ids=tensor, attention_mask=torch.ones_like(tensor), max_new_tokens=max_new, do_sample=False, pad_token_id=0, eos_token_id=eos)
    tokens = out[0, len(ids) :].tolist()
    return tokens[: tokens.index(eos)] if eos in tokens else tokens


def test_continuous_batching_equals_generate_one_at_a_time(tiny) -> None:
    """Rows finish at different steps (varied budgets) and queued prompts -- some longer than the
    running batch, some shorter -- are merged in, so every cache merge and trim path runs."""
    from harness.models.continuous_batching import ContinuousBatcher, DecodeTask

    model, _ = tiny
    tasks = [DecodeTask(i, [1] + [4 + (i * 7 + j) % 60 for j in range(2 + (i * 11) % 23)], 3 + (i * 5) % 17) for i in range(15)]
    outputs = {}
    batches = list(ContinuousBatcher(model, eos_ids={2}, pad_id=0, max_rows=4).run(tasks))
    for batch in batches:
        for out in batch:
            assert out.index not in outputs
            outputs[out.index] = out
    assert sorted(outputs) == list(range(15))
    assert len(batches) > 4  # results came back as rows finished, not all at the end
    for task in tasks:
        assert outputs[task.index].tokens == hf_greedy(model, task.ids, task.max_new_tokens), task.index
        assert outputs[task.index].finish_reason == ("length" if len(outputs[task.index].tokens) == task.max_new_tokens else "stop")
        assert outputs[task.index].latency_s > 0


def test_continuous_and_static_paths_agree_and_stream_yields_each_once(tiny) -> None:
    model, tok = tiny
    reqs = [GenerationRequest(id=f"r{i}", prompt=r.prompt, max_new_tokens=4 + i) for i, r in enumerate(requests(9))]
    continuous = BatchGenerator(model, tok, GenerationSettings(batch_size=3)).generate(reqs)
    static = BatchGenerator(model, tok, GenerationSettings(batch_size=1, continuous=False)).generate(reqs)
    assert [(r.id, r.text, r.completion_tokens, r.finish_reason) for r in continuous] == [(r.id, r.text, r.completion_tokens, r.finish_reason) for r in static]
    seen = [index for batch in BatchGenerator(model, tok, GenerationSettings(batch_size=3)).stream(reqs) for index, _ in batch]
    assert sorted(seen) == list(range(9))


def test_automatic_batch_size_follows_the_kv_budget(tiny) -> None:
    model, tok = tiny
    # tiny model: 2 layers x 2 kv heads x 8 dims x 2 (k, v) x 4 bytes = 256 bytes per token
    generator = BatchGenerator(model, tok, GenerationSettings(kv_cache_mb=1))
    assert generator.rows_for(longest=1024) == 4
    assert generator.rows_for(longest=10) == 64  # capped
    assert BatchGenerator(model, tok, GenerationSettings(batch_size=5)).rows_for(10_000) == 5
    with pytest.raises(Exception, match="batch_size must be >= 1"):
        GenerationSettings(batch_size=0)


def test_sampling_requests_use_the_static_path(tiny) -> None:
    model, tok = tiny
    reqs = [GenerationRequest(id=f"s{i}", prompt=r.prompt, max_new_tokens=6, temperature=0.8, seed=3) for i, r in enumerate(requests(3))] + requests(2)
    first = BatchGenerator(model, tok, GenerationSettings(batch_size=4)).generate(reqs)
    again = BatchGenerator(model, tok, GenerationSettings(batch_size=4)).generate(reqs)
    assert [r.id for r in first] == [r.id for r in reqs]
    assert [r.text for r in first] == [r.text for r in again]  # seeded sampling is reproducible


def test_static_batches_count_tokens_up_to_the_stop_not_the_padding(tiny) -> None:
    """A row cut by its stop string while others go on is padded with pad id 0 (not an EOS id):
    its completion_tokens is what it generated, not the whole budget."""
    model, tok = tiny
    static = GenerationSettings(continuous=False, batch_size=3)
    expected = reference_rows(model, tok, requests(3, max_new=12))
    others = " ".join(tok.decode(row) for row in expected[1:])
    position, stop = stop_word(expected[0], tok, avoid=others)  # cuts row 0 only, after a few tokens
    stopped = BatchGenerator(model, tok, static).generate(requests(3, max_new=12, stop=(stop,)))
    first = stopped[0]
    assert first.finish_reason == "stop" and first.text == tok.decode(expected[0][:position]).strip()
    assert first.completion_tokens == position + 1  # one word-level token per word, the stop included
    assert [r.completion_tokens for r in stopped[1:]] == [len(row) for row in expected[1:]]
    assert max(r.completion_tokens for r in stopped[1:]) == 12  # another row ran to the budget, so row 0 was padded


def test_loop_stop_cuts_each_answer_where_its_loop_is_recognised(tiny) -> None:
    """A random tiny model falls into greedy loops; with loop stopping each row is the unstopped
    row cut where :func:`find_loop` recognises the loop on its token ids."""
    from harness.models.continuous_batching import ContinuousBatcher, DecodeTask
    from harness.models.loops import find_loop

    model, _ = tiny
    prompts = [[1] + [4 + (i * 7 + j) % 60 for j in range(2 + (i * 11) % 23)] for i in range(12)]

    def run(loop_stop: bool) -> dict[int, object]:
        tasks = [DecodeTask(i, ids, 60, loop_stop=loop_stop) for i, ids in enumerate(prompts)]
        return {out.index: out for batch in ContinuousBatcher(model, eos_ids={2}, pad_id=0, max_rows=4).run(tasks) for out in batch}

    free, cut = run(False), run(True)
    looped = 0
    for index in range(len(prompts)):
        loop = find_loop(free[index].tokens)
        if loop is None:
            assert (cut[index].tokens, cut[index].finish_reason) == (free[index].tokens, free[index].finish_reason)
            continue
        looped += 1
        assert cut[index].finish_reason == "loop"
        assert cut[index].tokens == free[index].tokens[: loop.looped_at]
    assert looped >= 3, "the tiny model should loop on several of these prompts"


def test_loop_stop_gives_the_same_answers_on_the_static_and_continuous_paths(tiny) -> None:
    model, tok = tiny
    reqs = requests(9, max_new=60)
    continuous = BatchGenerator(model, tok, GenerationSettings(batch_size=3)).generate(reqs)
    static = BatchGenerator(model, tok, GenerationSettings(batch_size=3, continuous=False)).generate(reqs)
    assert [(r.text, r.completion_tokens, r.finish_reason) for r in static] == [(r.text, r.completion_tokens, r.finish_reason) for r in continuous]
    assert sum(r.finish_reason == "loop" for r in continuous) >= 3


def test_int8_quantised_model_generates_through_both_paths(tiny) -> None:
    import copy

    from harness.models.loading import quantize_model

    model, tok = tiny
    quantised = quantize_model(copy.deepcopy(model), "int8")
    assert not any(type(m) is torch.nn.Linear for m in quantised.modules())  # every linear layer replaced
    reqs = requests(5, max_new=10)
    continuous = BatchGenerator(quantised, tok, GenerationSettings(batch_size=2)).generate(reqs)
    static = BatchGenerator(quantised, tok, GenerationSettings(batch_size=2, continuous=False)).generate(reqs)
    assert [r.text for r in continuous] == [r.text for r in static]
    assert all(0 < r.completion_tokens <= 10 for r in continuous)


def test_unknown_quantisation_is_a_config_error() -> None:
    from harness.api.errors import ConfigError
    from harness.systems.composition import vanilla

    with pytest.raises(ConfigError, match="systems.vanilla.quantize: 'int4' is not supported"):
        vanilla(quantize="int4")
    assert vanilla(quantize="int8").source.quantize == "int8"
