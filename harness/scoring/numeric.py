"""Numeric grading: pick the answer quantity from a response and compare it, in the expected unit.

    python -m harness grade answers.jsonl

Which quantity is the answer (edge cases, each a row in tests/scoring/test_numeric.py):

* An explicit marker wins: the quantity after the last ``Final answer:`` / ``Answer:`` /
  ``the answer is`` / ``\\boxed{}`` (looking one line further when the marker ends a line).
* Otherwise each mention is scored: ``= 19.2 GB/s``, ``is 1.1 V``, ``rounds up to 39`` state a
  result (+); operands of ``×``/``/``/``+`` (``4800 MT/s × 4 B``) are inputs (-); a quantity equal
  to one in the question is a restated input (-); asides such as ``down from 1.2 V``, ``compared
  with``, ``versus``, ``than``, ``previously`` or a clause naming another product generation than
  the question (``in DDR4`` when it asks about DDR5; the benchmark's ``[grading]
  generation_pattern``, off when unset) are not the answer (-); a quantity of the asked-for
  kind (same dimension as the expected unit) is preferred. Ties go to the last mention when the
  response calculates (contains ``=``) and to the first otherwise.

How it is compared (``value_correct`` / ``unit_correct`` are reported separately):

* Converted to the expected unit with pint and compared with ``rel_tol`` (relative; an expected
  value of 0 needs an exact 0). ``19200 MB/s`` for ``19.2 GB/s`` is right on both.
* The right number with a missing or wrong unit (``19.2`` or ``19.2 MB/s`` or ``19.2 Gb/s`` for
  ``19.2 GB/s``) is ``value_correct=True, unit_correct=False``: a unit-assignment error.
* ``dimensionless`` answers: a bare number or a count word (``6T``, ``4x``, ``39 cycles``) is right;
  a physical unit is a unit error. ``%`` converts (``50%`` = 0.5).
* ``dB`` answers compare the number as written and need ``dB`` for ``unit_correct``.
* ``°C`` and ``K`` convert with their offset; a bare ``C`` means °C when a temperature is expected.
* ``Gb``/``Gbit``/``Gbps`` are bits and ``GB`` bytes (8x apart, never barns); ``MT/s``/``GT/s`` are
  transfers; ``mA/V`` equals ``mS``.
* A bare number whose unit was named before it in the same clause (``the power in uW is 1.0``,
  ``P (uW) = 1.0``) takes that unit; ``extracted`` stays the number as written.
* No number at all: ``correct=value_correct=unit_correct=False`` and ``extracted=None``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

from harness.scoring.quantities import Mention, find_mentions, prepare
from harness.scoring.score import Score

_MARKER = re.compile(r"(?:\bfinal\s+answer\b(?:\s+is\b)?|\banswer\s*(?:is\b|[:=：])|\bthe\s+answer\s+is\b|\bresult\s*[:=：])\s*[:=：]?", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"(?<!\d)[.;!?](?=\s|$)|\n|,\s+(?:down|up|compared|versus|vs|while|whereas|but|which|and)\b", re.IGNORECASE)
_RESULT_BEFORE = re.compile(
    r"(?:=|≈|~|->|→|:|\bis|\bare|\bequals?|\bgives?|\byields?|\bbecomes?|\bcomes\s+to|\bto|\bof\s+about|\bresults?\s+in|\bso|\bthus|\btherefore|\bapproximately|\babout|\broughly|\baround|\bnearly|\bjust|\bonly)\s*$",
    re.IGNORECASE,
)
_OPERATOR_BEFORE = re.compile(r"(?:[×*·⋅/÷+]|\s-|\(|\bx|\btimes)\s*$")
_OPERATOR_AFTER = re.compile(r"^\s*(?:[×*·⋅/÷+]|-\s|x\s|times\s)\s*[\d(.]")
_ASIDE_BEFORE = re.compile(
    r"\b(?:down|up|increased|decreased|reduced|raised|lowered)\s+from\b|\bcompared\s+(?:to|with)\b|\bversus\b|\bvs\.?|\bthan\b|\binstead\s+of\b|\brather\s+than\b|"
    r"\bpreviously\b|\bformerly\b|\bused\s+to\b|\bprior\b|\bolder\b|\bprevious\b|\blegacy\b|\bunlike\b|\bwhereas\b|\bgiven\b|\bwith\s+an?\b",
    re.IGNORECASE,
)
MAX_EXTRACTED = 80  # characters of the extracted quantity kept in a Score (runaway digit strings are cut)
_COUNT_DIMENSIONS = ("[clock_cycle]", "[transfer]", "[refresh_command]", "[row_activation]")


@dataclass(frozen=True)
class Expected:
    value: float
    unit_text: str
    rel_tol: float

    @property
    def kind(self) -> str:
        from harness.units import is_plain_number_unit

        if self.unit_text.strip().lower() in {"db", "decibel", "decibels"}:
            return "db"
        return "count" if is_plain_number_unit(self.unit_text) else "unit"

    @property
    def unit(self) -> Any:
        from harness.units import parse_unit

        return parse_unit(self.unit_text)

    def is_temperature(self) -> bool:
        try:
            return self.kind == "unit" and "[temperature]" in str(self.unit.dimensionality)
        except Exception:
            return False


def _close(value: float, expected: float, rel_tol: float) -> bool:
    if not math.isfinite(value):
        return False
    if expected == 0:
        return value == 0
    return abs(value - expected) <= rel_tol * abs(expected) * (1 + 1e-9)


def _is_count_unit(unit: Any) -> bool:
    if unit is None:
        return False
    dims = str(unit.dimensionality)
    return any(dims == d for d in _COUNT_DIMENSIONS)


def _converted(mention: Mention, expected: Expected) -> float | None:
    """The mention's value in the expected unit, or None when the units are incompatible."""
    from harness.units import registry

    kind = expected.kind
    if kind == "db":
        return mention.value if mention.unit_text.lower() in {"db", "decibel", "decibels"} else None
    if kind == "count":
        if mention.unit is None or _is_count_unit(mention.unit):
            return mention.value  # bare number, count word or "39 cycles"
        if mention.unit_text.lower() in {"db", "decibel", "decibels"}:
            return None
        try:
            if mention.unit.dimensionless:
                return float(registry().Quantity(mention.value, mention.unit).to("dimensionless").magnitude)
        except Exception:
            return None
        return None
    target = expected.unit
    if mention.unit is None:
        if mention.is_count or not mention.unit_text:
            if _is_count_unit(target):
                return mention.value  # "39" for an answer in cycles
            try:
                if target.dimensionless:  # a bare ratio for a "%" answer
                    return float(registry().Quantity(mention.value, "dimensionless").to(target).magnitude)
            except Exception:
                return None
        return None
    try:
        return float(registry().Quantity(mention.value, mention.unit).to(target).magnitude)
    except Exception:
        return None


def judge(mention: Mention | None, expected: Expected) -> tuple[bool, bool]:
    """``(value_correct, unit_correct)`` for one mention (see the module docstring)."""
    if mention is None:
        return False, False
    converted = _converted(mention, expected)
    if converted is not None and _close(converted, expected.value, expected.rel_tol):
        return True, True
    if _close(mention.value, expected.value, expected.rel_tol):
        return True, False  # right number, wrong or missing unit
    return False, converted is not None  # wrong number; the unit was of the right kind or not


def _same_quantity(a: Mention, b: Mention) -> bool:
    if _close(a.value, b.value, 1e-6):
        return True
    if a.unit is None or b.unit is None:
        return False
    from harness.units import registry

    try:
        return _close(float(registry().Quantity(a.value, a.unit).to(b.unit).magnitude), b.value, 1e-6)
    except Exception:
        return False


def _compatible(mention: Mention, expected: Expected) -> bool:
    try:
        return _converted(mention, expected) is not None
    except Exception:
        return False


def _context(text: str, mention: Mention, prev_end: int) -> tuple[str, str]:
    """Words between the previous mention (or the clause start) and this one, and the rest of
    the clause after it."""
    lo = max(prev_end, mention.start - 120, 0)
    before = text[lo : mention.start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    after = text[mention.end : mention.end + 120]
    stop = _CLAUSE_BREAK.search(after)
    return before, after[: stop.start()] if stop else after


def _clause_text(text: str, mention: Mention) -> str:
    lo, hi = max(0, mention.start - 120), mention.end + 120
    before, after = text[lo : mention.start], text[mention.end : hi]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    stop = _CLAUSE_BREAK.search(after)
    return (before[breaks[-1].end() :] if breaks else before) + " " + (after[: stop.start()] if stop else after)


def score_mention(
    text: str,
    mention: Mention,
    prev_end: int,
    question_mentions: Sequence[Mention],
    question: str,
    expected: Expected,
    restated_penalty: bool,
    generations: re.Pattern[str] | None = None,
) -> float:
    """Higher = more likely the stated result (weights: see the module docstring)."""
    before, after = _context(text, mention, prev_end)
    score = 0.0
    if _RESULT_BEFORE.search(before):
        score += 2
    if _OPERATOR_BEFORE.search(before) or _OPERATOR_AFTER.match(after):
        score -= 3
    if _ASIDE_BEFORE.search(before):
        score -= 3
    if generations is not None:
        asked = {g.lower() for g in generations.findall(question)}
        if any(g.lower() not in asked for g in generations.findall(_clause_text(text, mention))):
            score -= 2
    if restated_penalty and any(_same_quantity(mention, q) for q in question_mentions):
        score -= 2
    if _compatible(mention, expected):
        score += 1.5
    if text[max(0, mention.start - 1) : mention.start] == "(" or re.match(r"\s*\)", after):
        score -= 0.5
    if mention.spelled:
        score -= 1  # "one of the", "the two devices": words are numbers less often than digits
    return score


def _best(
    text: str,
    candidates: Sequence[Mention],
    mentions: Sequence[Mention],
    question: str,
    expected: Expected,
    restated_penalty: bool,
    generations: re.Pattern[str] | None,
) -> Mention | None:
    if not candidates:
        return None
    question_mentions = find_mentions(question, expected.is_temperature())
    prev_end = {m.start: (mentions[i - 1].end if i else 0) for i, m in enumerate(mentions)}
    calculating = "=" in text
    best, best_key = None, None
    for index, mention in enumerate(candidates):
        value = score_mention(text, mention, prev_end.get(mention.start, 0), question_mentions, question, expected, restated_penalty, generations)
        key = (value, index if calculating else -index)
        if best_key is None or key > best_key:
            best, best_key = mention, key
    return best


_UNIT_BEFORE = re.compile(r"(?:\bin|\bunits?\s+of|\bmeasured\s+in)\s+(?P<a>[^\s,.;:()]+)|\((?P<b>[^\s()]{1,16})\)")


def _unit_named_before(text: str, mention: Mention, temperature: bool) -> Mention:
    """A bare number whose unit was named earlier in its clause ("the power in uW is 1.0",
    "P (uW) = 1.0") takes that unit; anything else is returned unchanged."""
    if mention.unit is not None or mention.is_count or mention.unit_text:
        return mention
    from dataclasses import replace

    from harness.scoring.quantities import read_unit

    lo = max(0, mention.start - 120)
    before = text[lo : mention.start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end() :] if breaks else before
    for found in reversed(list(_UNIT_BEFORE.finditer(clause))):
        written = found.group("a") or found.group("b")
        unit_text, unit, is_count = read_unit(written, temperature)
        if unit is not None and unit_text == written:
            return replace(mention, unit_text=unit_text, unit=unit)
    return mention


def extract_answer(response: str, question: str, expected: Expected, generation_pattern: str | None = None) -> Mention | None:
    """The quantity that states the result (see the module docstring), or None."""
    text = prepare(response)
    mention = _extract(text, question, expected, _compiled(generation_pattern) if generation_pattern else None)
    return _unit_named_before(text, mention, expected.is_temperature()) if mention is not None else None


@functools.lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _extract(text: str, question: str, expected: Expected, generations: re.Pattern[str] | None) -> Mention | None:
    mentions = find_mentions(text, expected.is_temperature(), prepared=True)
    if not mentions:
        return None
    for marker in reversed(list(_MARKER.finditer(text))):
        line_end = text.find("\n", marker.end())
        window_end = len(text) if line_end < 0 else line_end
        if not text[marker.end() : window_end].strip():  # "Final answer:\n19.2 GB/s"
            next_end = text.find("\n", window_end + 1)
            window_end = len(text) if next_end < 0 else next_end
        inside = [m for m in mentions if marker.end() <= m.start < window_end]
        if inside:
            return _best(text, inside, mentions, question, expected, False, generations)
    return _best(text, mentions, mentions, question, expected, True, generations)


def grade_numeric(question: str, response: str, value: float, unit: str, rel_tol: float, generation_pattern: str | None = None) -> Score:
    """Grade ``response`` against ``value`` ``unit`` within ``rel_tol``. Never raises on text.
    ``generation_pattern``: the benchmark's product generations (None = no generation aside rule)."""
    expected = Expected(value=float(value), unit_text=unit, rel_tol=float(rel_tol))
    mention = extract_answer(response, question, expected, generation_pattern)
    value_ok, unit_ok = judge(mention, expected)
    if mention is None:
        note = "no quantity found"
    elif value_ok and not unit_ok:
        note = f"unit error: {mention.unit_text or 'no unit'} for {unit}"
    elif mention.text.strip() and mention.unit_text and not mention.text.rstrip().endswith(mention.unit_text):
        note = f"unit {mention.unit_text} named before the number"
    else:
        note = ""
    extracted = mention.text.strip() if mention else None
    if extracted and len(extracted) > MAX_EXTRACTED:
        extracted = extracted[: MAX_EXTRACTED - 1] + "…"
    return Score(kind="numeric", correct=value_ok and unit_ok, value_correct=value_ok, unit_correct=unit_ok, extracted=extracted, note=note)
