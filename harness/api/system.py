"""The System contract: the one interface every evaluated system implements.

A system is anything with a ``name``, a ``fingerprint`` and a batch-level ``generate``. The runner
hands it a list of :class:`GenerationRequest` and expects one :class:`GenerationResult` per request,
in the same order. Systems never see benchmark answers -- only requests.

Third parties add systems by declaring an entry point in the ``harness.systems`` group whose object
is a factory: ``factory(**options) -> System``. The factory may also carry a ``description``
attribute (one line, shown by ``python -m harness list``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

#: Allowed chat roles, as in the OpenAI / Hugging Face chat-template convention.
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    role: str  # one of ROLES
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to answer.

    Exactly one of ``messages`` (chat) or ``prompt`` (plain text) is set. ``item`` carries the
    benchmark item's public fields (id, question, category, gold_passages) for systems that need
    them -- the oracle RAG system reads ``gold_passages``; no system may read an answer key, which
    is never put here.
    """

    id: str
    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    max_new_tokens: int = 256  # tokens; upper bound on the completion length
    stop: tuple[str, ...] = ()  # completion is cut before the first occurrence of any of these
    seed: int = 0  # used only when temperature > 0
    temperature: float = 0.0  # 0.0 = greedy decoding
    item: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError(f"request {self.id!r}: set exactly one of messages or prompt")
        if self.max_new_tokens < 1:
            raise ValueError(f"request {self.id!r}: max_new_tokens must be >= 1, got {self.max_new_tokens}")

    @property
    def question(self) -> str:
        """The last user turn (or the plain prompt): what retrieval should search for."""
        if self.messages is None:
            return self.prompt or ""
        users = [m.content for m in self.messages if m.role == "user"]
        return users[-1] if users else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "messages": [m.to_dict() for m in self.messages] if self.messages is not None else None,
            "prompt": self.prompt,
            "max_new_tokens": self.max_new_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
            "temperature": self.temperature,
        }


#: ``finish_reason`` of an item the system cannot do its job on (``rag-oracle`` on an item without
#: gold passages): nothing is generated, ``extra["not_applicable"]`` says why, and the item is left
#: out of that system's scores instead of being scored as if the system had run.
NOT_APPLICABLE = "not_applicable"

#: ``GenerationResult.extra`` key under which a system may record the prompt it actually generated
#: from when it rewrote the request (retrieved passages added, plain transcript for a base model):
#: chat messages as a list of ``{"role", "content"}`` or a plain string. The run log shows it.
SENT_PROMPT = "sent_prompt"


@dataclass
class GenerationResult:
    """What a system returns for one request."""

    id: str
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0  # wall seconds attributed to this request (batch time / batch size)
    finish_reason: str = "stop"  # "stop" | "length" | "loop" (repetition loop cut short) | "error" | NOT_APPLICABLE
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. RAG: retrieved chunk ids + scores

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
            "finish_reason": self.finish_reason,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GenerationResult":
        return cls(
            id=str(data["id"]),
            text=str(data["text"]),
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            latency_s=float(data.get("latency_s", 0.0)),
            finish_reason=str(data.get("finish_reason", "stop")),
            extra=dict(data.get("extra") or {}),
        )


@runtime_checkable
class System(Protocol):
    """The contract. ``fingerprint`` identifies everything that changes the system's outputs
    (model weights hash, adapter hash, index hash, prompt template): the generation cache is keyed
    by it, so two systems with equal fingerprints must answer identically. A system that reads
    fields of ``GenerationRequest.item`` lists them in an ``item_fields`` attribute (a tuple of
    names; absent means none) so the cache keys on their values too."""

    name: str

    @property
    def fingerprint(self) -> Mapping[str, Any]: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]: ...


@runtime_checkable
class Closeable(Protocol):
    """Optional: systems holding a model implement ``close`` so the runner frees memory between
    systems (one model loaded at a time)."""

    def close(self) -> None: ...


@runtime_checkable
class Selective(Protocol):
    """Optional: a system that cannot do its job on some items names them before generation, so
    the runner generates nothing for them and records them as :data:`NOT_APPLICABLE` instead of
    letting the system stand in for another (an oracle without its oracle is the base model).
    Returns ``{request id: reason}`` for those requests only, the reason a short phrase such as
    ``"no gold_passages"``."""

    def not_applicable(self, requests: Sequence[GenerationRequest]) -> Mapping[str, str]: ...


@runtime_checkable
class StreamingSystem(Protocol):
    """Optional: systems that finish requests out of order (continuous batching, concurrent HTTP
    calls) yield ``(index into requests, result)`` pairs as they finish. The runner commits each
    list at once, so a killed run loses only the requests still in flight. Every request must be
    yielded exactly once."""

    def generate_stream(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, GenerationResult]]]: ...


def in_order(batches: Iterable[list[tuple[int, GenerationResult]]], count: int) -> list[GenerationResult]:
    """The results of a ``generate_stream`` in request order: how a streaming system's
    ``generate`` is written."""
    results: list[GenerationResult | None] = [None] * count
    for batch in batches:
        for index, result in batch:
            results[index] = result
    return [r for r in results if r is not None]
