"""The RAG prompt: numbered passages inserted before the question in the user turn.

    python -m harness run --systems vanilla,rag,rag-oracle --limit 20

The benchmark's system message and template are kept; the user turn becomes::

    Reference passages:

    [1] DDR5 refresh ... > Refresh window and average interval
    DDR5 specifies a 32 ms refresh window ...

    [2] ...

    Use the reference passages above where they help with the question below. If they do not
    cover it, answer from your own knowledge.

    <the benchmark's user turn: instructions + "Question: ...">

The guidance never tells the model to refuse or to say "not in the context": with a 135M model
such wording turns into refusals on benign questions. Changing any text here changes
:data:`PROMPT_FINGERPRINT`, which is part of the RAG systems' fingerprints (so cached answers made
with another prompt are not reused).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Sequence

from harness.api.system import ChatMessage, GenerationRequest

HEADER = "Reference passages:"
GUIDANCE = "Use the reference passages above where they help with the question below. If they do not cover it, answer from your own knowledge."
PASSAGE = "[{number}] {source}\n{text}"
PROMPT_VERSION = "rag-prompt-1"
PROMPT_FINGERPRINT = hashlib.sha256("\x00".join((PROMPT_VERSION, HEADER, GUIDANCE, PASSAGE)).encode()).hexdigest()[:16]


def passage_body(text: str) -> str:
    """Chunk text without its leading Markdown heading lines (the source line names the section)."""
    lines = text.strip().splitlines()
    while lines and lines[0].lstrip().startswith("#"):
        lines.pop(0)
    return "\n".join(lines).strip() or text.strip()


def passages_block(passages: Sequence[tuple[str, str]]) -> str:
    """``passages`` are (source, text) pairs, best first."""
    numbered = [PASSAGE.format(number=n, source=source, text=passage_body(text)) for n, (source, text) in enumerate(passages, start=1)]
    return "\n\n".join([HEADER, *numbered, GUIDANCE])


def augment(request: GenerationRequest, passages: Sequence[tuple[str, str]]) -> GenerationRequest:
    """The request with the passages put before the question; unchanged when there are none."""
    if not passages:
        return request
    block = passages_block(passages)
    if request.messages is None:
        return dataclasses.replace(request, prompt=f"{block}\n\n{request.prompt}")
    messages = list(request.messages)
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        messages.append(ChatMessage("user", block))
    else:
        messages[last_user] = ChatMessage("user", f"{block}\n\n{messages[last_user].content}")
    return dataclasses.replace(request, messages=tuple(messages))
