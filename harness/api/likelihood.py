"""The likelihood contract: how likely a system finds a given answer, instead of what it writes.

    python -m harness run --mode likelihood --systems vanilla,lora --limit 20

An optional capability, like :class:`~harness.api.system.StreamingSystem`: a system that
implements :class:`LikelihoodSystem` is scored by log-probabilities as well as by its generated
answers. Semantics follow lm-evaluation-harness:

* ``loglikelihood(requests)`` -- for each (context, continuation) pair, the summed natural-log
  probability of the continuation's tokens given the context, their count and whether every
  one of them is the model's greedy choice. The context is the prompt the system would generate
  from (retrieved passages, prompt format and chat template included), followed by the request's
  ``answer_prefix``; the chat template is applied to the context only. The continuation is
  tokenised *in context*: context + continuation is encoded as one string and split at the
  context's token length, with trailing whitespace of the context moved to the continuation.
  :func:`joined` says how the three strings meet.
* ``loglikelihood_rolling(texts)`` -- the log-probability of whole documents, every token
  predicted once, in disjoint windows of at most the scorer's window length (the first token is
  predicted from the BOS token, or EOS where the tokenizer has no BOS).

Results come back in request order. Systems raise :class:`LikelihoodUnsupported` (one line, what
is missing) when they cannot score, e.g. a served model whose endpoint returns no prompt
log-probs. Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from harness.api.errors import HarnessError
from harness.api.system import GenerationRequest


class LikelihoodUnsupported(HarnessError):
    """A system (or its server) cannot compute log-probabilities; the message says why."""


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """One (context, continuation) pair to score.

    ``request`` is the prompt exactly as generation gets it (chat messages or a plain prompt, with
    the item's public fields for retrieval); the system builds its context from it the way it
    builds a generation prompt. Requests that share ``request`` (same id) share their context,
    which is computed once.
    """

    id: str  # unique within a call, e.g. "ddr5-r-001/ref" or "ddr5-r-001/choice-3"
    request: GenerationRequest
    continuation: str  # the text whose probability is measured; not empty
    answer_prefix: str = ""  # text after the rendered prompt that starts the answer (part of the context), e.g. "Final answer:"

    def __post_init__(self) -> None:
        if not self.continuation:
            raise ValueError(f"likelihood request {self.id!r}: continuation is empty")

    def to_dict(self) -> dict[str, Any]:
        """What the result depends on (the cache key's request part): no ids."""
        prompt = self.request.to_dict()
        return {
            "messages": prompt["messages"],
            "prompt": prompt["prompt"],
            "answer_prefix": self.answer_prefix,
            "continuation": self.continuation,
        }


@dataclass
class LoglikelihoodResult:
    """The score of one continuation (or, for ``loglikelihood_rolling``, one whole text)."""

    id: str
    logprob: float  # summed natural-log probability of the scored tokens (<= 0)
    tokens: int  # tokens scored
    greedy: bool  # every scored token was the model's argmax
    context_tokens: int = 0  # tokens of the context (0 for rolling texts)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. RAG: retrieved chunks; the context as sent

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "logprob": self.logprob,
            "tokens": self.tokens,
            "greedy": self.greedy,
            "context_tokens": self.context_tokens,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoglikelihoodResult:
        logprob = float(data["logprob"])
        if math.isnan(logprob) or logprob > 1e-6:
            raise ValueError(f"log-probability {logprob} is not <= 0")
        return cls(
            id=str(data["id"]),
            logprob=logprob,
            tokens=int(data["tokens"]),
            greedy=bool(data["greedy"]),
            context_tokens=int(data.get("context_tokens", 0)),
            extra=dict(data.get("extra") or {}),
        )


@runtime_checkable
class LikelihoodSystem(Protocol):
    """Optional: systems that can score text. ``loglikelihood_rolling`` takes plain texts and
    returns one result per text (``id`` = its position as a string)."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]: ...

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[LoglikelihoodResult]: ...


def joined(prompt: str, answer_prefix: str, continuation: str) -> tuple[str, str]:
    """(context, continuation) as scored: the rendered ``prompt``, then ``answer_prefix``, then
    ``continuation``. Where two non-empty pieces meet and neither has whitespace at the seam, one
    space goes between them (into the later piece), as a writer would put it: ``"...Answer:"`` +
    ``"22.4 GB/s"`` is scored as ``" 22.4 GB/s"``; after a chat template's ``"assistant\\n"``
    nothing is added."""

    def seam(left: str, right: str) -> str:
        return " " if left and right and not left[-1].isspace() and not right[0].isspace() else ""

    context = prompt + seam(prompt, answer_prefix) + answer_prefix if answer_prefix else prompt
    return context, seam(context, continuation) + continuation


def bits_per_byte(logprob: float, text: str) -> float | None:
    """``-logprob / ln 2`` per UTF-8 byte of ``text`` (None for empty text)."""
    size = len(text.encode("utf-8"))
    return -logprob / math.log(2) / size if size else None
