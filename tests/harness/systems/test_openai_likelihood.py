"""The openai system's likelihood against a scripted server on 127.0.0.1: echo + logprobs,
vLLM's prompt_logprobs, and a server that returns neither."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.api import ChatMessage, GenerationRequest
from harness.api.likelihood import LikelihoodUnsupported, LoglikelihoodRequest
from harness.systems.openai_system import openai
from tests.harness.systems.conftest import FakeServer, Reply

FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05}


def tokens_of(text: str) -> list[str]:
    """The fake server's tokenizer: words and numbers with their leading space, single symbols."""
    found = re.findall(r" ?[A-Za-z0-9]+| ?[^A-Za-z0-9\s]|\s", text)
    assert "".join(found) == text
    return found


def logprob_of(token: str) -> float:
    return -0.25 * (len(token) % 5 + 1)


def top_of(token: str) -> dict[str, float]:
    """Odd-length tokens are the server's greedy choice; even-length ones lose to "zz"."""
    return {token: logprob_of(token)} if len(token) % 2 else {"zz": logprob_of(token) + 0.1, token: logprob_of(token)}


def echo_reply(body: dict[str, Any]) -> Reply:
    toks = tokens_of(body["prompt"]) + [" next"]  # the prompt, then the one generated token
    offsets = [sum(len(t) for t in toks[:i]) for i in range(len(toks))]
    logprobs = {
        "tokens": toks,
        "token_logprobs": [None] + [logprob_of(t) for t in toks[1:]],
        "top_logprobs": [None] + [top_of(t) for t in toks[1:]],
        "text_offset": offsets,
    }
    return Reply(body={"model": body["model"], "choices": [{"index": 0, "text": body["prompt"] + " next", "logprobs": logprobs}]})


def vllm_reply(body: dict[str, Any]) -> Reply:
    if body.get("echo"):
        return Reply(status=400, body={"error": "echo is not supported"})
    entries: list[Any] = [None]
    for i, token in enumerate(tokens_of(body["prompt"])[1:]):
        actual = {"logprob": logprob_of(token), "rank": 1 if len(token) % 2 else 2, "decoded_token": token}
        entries.append(
            {str(100 + i): actual} if len(token) % 2 else {str(100 + i): actual, "7": {"logprob": logprob_of(token) + 0.1, "rank": 1, "decoded_token": "zz"}}
        )
    return Reply(body={"model": body["model"], "choices": [{"index": 0, "text": "x", "prompt_logprobs": entries}]})


def serve(server: FakeServer, reply) -> None:
    server.fault = lambda number: reply(server.seen[number])


def expected(continuation: str, context: str) -> tuple[float, int, bool]:
    cont = tokens_of(context + continuation)[len(tokens_of(context)) :]
    return sum(logprob_of(t) for t in cont), len(cont), all(len(t) % 2 for t in cont)


REQUESTS = [
    LoglikelihoodRequest("a", GenerationRequest(id="q1", prompt="Question: What is 2+2?\nAnswer:"), "4 ok", answer_prefix="Final answer:"),
    LoglikelihoodRequest("b", GenerationRequest(id="q1", prompt="Question: What is 2+2?\nAnswer:"), "22.4 GB/s", answer_prefix="Final answer:"),
    LoglikelihoodRequest("c", GenerationRequest(id="q2", prompt="Explain refresh.\n"), "Rows leak charge"),
]


@pytest.mark.parametrize("reply", [echo_reply, vllm_reply], ids=["echo", "prompt_logprobs"])
def test_continuation_log_probs_come_from_the_prompt_tokens(fake_server: FakeServer, reply) -> None:
    serve(fake_server, reply)
    system = openai(base_url=fake_server.url, model="tiny", concurrency=2, **FAST)
    results = system.loglikelihood(REQUESTS)
    contexts = ["Question: What is 2+2?\nAnswer: Final answer:"] * 2 + ["Explain refresh."]
    continuations = [" 4 ok", " 22.4 GB/s", "\nRows leak charge"]  # a space at the seam; the context's newline moved over
    for result, context, continuation in zip(results, contexts, continuations):
        logprob, count, greedy = expected(continuation, context)
        assert result.logprob == pytest.approx(logprob) and result.tokens == count and result.greedy == greedy
        assert result.context_tokens == len(tokens_of(context))
    assert [r.id for r in results] == ["a", "b", "c"]
    last = fake_server.seen[-1]
    assert last["path"] == "/v1/completions" and last["max_tokens"] == 1 and last["temperature"] == 0.0
    assert (last.get("echo"), last.get("logprobs")) == ((True, 1) if reply is echo_reply else (None, None))


def test_the_working_mode_is_remembered(fake_server: FakeServer) -> None:
    serve(fake_server, vllm_reply)
    system = openai(base_url=fake_server.url, model="tiny", concurrency=1, **FAST)
    system.loglikelihood(REQUESTS[:1])
    before = len(fake_server.seen)
    system.loglikelihood(REQUESTS[1:2])
    assert len(fake_server.seen) == before + 1 and fake_server.seen[-1]["prompt_logprobs"] == 1


def test_rolling_sums_every_predicted_token(fake_server: FakeServer) -> None:
    serve(fake_server, echo_reply)
    [result] = openai(base_url=fake_server.url, model="tiny", **FAST).loglikelihood_rolling(["DDR5 has two subchannels per DIMM."])
    toks = tokens_of("DDR5 has two subchannels per DIMM.")
    assert result.logprob == pytest.approx(sum(logprob_of(t) for t in toks[1:])) and result.tokens == len(toks) - 1


def test_a_server_without_prompt_log_probs_is_unsupported_in_one_line(fake_server: FakeServer) -> None:
    serve(
        fake_server,
        lambda body: Reply(status=400, body={"error": "unsupported"}) if body.get("echo") else Reply(body={"model": "tiny", "choices": [{"text": "x"}]}),
    )
    with pytest.raises(LikelihoodUnsupported, match="returns no prompt log-probs") as caught:
        openai(base_url=fake_server.url, model="tiny", **FAST).loglikelihood(REQUESTS[:1])
    assert "\n" not in str(caught.value)


def test_chat_prompts_need_a_tokenizer(fake_server: FakeServer) -> None:
    chat = GenerationRequest(id="q", messages=(ChatMessage("user", "hi"),))
    with pytest.raises(LikelihoodUnsupported, match="set tokenizer"):
        openai(base_url=fake_server.url, model="tiny", **FAST).loglikelihood([LoglikelihoodRequest("x", chat, "hello")])
    assert fake_server.seen == []
