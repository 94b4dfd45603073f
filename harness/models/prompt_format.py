"""Prompt formats: how a chat request reaches a model.

    [systems.teacher-like]
    model = "gemma3-270m"
    prompt = "plain"        # chat (default) | plain

* ``chat`` -- the request goes to the model as is: chat ``messages`` through the tokenizer's chat
  template (a model without one gets the plain transcript below, with no extra stops).
* ``plain`` -- for base models: the messages become a ``Question: ...\\nAnswer:`` transcript and
  generation stops where the model starts the next turn (:data:`PLAIN_STOP`).

Edge cases: a user turn that already holds ``Question:`` is not prefixed again; a transcript
whose last user turn already ends with ``Answer:`` (a template that opens the answer itself) gets
no second one; plain prompts (``prompt`` set, no ``messages``) pass through unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from harness.api.system import ChatMessage, GenerationRequest

PROMPT_FORMATS = ("chat", "plain")
PLAIN_STOP = ("\nQuestion:", "\nAnswer:")  # a base model continues the transcript with more turns


def plain_transcript(messages: Sequence[ChatMessage]) -> str:
    """Chat messages as one plain question/answer transcript ending where the answer starts."""
    parts = []
    for message in messages:
        content = message.content.strip()
        if message.role == "system":
            parts.append(content)
        elif message.role == "user":
            parts.append(content if content.startswith("Question:") or "\nQuestion:" in content else f"Question: {content}")
        else:
            parts.append(f"Answer: {content}")
    transcript = "\n\n".join(parts)
    opened = bool(messages) and messages[-1].role == "user" and transcript.endswith("Answer:")
    return transcript if opened else transcript + "\nAnswer:"


def plain_request(request: GenerationRequest) -> GenerationRequest:
    """``request`` rendered as a plain transcript that stops at the next turn."""
    if request.messages is None:
        return request
    stops = tuple(dict.fromkeys((*request.stop, *PLAIN_STOP)))
    return dataclasses.replace(request, messages=None, prompt=plain_transcript(request.messages), stop=stops)


def apply_format(name: str, request: GenerationRequest) -> GenerationRequest:
    """``request`` as prompt format ``name`` sends it."""
    return plain_request(request) if name == "plain" else request


def format_fingerprint(name: str) -> dict[str, Any] | None:
    """What the fingerprint records for format ``name`` (None for ``chat``: the model's template
    is already part of the model's identity)."""
    return {"format": "plain-question-answer", "stop": list(PLAIN_STOP)} if name == "plain" else None
