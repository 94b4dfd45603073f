"""Find every number-with-unit ("mention") in free text; :mod:`harness.scoring.numeric` picks one.

    python -m harness grade answers.jsonl

Text is first prepared: LaTeX (``\\times``, ``\\mu``, ``\\text{}``, ``\\boxed{}``, ``^{-13}``) and
Markdown (``**``, backticks) are unwrapped, superscripts become ``^`` exponents, the unicode minus
and full-width digits become ASCII. Then each number is read with its unit.

Edge cases (each is a row in tests/scoring/test_numeric.py):

* ``1.5 × 10^-13 F``, ``1.5x10^(-13)``, ``1.5·10⁻¹³``, ``1.5e-13``, ``10^-13`` are one number.
* ``−0.3 V`` (U+2212) is negative; ``DDR5-4800`` is 4800, not -4800; digits inside identifiers
  (``DDR5``, ``tRCD2``, ``1T1C``) and ordinals (``3rd``) are not numbers.
* ``19,200 MB/s`` is 19200 (comma thousands); a decimal comma is not supported.
* Units: the longest prefix of the following text that pint parses, so ``GB/s of bandwidth`` is
  ``GB/s``; English words pint would misread (``in`` = inch, ``a`` = year, ``at``, ``as``) end the
  unit. ``per`` joins (``mV per decade``). Spelled units (``milliseconds``) and plurals work.
* ``T`` alone (``6T cell``) is a transistor count, never tesla; ``x``/``times`` (``4x``) is a count;
  ``clock cycles`` is ``cycles``; ``degrees C``/``deg C``/``° C`` is ``°C``; ``µ``/``μ``/``u`` all
  mean micro; ``Ω`` is ohm.
* A bare number has ``unit=None``; ``5%`` has unit ``%``.
* ``0.05 /V`` and ``0.05 per volt`` are ``1/V``.
* Ranges ``1.1–1.2 V``, ``1.1 to 1.2 V``, ``between 1.1 and 1.2 V``: the first number takes the
  unit of the second and both are marked ``in_range`` (one hedged mention, not a unit error).
* A number with a runaway digit tail (``1.000000000000``, the tail of a generation loop) is the
  value it spells (1), as the labelling rubric reads it; list markers at the start of a line
  (``1. Determine ...``) are not numbers.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from harness.api.errors import DataError

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_LATEX_WRAPPERS = re.compile(r"\\(?:text|mathrm|textrm|mathit|operatorname|mbox|rm)\s*\{([^{}]*)\}")
_LATEX_SYMBOLS = {
    r"\times": "×",
    r"\cdot": "·",
    r"\approx": "≈",
    r"\sim": "~",
    r"\mu": "µ",
    r"\Omega": "Ω",
    r"\Delta": "Δ",
    r"\%": "%",
    r"\,": " ",
    r"\;": " ",
    r"\!": "",
    r"\ ": " ",
    r"\left": "",
    r"\right": "",
}
_MINUSES = str.maketrans({"\u2212": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " "})

NUMBER = re.compile(
    r"(?<![\w.])(?<!\d,)"  # not inside an identifier (DDR5), a decimal or a comma list tail
    r"(?P<sign>[-+](?=\.?\d))?"
    r"(?:"
    r"(?P<pow10>10)\s*(?:\^|\*\*)\s*\(?\s*(?P<e3>[-+]?\d{1,3})\s*\)?"  # 10^-13
    r"|"
    r"(?P<mant>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<e1>[-+]?\d{1,3})(?![\w]))?"  # 1.5e-13
    r"(?:\s*[×xX*·⋅]\s*10\s*(?:\^|\*\*)\s*\(?\s*(?P<e2>[-+]?\d{1,3})\s*\)?)?"  # 1.5 × 10^-13
    r")"
)
_ATOM = r"(?:%|°[CF]|[A-Za-zµμΩΩ°]+(?:(?:\^|\*\*)\(?-?\d\)?)?)"
_CONNECTOR = r"(?:\s*[/·⋅]\s*|\*(?=[A-Za-zµμΩ])|\s+per\s+)"
_UNIT_SPAN = re.compile(rf"[ \t]{{0,2}}(?P<span>(?:1\s*/\s*)?{_ATOM}(?:{_CONNECTOR}{_ATOM}){{0,3}})")
_ATOM_SPLIT = re.compile(rf"({_CONNECTOR})")

#: Words pint would read as units (inch, year, atmosphere, attosecond...) that end a unit span.
STOP_WORDS = frozenset(
    "a an and are as at be by c d e each for from g if in is it l no not of on or per pt ft so G E D M P Q R U "
    "than that the then this to was we were which with cd sr yd oz lb ha mi nmi bar rem".split()
)
#: Unit texts that mean "a count of things" and match a dimensionless answer.
COUNT_WORDS = frozenset({"t", "x", "times", "fold", "transistors", "transistor"})
_ORDINAL = re.compile(r"(?:st|nd|rd|th)\b")
_PHRASES = (
    (re.compile(r"\b(?:degrees?|deg)\s*(?:celsius|C)\b|°\s+C\b", re.IGNORECASE), "°C"),
    (re.compile(r"\b(?:degrees?|deg)\s*(?:fahrenheit|F)\b", re.IGNORECASE), "°F"),
    (re.compile(r"\bclock\s+cycles?\b", re.IGNORECASE), "cycles"),
    (re.compile(r"\bkilo[- ]?ohms?\b", re.IGNORECASE), "kohm"),
)


_UNITS_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
#: Spelled numbers read as values (``six transistors``, ``twenty-four``); also used by the text grader.
NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(_UNITS_WORDS)} | _TENS_WORDS | {"hundred": 100, "thousand": 1000}
_SPELLED = re.compile(
    r"\b(?P<tens>"
    + "|".join(_TENS_WORDS)
    + r")(?:[- ](?P<ones>"
    + "|".join(_UNITS_WORDS[1:10])
    + r"))?\b|\b(?P<word>"
    + "|".join(_UNITS_WORDS)
    + r"|hundred|thousand)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Mention:
    """One number in a text, with the unit written after it (if any)."""

    value: float  # the number as written (exponent applied)
    unit_text: str  # the unit as written, "" when bare
    unit: Any  # pint unit, or None when bare or a count word
    is_count: bool  # unit_text is a count word (6T, 4x, times)
    start: int  # offsets into the prepared text
    end: int
    text: str  # the mention as written (prepared text)
    spelled: bool = False  # the number is a word ("six")
    in_range: bool = False  # one end of a range "1.1–1.2 V" (a hedge between two values)


def prepare(text: str) -> str:
    """Normalise LaTeX, Markdown and unicode so numbers and units read uniformly."""
    s = str(text)
    s = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+", lambda m: "^" + m.group(0).translate(_SUPERSCRIPTS), s)
    s = s.replace("\u00b5", "µ").translate(_MINUSES)
    s = "".join(ch if ch in "µ×·Ω°" else unicodedata.normalize("NFKC", ch) for ch in s)
    for _ in range(2):  # nested \text{\mu A}
        s = _LATEX_WRAPPERS.sub(r"\1", s)
    for latex, plain in _LATEX_SYMBOLS.items():
        s = s.replace(latex, plain)
    s = re.sub(r"\\boxed\s*\{([^{}]*)\}", r"Final answer: \1", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", s)
    s = re.sub(r"\^\s*\{([^{}]*)\}", r"^(\1)", s)
    s = re.sub(r"\$+|\\[()\[\]]|`+", " ", s)
    s = re.sub(r"(?<![A-Za-z0-9)])\*\*|\*\*(?![-(]?\d)", " ", s)  # Markdown bold, not the exponent in nm**2
    s = s.replace("{", "").replace("}", "")
    for pattern, replacement in _PHRASES:
        s = pattern.sub(replacement, s)
    return s


def _number_value(match: re.Match[str]) -> float | None:
    try:
        if match.group("pow10"):
            value = float(f"1e{int(match.group('e3'))}")
        else:
            exponent = int(match.group("e1") or 0) + int(match.group("e2") or 0)
            value = float(f"{match.group('mant').replace(',', '')}e{exponent}")
    except (OverflowError, ValueError):
        return None
    if match.group("sign") == "-":
        value = -value
    return value if math.isfinite(value) else None


def _unit_candidates(span: str) -> list[str]:
    """Prefixes of ``span`` made of whole atoms, longest first, cut at the first stop word."""
    parts = _ATOM_SPLIT.split(span)  # atom, connector, atom, ...
    atoms = parts[0::2]
    for index, atom in enumerate(atoms):
        if atom in STOP_WORDS or (len(atom) > 1 and atom.lower() in STOP_WORDS):
            atoms = atoms[:index]
            break
    out = []
    for n in range(len(atoms), 0, -1):
        out.append("".join(parts[: 2 * n - 1]))
    return [c for c in out if c.strip() != "1"]  # the "1" of "1/V" is not a unit on its own


def read_unit(span: str, temperature_expected: bool = False) -> tuple[str, Any, bool]:
    """Return ``(unit_text, pint_unit_or_None, is_count)`` for the longest parsable prefix."""
    from harness.units import parse_unit

    for candidate in _unit_candidates(span):
        text = candidate.strip()
        lowered = text.lower()
        if lowered in COUNT_WORDS:
            return text, None, True
        if re.fullmatch(r"T(?:\^.*)?", text):
            continue  # tesla is never meant here; "T" alone was handled as a count above
        spellings = ["°C"] if text == "C" and temperature_expected else [text]
        if re.fullmatch(r"[A-Za-z]{5,}(?:\s*/\s*[A-Za-z]{5,})?", text) and text != text.lower():
            spellings.append(text.lower())  # "milliSiemens"; short symbols keep their case (MS vs ms)
        for spelling in spellings:
            try:
                return text, parse_unit(spelling), False
            except DataError:
                continue
            except Exception:  # pint can raise odd types on odd strings; a non-unit is not an error
                continue
    return "", None, False


def find_mentions(text: str, temperature_expected: bool = False, prepared: bool = False) -> list[Mention]:
    """Every number in ``text`` with its unit, in order. Never raises on arbitrary text."""
    s = text if prepared else prepare(text)
    mentions: list[Mention] = []
    for match in NUMBER.finditer(s):
        if mentions and match.start() < mentions[-1].end:
            continue  # the exponent of a unit already read (µA/V^2)
        value = _number_value(match)
        if value is None:
            continue
        end = match.end()
        rest = s[end : end + 80]
        if _ORDINAL.match(rest) or re.match(r"[A-Za-z]+\d", rest):
            continue  # 3rd, 1T1C, 2N2222
        if _LIST_MARKER.match(s, match.start()) and _at_line_start(s, match.start()):
            continue  # "1. Determine ...": a list marker, not a value
        unit_text, unit, is_count = "", None, False
        per = _PER_UNIT.match(rest)
        if per:
            inverse_text, inverse, _ = read_unit("1/" + rest[per.end() :][:40], temperature_expected)
            if inverse is not None:
                written = len(inverse_text) - 2
                end += per.end() + written
                mentions.append(
                    Mention(
                        value=value,
                        unit_text=s[match.end() : end].strip(),
                        unit=inverse,
                        is_count=False,
                        start=match.start(),
                        end=end,
                        text=s[match.start() : end],
                    )
                )
                continue
        if rest.startswith("%"):
            unit_text, unit = "%", _percent()
            end += 1
        else:
            span = _UNIT_SPAN.match(rest)
            if span:
                unit_text, unit, is_count = read_unit(span.group("span"), temperature_expected)
                if unit_text:
                    end += span.start("span") + len(unit_text)
        if not unit_text and re.match(r"[A-Za-z]", rest):
            continue  # a number glued to a word that is not a unit (e.g. "5G", "2D")
        mentions.append(Mention(value=value, unit_text=unit_text, unit=unit, is_count=is_count, start=match.start(), end=end, text=s[match.start() : end]))
    return _with_spelled(s, _ranges(s, mentions), temperature_expected)


_LIST_MARKER = re.compile(r"\d{1,2}(?:\.[ \t]+(?=\D)|\)[ \t]+)")  # "1. " or "2) " opening a line


def _at_line_start(s: str, start: int) -> bool:
    line = s.rfind("\n", 0, start) + 1
    return not s[line:start].strip(" \t*-•")


_PER_UNIT = re.compile(r"[ \t]{0,2}(?:/[ \t]?|per[ \t]+)(?=[A-Za-zµμΩ])")
_RANGE_JOIN = re.compile(r"^\s*(?:–|—|-|to|and)\s*$", re.IGNORECASE)


def _ranges(s: str, mentions: list[Mention]) -> list[Mention]:
    """Mark ``a–b unit`` / ``a to b unit`` / ``between a and b unit`` pairs (see the module docstring)."""
    from dataclasses import replace

    out = list(mentions)
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        join = s[a.end : b.start]
        if not _RANGE_JOIN.match(join) or b.unit_text == "":
            continue
        if join.strip().lower() == "and" and not re.search(r"\bbetween\s+$", s[max(0, a.start - 12) : a.start], re.IGNORECASE):
            continue
        if (a.unit_text and a.unit_text != b.unit_text) or re.search(r"\bfrom\s+$", s[max(0, a.start - 8) : a.start], re.IGNORECASE):
            continue  # "from 1.2 V to 1.1 V" is a change, not a range
        out[i] = replace(a, unit_text=a.unit_text or b.unit_text, unit=b.unit, is_count=b.is_count, in_range=True)
        out[i + 1] = replace(b, in_range=True)
    return out


def _with_spelled(s: str, mentions: list[Mention], temperature_expected: bool) -> list[Mention]:
    """Add spelled numbers (``six transistors``) that do not overlap a digit mention."""
    taken = [(m.start, m.end) for m in mentions]
    extra = []
    for match in _SPELLED.finditer(s):
        if any(a < match.end() and match.start() < b for a, b in taken):
            continue
        if match.group("word"):
            value = float(NUMBER_WORDS[match.group("word").lower()])
        else:
            value = float(NUMBER_WORDS[match.group("tens").lower()] + (NUMBER_WORDS[match.group("ones").lower()] if match.group("ones") else 0))
        end = match.end()
        unit_text, unit, is_count = "", None, False
        span = _UNIT_SPAN.match(s[end : end + 80])
        if span and span.group("span")[:1].isalpha() and span.start("span") > 0:
            unit_text, unit, is_count = read_unit(span.group("span"), temperature_expected)
            if unit_text:
                end += span.start("span") + len(unit_text)
        extra.append(
            Mention(value=value, unit_text=unit_text, unit=unit, is_count=is_count, start=match.start(), end=end, text=s[match.start() : end], spelled=True)
        )
    return sorted(mentions + extra, key=lambda m: m.start) if extra else mentions


def _percent() -> Any:
    from harness.units import parse_unit

    return parse_unit("%")
