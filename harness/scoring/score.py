"""The result of grading one response: :class:`Score`.

    python -m harness grade answers.jsonl   # prints Score.public() for each line

``correct`` is ``None`` for items without an answer key (refusal probes of type ``none``);
``value_correct``/``unit_correct`` are ``None`` except for numeric items; ``coverage`` only for
key-point items. ``refused`` is filled for every item by the refusal detector; ``degenerate``
(with ``degenerate_kind``: loop, empty, gibberish, echo) for every item; a degenerate answer is a
refusal only when it declines before it starts repeating. ``correct_strict`` reads only an explicit ``Final answer:`` on numeric items
and equals ``correct`` on the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

#: Keys of one ``grade`` output line, in order. Public interface: do not rename or reorder.
PUBLIC_KEYS = ("id", "correct", "refused", "value_correct", "unit_correct", "extracted")


@dataclass(frozen=True)
class Score:
    kind: str  # the item's answer type: numeric | text | keypoints | none
    correct: bool | None  # None when the item has no answer key
    refused: bool = False  # the response declines to answer
    value_correct: bool | None = None  # numeric: the number matches (in the expected unit or as written)
    unit_correct: bool | None = None  # numeric: the unit is present and of the expected kind/scale
    extracted: str | None = None  # the quantity or text span the grader used
    coverage: float | None = None  # keypoints: fraction of points covered, 0..1
    refusal_p: float | None = None  # refusal detector probability, 0..1
    note: str = ""  # short reason, e.g. "no quantity found"
    correct_strict: bool | None = None  # numeric: right after an explicit "Final answer:" only; others: = correct
    ambiguous: bool = False  # the answer hedges between candidates that disagree (then it is wrong)
    degenerate: bool = False  # a loop, empty text, gibberish or an echo of the prompt
    degenerate_kind: str | None = None  # loop | empty | gibberish | echo | None

    @property
    def unit_error(self) -> bool:
        """Right number, missing or wrong unit (numeric items only)."""
        return is_unit_error(self.to_dict())

    def with_refusal(self, refused: bool, probability: float | None) -> Score:
        return replace(self, refused=refused, refusal_p=probability)

    def with_degenerate(self, kind: str | None) -> Score:
        return replace(self, degenerate=kind is not None, degenerate_kind=kind)

    def public(self, item_id: str) -> dict[str, Any]:
        """The ``python -m harness grade`` output line for this score."""
        return {
            "id": item_id,
            "correct": self.correct,
            "refused": self.refused,
            "value_correct": self.value_correct,
            "unit_correct": self.unit_correct,
            "extracted": self.extracted,
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.coverage is not None:
            out["coverage"] = round(self.coverage, 4)
        if self.refusal_p is not None:
            out["refusal_p"] = round(self.refusal_p, 4)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Score:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


def is_unit_error(grade: Mapping[str, Any]) -> bool:
    """The one definition of a unit-assignment error, for a Score's dict or a grade record:
    the right number with a missing or wrong unit."""
    return bool(grade.get("value_correct")) and grade.get("unit_correct") is False
