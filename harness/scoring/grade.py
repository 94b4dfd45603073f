"""Dispatch: grade one response to one benchmark item -> :class:`~harness.scoring.score.Score`.

    python -m harness grade answers.jsonl

The answer type picks the grader (numeric, text, keypoints; ``none`` has no key so ``correct`` is
None); the refusal detector runs on every response. Graders are pure functions of
``(item, response, config)`` and never raise on the response text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from harness.api.items import Item
from harness.scoring.score import Score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GradeConfig:
    default_rel_tol: float = 0.02  # fraction; used when an item has no rel_tol (benchmark.toml)
    default_min_fraction: float = 0.6  # fraction of key points needed (benchmark.toml)
    generation_pattern: str | None = None  # benchmark.toml [grading]: product generations for the numeric aside rule
    embedder: Any = field(default=None, compare=False)  # an Embedder; None = packaged MiniLM
    calibration: Any = field(default=None, compare=False)  # a Calibration; None = packaged JSON

    @classmethod
    def from_benchmark(cls, benchmark_config: Any, **kwargs: Any) -> GradeConfig:
        return cls(
            default_rel_tol=benchmark_config.default_rel_tol,
            default_min_fraction=benchmark_config.default_min_fraction,
            generation_pattern=getattr(benchmark_config, "generation_pattern", None),
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


def grade_answer(item: Item, response: str, config: GradeConfig) -> Score:
    """Correctness only (no refusal detection)."""
    answer = item.answer
    text = response if isinstance(response, str) else ""
    if answer.type == "numeric":
        from harness.scoring.numeric import grade_numeric

        return grade_numeric(
            item.question, text, float(answer.value or 0.0), answer.unit or "dimensionless", answer.rel_tol or config.default_rel_tol, config.generation_pattern
        )
    if answer.type == "text":
        from harness.scoring.text import grade_text

        return grade_text(text, answer.accept)
    if answer.type == "keypoints":
        from harness.scoring.keypoints import grade_keypoints

        min_fraction = answer.min_fraction or config.default_min_fraction
        return grade_keypoints(answer.points, text, min_fraction, config.get_embedder(), config.get_calibration())
    return Score(kind="none", correct=None, note="no answer key")


def grade(item: Item, response: str, config: GradeConfig) -> Score:
    """Grade ``response`` against ``item`` and flag refusals."""
    from harness.scoring.refusal import is_refusal

    score = grade_answer(item, response, config)
    refused, probability = is_refusal(response if isinstance(response, str) else "", config.get_embedder(), config.get_calibration())
    return score.with_refusal(refused, probability)
