"""Benchmark item schema (one JSON object per line of an ``items.jsonl``).

``{"id", "category", "question", "answer", "gold_passages"?, "tags"?, "solution"?, "choices"?}``
where ``answer`` is one of::

    {"type": "numeric", "value": 6.4, "unit": "GB/s", "rel_tol": 0.02}   # rel_tol optional
    {"type": "text", "accept": ["bank group", "BG"]}
    {"type": "keypoints", "points": ["...", "..."], "min_fraction": 0.6}   # min_fraction optional
    {"type": "none"}                                                      # refusal probes

and ``choices`` (numeric and text items; multiple choice by likelihood) lists the key once and
distractors labelled with the mistake that produces them (:data:`ERROR_TYPES`)::

    [{"text": "22.4 GB/s", "correct": true},
     {"text": "179.2 GB/s", "correct": false, "error": "bits-bytes"}, ...]

This module only checks structure (standard library only). Unit strings are checked against pint,
and choices against the graders (the key grades correct, no distractor does), by
:mod:`harness.benchmark`, which is also where files are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Collection, Mapping

from harness.api.errors import DataError

REFUSAL_PROBE = "refusal_probe"  # the one category the harness gives a meaning: benign questions that must not be refused
# Every other category name is data: a benchmark declares its own under [categories.NAME] in benchmark.toml.
ANSWER_TYPES = ("numeric", "text", "keypoints", "none")
ITEM_KEYS = {"id", "category", "question", "answer", "gold_passages", "tags", "solution", "notes", "choices"}
#: The mistakes a distractor may stand for (``choices[].error``), with what each one means.
ERROR_TYPES: dict[str, str] = {
    "bits-bytes": "bits and bytes confused: x8 or /8",
    "subchannel-dimm": "one 32-bit DDR5 subchannel and the whole DIMM confused: x2 or /2",
    "clock-data-rate": "clock frequency and data rate (two transfers per clock) confused: x2 or /2",
    "ns-cycles": "a time in ns given as a clock-cycle count or the reverse (the item states tCK or the clock)",
    "si-prefix": "an SI-prefix slip: x1000 or /1000 in the stated unit",
    "off-by-one": "an integer count off by one (rounding the wrong way, fencepost)",
    "ddr4-value": "the other memory generation's value: DDR4 for a DDR5 quantity (DDR5 for a DDR4 one)",
    "wrong-unit": "the right number with a wrong unit",
    "percent-fraction": "a fraction given as a percentage or the reverse: x100 or /100",
    "db-factor": "power and amplitude decibels confused (10 log vs 20 log): x2 or /2 in dB",
    "factor-two": "a factor of two dropped or added in the formula (1/2 C V^2, two edges, differential)",
    "decimal-slip": "a misplaced decimal point: x10 or /10",
    "confusable-term": "a related term of the same kind (text items)",
}
CHOICE_KEYS = {"text", "correct", "error"}


def number_text(value: float) -> str:
    """``22.4``, ``39``, ``1391304``, ``1e7``: shortest general form, exponents without ``+`` or
    leading zeros; integers that form would round are written out."""
    text = f"{value:g}"
    if float(value).is_integer() and float(text) != value:
        return str(int(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def quantity_text(value: float, unit: str | None) -> str:
    """A numeric key as the benchmark states it: ``22.4 GB/s``, ``39`` (dimensionless), ``11.28%``, ``1176 nm^2``."""
    unit = (unit or "").strip()
    if unit.lower() in ("", "dimensionless"):
        return number_text(value)
    if unit == "%":
        return f"{number_text(value)}%"
    return f"{number_text(value)} {unit.replace('**', '^')}"


@dataclass(frozen=True)
class Choice:
    """One multiple-choice option: the key (``correct``) or a distractor with its ``error`` type."""

    text: str
    correct: bool
    error: str | None = None  # one of ERROR_TYPES for distractors; None for the key

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "correct": self.correct}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Answer:
    type: str
    value: float | None = None  # numeric: the expected value, in ``unit``
    unit: str | None = None  # numeric: pint-parsable unit, or "dimensionless"
    rel_tol: float | None = None  # numeric: relative tolerance; None -> benchmark default
    accept: tuple[str, ...] = ()  # text: accepted variants
    points: tuple[str, ...] = ()  # keypoints: the points a good answer covers
    min_fraction: float | None = None  # keypoints: fraction needed; None -> 0.6

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "numeric":
            out.update(value=self.value, unit=self.unit)
            if self.rel_tol is not None:
                out["rel_tol"] = self.rel_tol
        elif self.type == "text":
            out["accept"] = list(self.accept)
        elif self.type == "keypoints":
            out["points"] = list(self.points)
            if self.min_fraction is not None:
                out["min_fraction"] = self.min_fraction
        return out

    def stated(self) -> str | None:
        """The key as one text to score by likelihood: a numeric key as the benchmark states it
        (:func:`quantity_text`), the first accepted text variant, the key points joined by
        ``"; "``; None for refusal probes."""
        if self.type == "numeric":
            return quantity_text(float(self.value or 0.0), self.unit)
        if self.type == "text":
            return self.accept[0]
        if self.type == "keypoints":
            return "; ".join(self.points)
        return None


@dataclass(frozen=True)
class Item:
    id: str
    category: str
    question: str
    answer: Answer
    gold_passages: tuple[str, ...] = ()  # "doc-path#heading-slug" anchors into the corpus
    tags: tuple[str, ...] = ()
    solution: str | None = None  # reasoning items: a pint expression that recomputes the answer
    notes: str | None = None
    choices: tuple[Choice, ...] = ()  # multiple choice by likelihood: the key once plus labelled distractors

    def public_fields(self) -> dict[str, Any]:
        """What a system may see: everything except the answer key and its solution."""
        return {
            "id": self.id,
            "category": self.category,
            "question": self.question,
            "gold_passages": list(self.gold_passages),
            "tags": list(self.tags),
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "question": self.question,
            "answer": self.answer.to_dict(),
        }
        if self.gold_passages:
            out["gold_passages"] = list(self.gold_passages)
        if self.tags:
            out["tags"] = list(self.tags)
        if self.solution is not None:
            out["solution"] = self.solution
        if self.notes is not None:
            out["notes"] = self.notes
        if self.choices:
            out["choices"] = [c.to_dict() for c in self.choices]
        return out


def _fail(where: str, fld: str, problem: str) -> DataError:
    shown = fld if fld.isprintable() and fld.strip() == fld and fld else repr(fld)  # keys from the file may hold newlines
    return DataError(f"{where}: {shown}: {problem}")


def _str_list(obj: Mapping[str, Any], key: str, where: str, fld: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(where, fld, f"expected a list of non-empty strings, got {value!r}")
    return tuple(value)


def _number(value: Any, where: str, fld: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(where, fld, f"expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise _fail(where, fld, f"must be > 0, got {value!r}")
    return float(value)


def parse_answer(obj: Any, where: str) -> Answer:
    if not isinstance(obj, dict):
        raise _fail(where, "answer", f"expected an object with a 'type', got {obj!r}")
    kind = obj.get("type")
    if kind not in ANSWER_TYPES:
        raise _fail(where, "answer.type", f"unknown answer type {kind!r}; use one of {', '.join(ANSWER_TYPES)}")
    allowed = {
        "numeric": {"type", "value", "unit", "rel_tol"},
        "text": {"type", "accept"},
        "keypoints": {"type", "points", "min_fraction"},
        "none": {"type"},
    }[kind]
    extra = sorted(set(obj) - allowed)
    if extra:
        raise _fail(where, f"answer.{extra[0]}", f"unknown key for a {kind} answer; allowed: {', '.join(sorted(allowed))}")
    if kind == "numeric":
        if "value" not in obj:
            raise _fail(where, "answer.value", "missing; numeric answers need a value")
        unit = obj.get("unit")
        if not isinstance(unit, str) or not unit.strip():
            raise _fail(where, "answer.unit", f"expected a unit string such as 'ns' or 'dimensionless', got {unit!r}")
        rel_tol = obj.get("rel_tol")
        if rel_tol is not None:
            rel_tol = _number(rel_tol, where, "answer.rel_tol", positive=True)
            if rel_tol >= 1:
                raise _fail(where, "answer.rel_tol", f"must be below 1 (a fraction, 0.02 = 2%), got {rel_tol!r}")
        return Answer("numeric", value=_number(obj["value"], where, "answer.value"), unit=unit.strip(), rel_tol=rel_tol)
    if kind == "text":
        accept = _str_list(obj, "accept", where, "answer.accept")
        if not accept:
            raise _fail(where, "answer.accept", "needs at least one accepted variant")
        return Answer("text", accept=accept)
    if kind == "keypoints":
        points = _str_list(obj, "points", where, "answer.points")
        if not points:
            raise _fail(where, "answer.points", "needs at least one key point")
        frac = obj.get("min_fraction")
        if frac is not None:
            frac = _number(frac, where, "answer.min_fraction")
            if not 0 < frac <= 1:
                raise _fail(where, "answer.min_fraction", f"must be in (0, 1], got {frac!r}")
        return Answer("keypoints", points=points, min_fraction=frac)
    return Answer("none")


def parse_choices(value: Any, where: str, answer_type: str) -> tuple[Choice, ...]:
    """``choices``: at least two objects, texts unique (case and spacing ignored), exactly one
    ``correct``, every distractor with an ``error`` from :data:`ERROR_TYPES`."""
    if answer_type not in ("numeric", "text"):
        raise _fail(where, "choices", f"only numeric and text items take choices; this item's answer is {answer_type!r}")
    if not isinstance(value, list) or len(value) < 2:
        raise _fail(where, "choices", f"expected a list of at least two choice objects, got {value!r}")
    choices: list[Choice] = []
    seen: dict[str, int] = {}
    for n, obj in enumerate(value):
        fld = f"choices[{n}]"
        if not isinstance(obj, dict):
            raise _fail(where, fld, f"expected an object with text and correct, got {obj!r}")
        unknown = sorted(set(obj) - CHOICE_KEYS)
        if unknown:
            raise _fail(where, f"{fld}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(CHOICE_KEYS))}")
        text, correct, error = obj.get("text"), obj.get("correct"), obj.get("error")
        if not isinstance(text, str) or not text.strip() or text != text.strip():
            raise _fail(where, f"{fld}.text", f"expected non-empty text without surrounding spaces, got {text!r}")
        if not isinstance(correct, bool):
            raise _fail(where, f"{fld}.correct", f"expected true or false, got {correct!r}")
        if correct and error is not None:
            raise _fail(where, f"{fld}.error", "the key has no error type; drop it")
        if not correct and error not in ERROR_TYPES:
            raise _fail(where, f"{fld}.error", f"unknown error type {error!r}; use one of {', '.join(ERROR_TYPES)}")
        folded = " ".join(text.lower().split())
        if folded in seen:
            raise _fail(where, f"{fld}.text", f"duplicate of choices[{seen[folded]}] ({text!r}); make every choice different")
        seen[folded] = n
        choices.append(Choice(text, correct, error))
    keys = [n for n, c in enumerate(choices) if c.correct]
    if len(keys) != 1:
        raise _fail(where, "choices", f"exactly one choice must be correct (the key), found {len(keys)}")
    return tuple(choices)


def parse_item(obj: Any, where: str, categories: Collection[str] | None = None) -> Item:
    """Build an :class:`Item` from a decoded JSON value; ``where`` is ``FILE:LINE`` for messages.
    ``categories``: the benchmark's declared category names (None = any name)."""
    if not isinstance(obj, dict):
        raise _fail(where, "item", f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - ITEM_KEYS)
    if unknown:
        raise _fail(where, unknown[0], f"unknown key; allowed keys: {', '.join(sorted(ITEM_KEYS))}")
    for key in ("id", "category", "question", "answer"):
        if key not in obj:
            raise _fail(where, key, "missing required field")
    item_id = obj["id"]
    if not isinstance(item_id, str) or not item_id.strip():
        raise _fail(where, "id", f"expected a non-empty string, got {item_id!r}")
    category = obj["category"]
    if not isinstance(category, str) or not category.strip():
        raise _fail(where, "category", f"expected a non-empty string, got {category!r}")
    if categories and category not in categories:
        raise _fail(where, "category", f"unknown category {category!r}; use one of {', '.join(categories)} (declared in benchmark.toml)")
    question = obj["question"]
    if not isinstance(question, str) or not question.strip():
        raise _fail(where, "question", f"expected a non-empty string, got {question!r}")
    answer = parse_answer(obj["answer"], where)
    if category == REFUSAL_PROBE and answer.type != "none" and answer.type != "keypoints":
        raise _fail(where, "answer.type", f"refusal probes use 'none' or 'keypoints', got {answer.type!r}")
    if category != REFUSAL_PROBE and answer.type == "none":
        raise _fail(where, "answer.type", f"'none' is only for refusal_probe items; this item is {category!r}")
    solution = obj.get("solution")
    if solution is not None and (not isinstance(solution, str) or not solution.strip()):
        raise _fail(where, "solution", f"expected a non-empty expression string, got {solution!r}")
    notes = obj.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise _fail(where, "notes", f"expected a string, got {notes!r}")
    choices = parse_choices(obj["choices"], where, answer.type) if "choices" in obj else ()
    return Item(
        id=item_id.strip(),
        category=category,
        question=question,
        answer=answer,
        gold_passages=_str_list(obj, "gold_passages", where, "gold_passages"),
        tags=_str_list(obj, "tags", where, "tags"),
        solution=solution,
        notes=notes,
        choices=choices,
    )
