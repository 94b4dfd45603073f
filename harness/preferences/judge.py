"""An automatic rater: any registered system judges the same blind pairwise comparisons.

    python -m harness judge RUN_DIR --judge teacher [--systems A,B] [--limit N]

Each comparison is asked twice, with the answers in both orders, to cancel position bias: the
judge's vote is a win only if both orders name the same answer; disagreeing orders count as a
tie (``details.consistent`` is false) and an unparsable reply makes the vote ``invalid``. Votes
go to ``RUN_DIR/judge_preferences.jsonl`` as rater ``judge:<name>``, appended after every batch;
replies are cached like run answers (keyed by the judge's fingerprint), so a killed judge run
resumes without asking again.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.api.errors import ConfigError, GenerationError, HarnessError
from harness.api.system import ChatMessage, Closeable, GenerationRequest, GenerationResult, System
from harness.preferences.schedule import Comparison, load_answers
from harness.preferences.store import JUDGE_PREFERENCES, Vote, VoteStore, now_iso

log = logging.getLogger(__name__)

SYSTEM_PROMPT = "You are an impartial expert reviewer of answers to microelectronics questions."
USER_PROMPT = """Compare two answers to the same question.

Question:
{question}

Answer A:
{answer_a}

Answer B:
{answer_b}

Which answer is better? Judge correctness first, then precision and usefulness; ignore length and style.
Reply with exactly one of: A, B, tie."""


@dataclass(frozen=True)
class JudgeConfig:
    max_new_tokens: int = 16  # tokens per reply; a verdict is one word, a little slack for "Answer A"
    max_answer_chars: int = 2000  # characters of each answer put in the prompt (longer ones are cut)
    batch_size: int = 8  # prompts per generate() call (both orders of 4 comparisons)
    limit: int | None = None  # judge at most this many new comparisons (run order); None = all
    use_cache: bool = True  # reuse cached replies for identical prompts and judge fingerprint

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"--max-new-tokens must be >= 1, got {self.max_new_tokens}")
        if self.batch_size < 2:
            raise ConfigError(f"--batch-size must be >= 2 (each comparison is asked in both orders), got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {self.limit}")
        if self.max_answer_chars < 100:
            raise ConfigError(f"max_answer_chars must be >= 100, got {self.max_answer_chars}")


_BARE = re.compile(r"""^[\s*_"'`(\[]*(?:(?:answer|option|verdict|choice)\s*:?\s*)?([ab])[\s*_"'`)\]]*(?:$|[.:,;!\-–—])""", re.IGNORECASE)
_TIE = re.compile(r"^[\s*_\"'`(\[]*(?:verdict\s*:?\s*)?(tie|draw|equal|equally|same|both\s+(?:are\s+)?(?:equally\s+)?(?:good|correct|equal))\b", re.IGNORECASE)
_OTHER_VERDICT = re.compile(r"\b([AB])\b|\b([Tt]ie)\b")  # capital letters only: "a" is usually the article
_PHRASES = (
    re.compile(
        r"(?:\b(?:answer|response|option)\s+|^\s*)\(?([ab])\)?\s+is\s+(?:the\s+)?(?:better|more\s+correct|correct|preferred|superior)",
        re.IGNORECASE | re.MULTILINE,
    ),
    re.compile(r"\b(?:verdict|choice|winner|better\s+answer)\s*(?:is|:)\s*\(?\[?\[?([ab])\b", re.IGNORECASE),
    re.compile(r"\bis\s*:?\s*(?:[Aa]nswer\s+)?\(?([AB])\)?\s*(?:[.!]|$)", re.MULTILINE),  # "The answer is A." (capital: not the article)
    re.compile(r"\[\[([ab])\]\]", re.IGNORECASE),
    re.compile(r"\b(?:it'?s\s+a\s+)?(tie)\b", re.IGNORECASE),
)


def parse_verdict(reply: str) -> str | None:
    """``"a"``, ``"b"``, ``"tie"`` or None (unparsable).

    Edge cases: ``"A"``, ``"**B**"``, ``"(A)"``, ``"A."``, ``"Answer B"``, ``"Verdict: A"``,
    ``"The answer is A."`` parse; ``"Tie"``, ``"Both are equally good"`` are ties; a reply that
    opens with the article "A" (``"A DDR5 channel..."``) is not a verdict; a reply that names two
    different verdicts -- ``"A or B"``, or the instruction echoed back, ``"A, B, tie."`` -- is
    ambiguous and unparsable.
    """
    text = reply.strip()
    if not text:
        return None
    first = text.splitlines()[0]
    bare = _BARE.match(first)
    if bare:
        verdict = bare.group(1).lower()
        rest = {(m.group(1) or m.group(2)).lower() for m in _OTHER_VERDICT.finditer(first[bare.end() :])}
        return verdict if rest <= {verdict} else None
    if _TIE.match(first):
        return "tie"
    found = {m.group(1).lower() for pattern in _PHRASES for m in pattern.finditer(text)}
    return found.pop() if len(found) == 1 else None


def build_requests(comparison: Comparison, question: str, answer: Callable[[str], str], config: JudgeConfig) -> tuple[GenerationRequest, GenerationRequest]:
    """The two prompts for one comparison: the pair's first system as A, then as B."""
    out = []
    for order, (a, b) in enumerate((comparison.pair, comparison.pair[::-1]), start=1):
        text = USER_PROMPT.format(question=question, answer_a=_cut(answer(a), config.max_answer_chars), answer_b=_cut(answer(b), config.max_answer_chars))
        messages = (ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", text))
        out.append(GenerationRequest(id=f"{comparison.key}:{order}", messages=messages, max_new_tokens=config.max_new_tokens))
    return out[0], out[1]


def _cut(text: str, limit: int) -> str:
    text = text.strip() or "(empty answer)"
    return text if len(text) <= limit else text[:limit] + " [...]"


def combine(comparison: Comparison, first_reply: str, second_reply: str, judge: str, fingerprint: dict[str, Any]) -> Vote:
    """The judge's vote from its replies in both orders (see the module docstring)."""
    x, y = comparison.pair
    as_system = [
        {"a": x, "b": y, "tie": "tie"}.get(parse_verdict(first_reply) or "", None),
        {"a": y, "b": x, "tie": "tie"}.get(parse_verdict(second_reply) or "", None),
    ]
    winner_first, winner_second = as_system
    if winner_first is None or winner_second is None:
        choice, consistent = "invalid", None
    elif winner_first == winner_second:
        choice, consistent = {x: "a", y: "b", "tie": "tie"}[winner_first], True
    else:
        choice, consistent = "tie", False
    details: dict[str, Any] = {
        "judge": judge,
        "fingerprint": fingerprint,
        "replies": [
            {"system_a": x, "system_b": y, "reply": first_reply, "verdict": as_system[0]},
            {"system_a": y, "system_b": x, "reply": second_reply, "verdict": as_system[1]},
        ],
    }
    if consistent is not None:
        details["consistent"] = consistent
    return Vote(rater=f"judge:{judge}", item=comparison.item, system_a=x, system_b=y, choice=choice, timestamp=now_iso(), source="judge", details=details)


def judge_run(run_dir: Path, judge: System, config: JudgeConfig = JudgeConfig(), systems: Sequence[str] | None = None, quiet: bool = False) -> dict[str, int]:
    """Judge the run's comparisons not yet judged by this judge (same name and fingerprint).
    Returns counts: judged (new votes), reused (already in the file), cached_replies."""
    run_dir = Path(run_dir)
    answers = load_answers(run_dir, systems)
    if judge.name in answers.systems:
        log.warning("judge %s is also one of the compared systems; LLM judges tend to prefer their own answers", judge.name)
    fingerprint = dict(judge.fingerprint)
    store = VoteStore(run_dir / JUDGE_PREFERENCES)
    rater = f"judge:{judge.name}"
    done = {v.task for v in store.votes() if v.rater == rater and v.details.get("fingerprint") == fingerprint}
    todo = [c for c in answers.comparisons() if c.task not in done]
    if config.limit is not None:
        todo = todo[: config.limit]
    cache = _open_cache() if config.use_cache else None
    counts = {"judged": 0, "reused": len(done), "cached_replies": 0}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"judge {judge.name}", unit="comparison", disable=quiet, file=sys.stderr, dynamic_ncols=True)
    try:
        step = max(1, config.batch_size // 2)
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            requests = [r for c in chunk for r in build_requests(c, answers.questions[c.item], lambda s: answers.responses[(c.item, s)], config)]
            replies = _generate(judge, requests, fingerprint, cache, counts)
            for c, (first, second) in zip(chunk, zip(replies[::2], replies[1::2])):
                store.append(combine(c, first, second, judge.name, fingerprint))
            counts["judged"] += len(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()
        if cache is not None:
            cache.close()
        if isinstance(judge, Closeable):
            judge.close()
    return counts


def _open_cache() -> Any:
    from harness.cache import GenerationCache
    from harness.cache_folder import cache_dir

    return GenerationCache(cache_dir() / "generations.sqlite")


def _generate(judge: System, requests: list[GenerationRequest], fingerprint: dict[str, Any], cache: Any, counts: dict[str, int]) -> list[str]:
    from harness.cache import cache_key

    keys = [cache_key(fingerprint, r) for r in requests]
    hits = cache.get_many(keys) if cache is not None else {}
    pending = [r for r, k in zip(requests, keys) if k not in hits]
    fresh: dict[str, GenerationResult] = {}
    if pending:
        try:
            results = judge.generate(pending)
        except HarnessError:
            raise
        except Exception as exc:
            raise GenerationError(
                f"judge '{judge.name}' failed on {pending[0].id}..{pending[-1].id}: {type(exc).__name__}: {exc}; votes so far are kept"
            ) from exc
        if [r.id for r in results] != [r.id for r in pending]:
            raise GenerationError(
                f"judge '{judge.name}' returned {len(results)} results for {len(pending)} requests (or out of order); "
                "a System must return one result per request, in order"
            )
        fresh = {r.id: res for r, res in zip(pending, results)}
        if cache is not None:
            cache.put_many(judge.name, [(k, fresh[r.id]) for r, k in zip(requests, keys) if r.id in fresh])
    counts["cached_replies"] += len(requests) - len(pending)
    return [hits[k].text if k in hits else fresh[r.id].text for r, k in zip(requests, keys)]
