"""Benchmark item schema (one JSON object per line of an ``items.jsonl``).

``{"id", "category", "question", "answer", "gold_passages"?, "tags"?, "solution"?}`` where
``answer`` is one of::

    {"type": "numeric", "value": 6.4, "unit": "GB/s", "rel_tol": 0.02}   # rel_tol optional
    {"type": "text", "accept": ["bank group", "BG"]}
    {"type": "keypoints", "points": ["...", "..."], "min_fraction": 0.6}   # min_fraction optional
    {"type": "none"}                                                      # refusal probes

This module only checks structure (standard library only). Unit strings are checked against pint
by :mod:`harness.benchmark`, which is also where files are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Collection, Mapping

from harness.api.errors import DataError

REFUSAL_PROBE = "refusal_probe"  # the one category the harness gives a meaning: benign questions that must not be refused
# Every other category name is data: a benchmark declares its own under [categories.NAME] in benchmark.toml.
ANSWER_TYPES = ("numeric", "text", "keypoints", "none")
ITEM_KEYS = {"id", "category", "question", "answer", "gold_passages", "tags", "solution", "notes"}


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
    return Item(
        id=item_id.strip(),
        category=category,
        question=question,
        answer=answer,
        gold_passages=_str_list(obj, "gold_passages", where, "gold_passages"),
        tags=_str_list(obj, "tags", where, "tags"),
        solution=solution,
        notes=notes,
    )
