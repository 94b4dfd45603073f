"""Dispatch: grade one response to one benchmark item -> :class:`~harness.scoring.score.Score`.

    python -m harness grade answers.jsonl

The answer type picks the grader (numeric, text, keypoints; ``none`` has no key so ``correct`` is
None). First :mod:`harness.scoring.degenerate` classifies the response (loop, empty, gibberish,
echo) and says which part of it counts as evidence (a loop's repetitions never do); the graders
read only that part. The refusal detector reads the same part (to the end of its sentence): a
loop of declines is a refusal and a degenerate answer; a loop that does not decline before it
starts repeating is never a refusal. A decline copied from the prompt's example declines is a
refusal, not an echo (docs/scoring.md, "Refusals inside degenerate answers").
Graders are pure functions of ``(item, response, config[, prompt, finish_reason])`` and never
raise on the response text; ``prompt`` is what the system was shown (its passages are not the
answer) and ``finish_reason`` the generator's (``"loop"`` when its loop stopper cut the text).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from harness.api.items import Item
from harness.scoring.degenerate import Degeneracy
from harness.scoring.score import Score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GradeConfig:
    default_rel_tol: float = 0.02  # fraction; used when an item has no rel_tol (benchmark.toml)
    default_min_fraction: float = 0.6  # fraction of key points needed (benchmark.toml)
    generation_pattern: str | None = None  # benchmark.toml [grading]: product generations for the numeric aside rule
    db_abs_tol: float = 0.2  # dB; benchmark.toml [grading] db_abs_tol: absolute tolerance of decibel keys
    unit_aliases: tuple[tuple[str, str], ...] = ()  # benchmark.toml [grading] unit_aliases: ("KB", "KiB") reads KB as KiB
    embedder: Any = field(default=None, compare=False)  # an Embedder; None = packaged MiniLM
    calibration: Any = field(default=None, compare=False)  # a Calibration; None = packaged JSON

    @classmethod
    def from_benchmark(cls, benchmark_config: Any, **kwargs: Any) -> GradeConfig:
        return cls(
            default_rel_tol=benchmark_config.default_rel_tol,
            default_min_fraction=benchmark_config.default_min_fraction,
            generation_pattern=getattr(benchmark_config, "generation_pattern", None),
            db_abs_tol=getattr(benchmark_config, "db_abs_tol", 0.2),
            unit_aliases=tuple(sorted((getattr(benchmark_config, "unit_aliases", None) or {}).items())),
            **kwargs,
        )

    def get_embedder(self) -> Any:
        if self.embedder is not None:
            return self.embedder
        from harness.scoring.embeddings import minilm

        return minilm()

    def get_calibration(self) -> Any:
        if self.calibration is not None:
            return self.calibration
        from harness.scoring.calibration import load_calibration

        return load_calibration()


def grade_answer(item: Item, response: str, config: GradeConfig, prompt: str = "") -> Score:
    """Correctness only (no refusal or degenerate detection); ``prompt``: what the system saw."""
    answer = item.answer
    text = response if isinstance(response, str) else ""
    if answer.type == "numeric":
        from harness.scoring.numeric import grade_numeric

        return grade_numeric(
            item.question,
            text,
            float(answer.value or 0.0),
            answer.unit or "dimensionless",
            answer.rel_tol or config.default_rel_tol,
            config.generation_pattern,
            prompt=prompt,
            db_abs_tol=config.db_abs_tol,
            unit_aliases=config.unit_aliases,
        )
    if answer.type == "text":
        from dataclasses import replace

        from harness.scoring.text import grade_text

        score = grade_text(text, answer.accept, item.question)
        return replace(score, correct_strict=score.correct)
    if answer.type == "keypoints":
        from dataclasses import replace

        from harness.scoring.keypoints import grade_keypoints

        min_fraction = answer.min_fraction or config.default_min_fraction
        score = grade_keypoints(answer.points, text, min_fraction, config.get_embedder(), config.get_calibration(), item.question)
        return replace(score, correct_strict=score.correct)
    return Score(kind="none", correct=None, note="no answer key")


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")
REFUSAL_REACH = 200  # characters past the evidence that may finish its last sentence


def refusal_text(text: str, degeneracy: Degeneracy) -> str:
    """What the refusal detector reads: all of a clean answer; of a degenerate one, its evidence
    part finished to the end of its sentence (at most ``REFUSAL_REACH`` characters further), so
    "I'm sorry, but I'm not a" cut where the repeat begins still reads as the sentence it was."""
    if not degeneracy.degenerate:
        return text
    end = degeneracy.evidence_end
    stop = _SENTENCE_END.search(text, end, end + REFUSAL_REACH)
    return text[: stop.end() if stop else min(len(text), end + REFUSAL_REACH)]


def refusal_part(response: str, prompt: Any, finish_reason: str | None, question: str) -> str:
    """:func:`refusal_text` of a response graded on its own (:func:`grade` classifies the response
    once and reuses that for both the graders and this)."""
    from harness.scoring.degenerate import inspect, prompt_text

    return refusal_text(response, inspect(response, prompt_text(prompt), finish_reason, question))


def grade(item: Item, response: str, config: GradeConfig, prompt: Any = None, finish_reason: str | None = None) -> Score:
    """Grade ``response`` against ``item``: degenerate answers first, then correctness on the
    evidence part, then refusals on the same part (:func:`refusal_text`). ``prompt``: the prompt
    the system saw (a string or chat messages); ``finish_reason``: the generator's."""
    from harness.scoring.degenerate import inspect, prompt_text
    from harness.scoring.refusal import is_refusal

    text = response if isinstance(response, str) else ""
    seen = prompt_text(prompt)
    degeneracy = inspect(text, seen, finish_reason, item.question)
    refused, probability = is_refusal(refusal_text(text, degeneracy), config.get_embedder(), config.get_calibration(), item.question, seen)
    kind = None if refused and degeneracy.kind == "echo" else degeneracy.kind  # a copied example decline still declines
    score = grade_answer(item, text[: degeneracy.evidence_end], config, seen).with_degenerate(kind)
    return score.with_refusal(refused, probability)
