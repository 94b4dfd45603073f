"""Numeric grading: pick the answer quantity from a response and compare it, in the expected unit.

    python -m harness grade answers.jsonl

Which quantity is the answer (edge cases, each a row in tests/scoring/test_numeric.py):

* An explicit marker wins: the quantity after the last ``Final answer:`` / ``Answer:`` /
  ``the answer is`` / ``\\boxed{}`` (looking one line further when the marker ends a line).
* Otherwise each mention is scored: ``= 19.2 GB/s``, ``is 1.1 V``, ``has 14 CA pins``, ``rounds
  up to 39`` state a result (+); operands of ``×``/``/``/``+`` (``4800 MT/s × 4 B``) are inputs (-); a quantity equal
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

Hedges and copies (``ambiguous``):

* Candidates that disagree beyond the tolerance make the answer ``ambiguous`` and wrong: a hedged
  list (``could be 3.9 us, 7.8 us or 1.95 us``), alternatives (``= 38.4 GB/s. Or = 9.6 GB/s.``),
  the same statement with two values (a loop ``is 1.1 V. is 1.2 V.``, whose first copy is all the
  grader sees, see :mod:`harness.scoring.degenerate`), a range wider than the tolerance
  (``1.1–1.2 V``: one hedged mention with the unit right, never a unit error).
* Numbers copied from the prompt's passages are not the answer: a citation line (``[5] DDR5-5600:
  ... = 22.4 GB/s``) never, a verbatim run of the passages only when the response states no value
  of the asked-for kind of its own.
* ``dB`` keys compare with an absolute tolerance (``db_abs_tol``, 0.2 dB by default).
* Benchmark unit conventions (``[grading] unit_aliases`` in ``benchmark.toml``): RAQ reads
  JEDEC's ``KB`` as ``KiB``, so a ``2 KB`` page is 2048 bytes.

``correct_strict`` (lm-evaluation-harness strict-match) reads only the quantity after an explicit
``Final answer:`` (or ``\\boxed{}``); ``correct`` (flexible-extract) reads any mention as above.
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
    r"(?:=|≈|~|->|→|:|\bis|\bare|\bhas|\bhave|\bneeds|\brequires|\bequals?|\bgives?|\byields?|\bbecomes?|\bcomes\s+to|\bto|\bof\s+about|\bresults?\s+in|\bso|\bthus|\btherefore|\bapproximately|\babout|\broughly|\baround|\bnearly|\bjust|\bonly)\s*$",
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
DB_ABS_TOL = 0.2  # dB; decibel keys compare with this absolute tolerance
_STRICT_MARKER = re.compile(r"\bfinal\s+answer\b", re.IGNORECASE)
_HEDGE_BETWEEN = re.compile(r"\bor\b|\beither\b|\balternatively\b|\botherwise\b|\bmaybe\b|\bperhaps\b|\bpossibly\b|/", re.IGNORECASE)
_LIST_BETWEEN = re.compile(r"^\s*(?:,|;)?\s*(?:and\s+)?$")
_CITATION = re.compile(r"(?m)(?:^|(?<=[.!?:]\s))\s*\[\d{1,2}\][^\n]*(?:\n(?!\s*\n)[^\n]*)*")
_COPY_RUN = 8  # words; a run this long shared with the passages is a copy
LEAD_IN_WORDS = 3  # words before two values that make them the same statement ("alpha is 1." / "alpha is 2.")
_COUNT_DIMENSIONS = ("[clock_cycle]", "[transfer]", "[refresh_command]", "[row_activation]")


@dataclass(frozen=True)
class Expected:
    value: float
    unit_text: str
    rel_tol: float
    db_abs_tol: float = DB_ABS_TOL  # dB, for decibel keys
    unit_aliases: tuple[tuple[str, str], ...] = ()  # benchmark conventions: ("KB", "KiB") reads KB as KiB

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


def _close_to(value: float, expected: Expected) -> bool:
    if expected.kind == "db":
        return math.isfinite(value) and abs(value - expected.value) <= expected.db_abs_tol + 1e-9
    return _close(value, expected.value, expected.rel_tol)


def apply_aliases(text: str, aliases: tuple[tuple[str, str], ...]) -> str:
    """Rewrite unit spellings after a number by the benchmark's conventions (``2 KB`` -> ``2 KiB``)."""
    for alias, meaning in aliases:
        text = re.sub(rf"(?<=[\d\s]){re.escape(alias)}(?![A-Za-z])", meaning, text)
    return text


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
    if converted is not None and _close_to(converted, expected):
        return True, True
    if _close_to(mention.value, expected):
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


@dataclass(frozen=True)
class Extraction:
    """What the numeric grader read from a response."""

    answer: Mention | None  # the flexible answer (any mention, scored)
    rivals: tuple[Mention, ...] = ()  # candidates that disagree with it beyond the tolerance, in a hedge
    strict: Mention | None = None  # the quantity after an explicit "Final answer:", if any
    strict_rivals: tuple[Mention, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return bool(self.rivals)


def extract_answer(response: str, question: str, expected: Expected, generation_pattern: str | None = None, prompt: str = "") -> Mention | None:
    """The quantity that states the result (see the module docstring), or None."""
    return extract(response, question, expected, generation_pattern, prompt).answer


def extract(response: str, question: str, expected: Expected, generation_pattern: str | None = None, prompt: str = "") -> Extraction:
    """The answer quantity, its rivals in a hedge and the strict (``Final answer:``) quantity.
    ``prompt``: what the system was shown; numbers copied from its passages are not the answer."""
    text = apply_aliases(prepare(response), expected.unit_aliases)
    generations = _compiled(generation_pattern) if generation_pattern else None
    found = _extract(text, question, expected, generations, _copied(text, prompt, question))
    temperature = expected.is_temperature()

    def named(m: Mention | None) -> Mention | None:
        return _unit_named_before(text, m, temperature) if m is not None else None

    return Extraction(
        answer=named(found.answer),
        rivals=tuple(m for m in (named(r) for r in found.rivals) if m is not None),
        strict=named(found.strict),
        strict_rivals=tuple(m for m in (named(r) for r in found.strict_rivals) if m is not None),
    )


@functools.lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _copied(text: str, prompt: str, question: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Citation lines of ``text`` and runs copied from the prompt's passages (the question and
    its numbers are restated inputs, handled by the scoring)."""
    citations = [(m.start(), m.end()) for m in _CITATION.finditer(text)]
    copies: list[tuple[int, int]] = []
    if prompt:
        from harness.scoring.degenerate import copied_spans

        source = prompt.replace(question, " ") if question else prompt
        copies = copied_spans(text, prepare(source), _COPY_RUN)
    return citations, copies


def _inside(mention: Mention, spans: Sequence[tuple[int, int]]) -> bool:
    return any(lo <= mention.start < hi for lo, hi in spans)


def _rivals(text: str, best: Mention, candidates: Sequence[Mention], expected: Expected, scores: dict[int, float]) -> tuple[Mention, ...]:
    """Candidates of the asked-for kind that disagree with ``best`` beyond the tolerance and sit
    in a hedge with it: a range, a list or alternatives joined by "or", or the same statement
    made twice with two values."""
    best_value = _converted(best, expected)
    if best_value is None:
        return ()
    floor = max(1.0, scores.get(best.start, 0.0) - 1.0)  # rivals must be about as plausible as the answer
    out = []
    for other in candidates:
        partner = best.in_range and other.in_range and (other.end <= best.start <= other.end + 12 or best.end <= other.start <= best.end + 12)
        if other is best or (scores.get(other.start, -9.0) < floor and not partner):
            continue
        value = _converted(other, expected)
        if value is None or _close(value, best_value, expected.rel_tol) or (expected.kind == "db" and abs(value - best_value) <= expected.db_abs_tol):
            continue
        first, second = (best, other) if best.start < other.start else (other, best)
        between = text[first.end : second.start]
        hedged = first.in_range and second.in_range and len(between) <= 12
        if not hedged and len(between) <= 80:
            clause_end = _CLAUSE_BREAK.search(text, second.end)
            tail = text[second.end : clause_end.start() if clause_end else len(text)]
            hedged = bool(_HEDGE_BETWEEN.search(between)) or (bool(_LIST_BETWEEN.match(between)) and bool(re.search(r"\bor\b", tail + between, re.IGNORECASE)))
            if not hedged:
                hedged = _lead_in(text, first) == _lead_in(text, second) != ""
        if hedged:
            out.append(other)
    return tuple(out)


def _lead_in(text: str, mention: Mention) -> str:
    """The last ``LEAD_IN_WORDS`` words and numbers of the mention's clause before it, lowercased
    ("so the exponent alpha is" -> "exponent alpha is")."""
    before = text[max(0, mention.start - 120) : mention.start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end() :] if breaks else before
    return " ".join(re.findall(r"[a-z0-9.]+|=", clause.lower())[-LEAD_IN_WORDS:])


@dataclass(frozen=True)
class _Found:
    answer: Mention | None
    rivals: tuple[Mention, ...] = ()
    strict: Mention | None = None
    strict_rivals: tuple[Mention, ...] = ()


def _extract(
    text: str, question: str, expected: Expected, generations: re.Pattern[str] | None, copied: tuple[list[tuple[int, int]], list[tuple[int, int]]]
) -> _Found:
    mentions = find_mentions(text, expected.is_temperature(), prepared=True)
    citations, copies = copied
    own = [m for m in mentions if not _inside(m, citations)]
    original = [m for m in own if not _inside(m, copies)]
    if any(_compatible(m, expected) and not m.spelled for m in original):
        own = original  # the response states a value of its own: copied ones are not it
    if not own:
        return _Found(None)
    flexible: _Found | None = None
    strict: tuple[Mention | None, tuple[Mention, ...]] = (None, ())
    for marker in reversed(list(_MARKER.finditer(text))):
        line_end = text.find("\n", marker.end())
        window_end = len(text) if line_end < 0 else line_end
        if not text[marker.end() : window_end].strip():  # "Final answer:\n19.2 GB/s"
            next_end = text.find("\n", window_end + 1)
            window_end = len(text) if next_end < 0 else next_end
        inside = [m for m in own if marker.end() <= m.start < window_end]
        if not inside:
            continue
        best, rivals = _pick(text, inside, mentions, question, expected, False, generations)
        if flexible is None:
            flexible = _Found(best, rivals)
        if _STRICT_MARKER.match(marker.group(0)):
            strict = (best, rivals)
            break
    if flexible is None:
        best, rivals = _pick(text, own, mentions, question, expected, True, generations)
        flexible = _Found(best, rivals)
    return _Found(flexible.answer, flexible.rivals, strict[0], strict[1])


def _pick(
    text: str,
    candidates: Sequence[Mention],
    mentions: Sequence[Mention],
    question: str,
    expected: Expected,
    restated_penalty: bool,
    generations: re.Pattern[str] | None,
) -> tuple[Mention | None, tuple[Mention, ...]]:
    best = _best(text, candidates, mentions, question, expected, restated_penalty, generations)
    if best is None:
        return None, ()
    question_mentions = find_mentions(question, expected.is_temperature())
    prev_end = {m.start: (mentions[i - 1].end if i else 0) for i, m in enumerate(mentions)}
    scores = {
        m.start: score_mention(text, m, prev_end.get(m.start, 0), question_mentions, question, expected, restated_penalty, generations) for m in candidates
    }
    return best, _rivals(text, best, candidates, expected, scores)


def grade_numeric(
    question: str,
    response: str,
    value: float,
    unit: str,
    rel_tol: float,
    generation_pattern: str | None = None,
    prompt: str = "",
    db_abs_tol: float = DB_ABS_TOL,
    unit_aliases: tuple[tuple[str, str], ...] = (),
) -> Score:
    """Grade ``response`` against ``value`` ``unit`` within ``rel_tol``. Never raises on text.
    ``generation_pattern``: the benchmark's product generations (None = no generation aside rule);
    ``prompt``: what the system was shown (its passages are not the answer); ``db_abs_tol``: dB;
    ``unit_aliases``: the benchmark's unit conventions."""
    expected = Expected(
        value=float(value), unit_text=apply_aliases(unit, unit_aliases), rel_tol=float(rel_tol), db_abs_tol=db_abs_tol, unit_aliases=unit_aliases
    )
    found = extract(response, question, expected, generation_pattern, prompt)
    mention = found.answer
    value_ok, unit_ok = judge(mention, expected)
    strict_value, strict_unit = judge(found.strict, expected)
    if found.ambiguous and mention is not None:
        value_ok = False
        unit_ok = _compatible(mention, expected)
        note = "ambiguous: " + ", ".join(dict.fromkeys(m.text.strip() for m in sorted((mention, *found.rivals), key=lambda m: m.start)))
    elif mention is None:
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
    return Score(
        kind="numeric",
        correct=value_ok and unit_ok,
        value_correct=value_ok,
        unit_correct=unit_ok,
        extracted=extracted,
        note=note[:300],
        ambiguous=found.ambiguous,
        correct_strict=strict_value and strict_unit and not found.strict_rivals,
    )
