"""Likelihood through composed systems on a tiny random Llama: the context is the generation
prompt (retrieved passages, prompt format, chat template on the context only)."""

from __future__ import annotations

from typing import Any, Sequence

import pytest
import torch

from harness.api.likelihood import LikelihoodSystem, LoglikelihoodRequest
from harness.api.system import ChatMessage, GenerationRequest
from harness.models.generation import BatchGenerator
from harness.systems.composed import ComposedSystem
from harness.systems.composition import SystemSpec
from harness.systems.local_model import LocalModel
from retrieval_index.prompt import augment
from tests.conftest import tiny_llama
from tests.harness.models.test_likelihood import WORDS, reference_logprob, tiny_tokenizer

CHAT_TEMPLATE = "{% for m in messages %}{{ m['content'] }} {% endfor %}{% if add_generation_prompt %}Answer:{% endif %}"


class FakeRetriever:
    """Puts one fixed passage before the question and records it, as the faiss retriever does."""

    def fingerprint(self) -> dict[str, Any]:
        return {"fake": 1}

    def prepare(self, requests: Sequence[GenerationRequest]) -> tuple[list[GenerationRequest], list[dict[str, Any]]]:
        self.calls = getattr(self, "calls", 0) + 1
        return [augment(r, [("w9", "w10 w11 w12")]) for r in requests], [{"retrieved": [{"chunk_id": "c1"}], "k": 1} for _ in requests]

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def model() -> Any:
    return tiny_llama(len(WORDS), max_position_embeddings=256)


def local(model: Any, tok: Any) -> LocalModel:
    source = LocalModel("tiny")
    source._generator = BatchGenerator(model, tok)  # loaded: nothing resolved from disk
    return source


def chat_request(item_id: str) -> GenerationRequest:
    return GenerationRequest(id=item_id, messages=(ChatMessage("system", "w1 w2"), ChatMessage("user", f"Question: w3 {item_id}")), item={"question": "w3"})


def score(model: Any, tok: Any, context: str, continuation: str) -> float:
    ctx = tok(context)["input_ids"]
    whole = tok(context + continuation)["input_ids"]
    return reference_logprob(model, ctx, whole[len(ctx) :])[0]


def test_chat_template_is_applied_to_the_context_only_and_rag_passages_are_in_it(model: Any) -> None:
    tok = tiny_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    retriever = FakeRetriever()
    system = ComposedSystem("rag", SystemSpec(retriever={}), local(model, tok), retriever=retriever)
    assert isinstance(system, LikelihoodSystem)
    requests = [
        LoglikelihoodRequest("w20/ref", chat_request("w20"), "w30 w31", answer_prefix="Final answer:"),
        LoglikelihoodRequest("w20/1", chat_request("w20"), "w32", answer_prefix="Final answer:"),
        LoglikelihoodRequest("w21/ref", chat_request("w21"), "w33 w34 w35"),
    ]
    results = system.loglikelihood(requests)
    assert retriever.calls == 1 and [r.id for r in results] == ["w20/ref", "w20/1", "w21/ref"]
    assert all(r.extra["retrieved"] == [{"chunk_id": "c1"}] for r in results)
    rendered = {
        i: tok.apply_chat_template(
            [m.to_dict() for m in augment(chat_request(i), [("w9", "w10 w11 w12")]).messages], tokenize=False, add_generation_prompt=True
        )
        for i in ("w20", "w21")
    }
    assert "w10 w11 w12" in rendered["w20"] and rendered["w20"].endswith("Answer:")
    assert results[0].logprob == pytest.approx(score(model, tok, rendered["w20"] + " Final answer:", " w30 w31"), abs=1e-5)
    assert results[1].logprob == pytest.approx(score(model, tok, rendered["w20"] + " Final answer:", " w32"), abs=1e-5)
    assert results[2].logprob == pytest.approx(score(model, tok, rendered["w21"], " w33 w34 w35"), abs=1e-5)


def test_plain_prompt_format_scores_the_question_answer_transcript(model: Any) -> None:
    tok = tiny_tokenizer()
    system = ComposedSystem("teacher", SystemSpec(prompt="plain"), local(model, tok))
    [result] = system.loglikelihood([LoglikelihoodRequest("x", chat_request("w22"), "w40")])
    assert result.logprob == pytest.approx(score(model, tok, "w1 w2\n\nQuestion: w3 w22\nAnswer:", " w40"), abs=1e-5)


def test_rolling_ignores_the_prompt_format_and_retriever(model: Any) -> None:
    tok = tiny_tokenizer(bos=False)
    plain = ComposedSystem("a", SystemSpec(prompt="plain"), local(model, tok))
    rag = ComposedSystem("b", SystemSpec(retriever={}), local(model, tok), retriever=FakeRetriever())
    text = "w1 w2 w3 w4 w5"
    assert plain.loglikelihood_rolling([text])[0].logprob == pytest.approx(rag.loglikelihood_rolling([text])[0].logprob)
    with torch.no_grad():
        ids = [1] + tok(text, add_special_tokens=False)["input_ids"]
        logp = model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)
    assert plain.loglikelihood_rolling([text])[0].logprob == pytest.approx(sum(float(logp[k, t]) for k, t in enumerate(ids[1:])), abs=1e-5)
