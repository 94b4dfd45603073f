"""The RAG prompt keeps the benchmark's messages and puts numbered passages before the question."""

from __future__ import annotations

import re

from harness.api.system import ChatMessage, GenerationRequest
from retrieval_index.prompt import GUIDANCE, HEADER, augment, passage_body, passages_block

PASSAGES = [("Refresh > Interval", "## Interval\n\ntREFI is 3.9 us."), ("Refresh > tRFC", "tRFC is 295 ns.")]


def _chat() -> GenerationRequest:
    return GenerationRequest(
        id="q1",
        messages=(ChatMessage("system", "You are an engineer."), ChatMessage("user", "Answer briefly.\n\nQuestion: What is tREFI?")),
        max_new_tokens=32,
        item={"id": "q1", "question": "What is tREFI?"},
    )


def test_passages_go_before_the_question_in_the_user_turn() -> None:
    out = augment(_chat(), PASSAGES)
    assert out.messages is not None and len(out.messages) == 2
    assert out.messages[0] == ChatMessage("system", "You are an engineer.")
    user = out.messages[1].content
    assert user.startswith(HEADER)
    assert (
        user.index("[1] Refresh > Interval\ntREFI is 3.9 us.")
        < user.index("[2] Refresh > tRFC")
        < user.index(GUIDANCE)
        < user.index("Question: What is tREFI?")
    )
    assert user.endswith("Answer briefly.\n\nQuestion: What is tREFI?")
    assert out.max_new_tokens == 32 and out.item == _chat().item and out.id == "q1"


def test_no_passages_leaves_the_request_unchanged() -> None:
    request = _chat()
    assert augment(request, []) is request


def test_plain_prompts_are_prefixed() -> None:
    request = GenerationRequest(id="p", prompt="Question: What is tRFC?\nAnswer:")
    out = augment(request, PASSAGES)
    assert out.prompt is not None and out.prompt.startswith(HEADER) and out.prompt.endswith("Question: What is tRFC?\nAnswer:")


def test_guidance_never_invites_a_refusal() -> None:
    text = passages_block(PASSAGES).lower()
    for phrase in ("refuse", "cannot answer", "don't know", "do not know", "not in the context", "only use", "only the passages"):
        assert phrase not in text
    assert "answer from your own knowledge" in text


def test_heading_lines_are_dropped_from_passage_bodies() -> None:
    assert passage_body("## Interval\n\ntREFI is 3.9 us.") == "tREFI is 3.9 us."
    assert passage_body("# Only a heading") == "# Only a heading"
    assert re.search(r"^\[2\] ", passages_block(PASSAGES), re.M)
