"""Prompt log-probabilities from an OpenAI-compatible ``/completions`` answer: the two shapes
servers return them in, read into one list of prompt tokens.

* ``echo`` -- ``{"echo": true, "logprobs": 1}``: ``choices[0].logprobs`` holds ``tokens``,
  ``token_logprobs`` (None for the first token) and ``top_logprobs`` for the prompt followed by
  the generated token (the OpenAI legacy API, vLLM, llama.cpp's server).
* ``prompt_logprobs`` -- vLLM's ``{"prompt_logprobs": 1}``: ``choices[0].prompt_logprobs`` is a
  list, None for the first token, then per position ``{token_id: {"logprob", "rank",
  "decoded_token"}}`` holding the prompt token and the top-1 token (one entry when they agree).

Both become :class:`PromptToken` lists. :func:`split_continuation` then takes the trailing tokens
whose text adds up to the continuation: where a token straddles the seam between context and
continuation it counts as context (the in-context split of a local scorer would give it to
neither exactly; with a leading space on the continuation, as the harness sends it, tokenizers
start a new token there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

MODES = ("echo", "prompt_logprobs")  # tried in this order; the first a server answers is kept


@dataclass(frozen=True)
class PromptToken:
    text: str
    logprob: float | None  # None for the first token (nothing predicts it)
    greedy: bool


def request_body(mode: str, model: str, text: str) -> dict[str, Any]:
    """The ``/completions`` body that asks for ``text``'s prompt log-probs in ``mode``."""
    body: dict[str, Any] = {"model": model, "prompt": text, "max_tokens": 1, "temperature": 0.0}
    if mode == "echo":
        body.update(echo=True, logprobs=1)
    else:
        body["prompt_logprobs"] = 1
    return body


def prompt_tokens(mode: str, data: Mapping[str, Any], text: str) -> list[PromptToken] | None:
    """The prompt's tokens with their log-probs, or None when the answer has none."""
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError):
        return None
    return _from_echo(choice, text) if mode == "echo" else _from_prompt_logprobs(choice)


def _from_echo(choice: Mapping[str, Any], text: str) -> list[PromptToken] | None:
    block = choice.get("logprobs") or {}
    tokens, logprobs = block.get("tokens"), block.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(logprobs, list) or len(tokens) != len(logprobs) or not tokens:
        return None
    if all(lp is None for lp in logprobs[1:]):
        return None
    tops = block.get("top_logprobs") or [None] * len(tokens)
    out, length = [], 0
    for token, logprob, top in zip(tokens, logprobs, tops):
        if length + len(str(token)) > len(text):  # the generated token follows the prompt
            break
        greedy = True if not top else max(top, key=top.get) == token
        out.append(PromptToken(str(token), None if logprob is None else float(logprob), greedy))
        length += len(str(token))
        if length == len(text):
            break
    return out


def _from_prompt_logprobs(choice: Mapping[str, Any]) -> list[PromptToken] | None:
    positions = choice.get("prompt_logprobs")
    if not isinstance(positions, list) or len(positions) < 2 or any(not isinstance(p, Mapping) or not p for p in positions[1:]):
        return None
    out = [PromptToken("", None, True)]  # the first token's text is not returned; only trailing tokens are read
    for entries in positions[1:]:
        actual = max(entries.values(), key=lambda e: int(e.get("rank") or 1))  # the prompt token; the top-1 ranks 1
        out.append(PromptToken(str(actual.get("decoded_token") or ""), float(actual["logprob"]), int(actual.get("rank") or 1) == 1))
    return out


def split_continuation(tokens: list[PromptToken], continuation: str) -> tuple[list[PromptToken], int] | None:
    """(continuation tokens, context token count): the trailing tokens whose texts add up to at
    most ``continuation``; None when not even the last token fits."""
    taken: list[PromptToken] = []
    length = 0
    for token in reversed(tokens):
        if length + len(token.text) > len(continuation) or token.logprob is None:
            break
        taken.append(token)
        length += len(token.text)
    if not taken:
        return None
    taken.reverse()
    return taken, len(tokens) - len(taken)
