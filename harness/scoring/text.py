"""Short-answer grading: does the response contain an accepted variant as a whole token run?

    python -m harness grade answers.jsonl

Both sides are normalised the same way, then a variant matches when its tokens appear contiguously
in the response, or when its letters equal the concatenation of a contiguous run of response
tokens (so separators do not matter). Edge cases (rows in tests/scoring/test_text.py):

* Case, hyphens, slashes and spaces: ``1T1C`` = ``1T-1C`` = ``1t 1c``; ``bank group`` =
  ``bank-group`` = ``Bank Group`` = ``bankgroup``.
* Plurals: ``bank groups`` matches ``bank group`` (and ``capacitances``/``buses``/``vias``/``dies``).
* Number words: ``six`` = ``6``, ``twenty-four`` = ``24`` (0-99).
* Whole tokens only: ``BG`` does not match inside ``BGA``, nor ``RAS`` inside ``ERASE``; a
  plural such as ``ECCs`` still matches ``ECC``.
* Markdown and punctuation are ignored (``**1T1C**``, ``"1T1C".``).
* Not handled: negation (``not a 1T1C cell`` still matches) and hedged lists of several terms.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from harness.scoring.quantities import NUMBER_WORDS
from harness.scoring.score import Score

_TOKEN = re.compile(r"[a-z0-9µ]+")
_TENS = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
_NOT_PLURAL = ("ss", "us", "is", "as", "os")  # loss, bus, axis, bias, cmos
_IRREGULAR = {"vias": "via", "indices": "index", "matrices": "matrix", "vertices": "vertex"}


def canonical(token: str) -> str:
    """One key for a word's singular and plural: ``groups``/``group`` -> ``group``, ``buses``/
    ``bus`` -> ``bus``, ``cases``/``case`` -> ``cas``, ``memories`` -> ``memory``. Applied to
    both sides, so only consistency matters, not English."""
    if len(token) <= 2 or token.isdigit():
        return token
    if token in _IRREGULAR:
        return _IRREGULAR[token]
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(_NOT_PLURAL):
        return token
    if token.endswith("s"):
        token = token[:-1]
    if token.endswith("e") and len(token) > 2:
        token = token[:-1]
    return token


def _fold(text: str) -> tuple[str, list[int]]:
    """Case- and width-folded text plus, for each folded character, its index in ``text``."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(str(text)):
        folded = unicodedata.normalize("NFKC", ch).lower()
        chars.append(folded)
        index.extend([i] * len(folded))
    return "".join(chars), index


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Canonical tokens with their character spans in ``text``."""
    folded, index = _fold(text)
    raw = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(folded)]
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(raw):
        word, start, end = raw[i]
        if word in _TENS and i + 1 < len(raw) and NUMBER_WORDS.get(raw[i + 1][0], 99) < 10 and folded[end : raw[i + 1][1]] in {"-", " "}:
            out.append((str(NUMBER_WORDS[word] + NUMBER_WORDS[raw[i + 1][0]]), index[start], index[raw[i + 1][2] - 1] + 1))
            i += 2
            continue
        if word in NUMBER_WORDS and NUMBER_WORDS[word] < 100:
            word = str(NUMBER_WORDS[word])
        out.append((canonical(word), index[start], index[end - 1] + 1))
        i += 1
    return out


def find_variant(response: str, variant: str) -> tuple[int, int] | None:
    """Character span of ``variant`` in ``response`` (whole tokens), or None."""
    wanted = [t for t, _, _ in tokens(variant)]
    if not wanted:
        return None
    joined = "".join(wanted)
    have = tokens(response)
    for i in range(len(have)):
        if [t for t, _, _ in have[i : i + len(wanted)]] == wanted:
            return have[i][1], have[i + len(wanted) - 1][2]
        run = ""
        for j in range(i, len(have)):
            run += have[j][0]
            if run == joined:
                return have[i][1], have[j][2]
            if len(run) >= len(joined) or not joined.startswith(run):
                break
    return None


def grade_text(response: str, accept: Sequence[str]) -> Score:
    """Correct when any accepted variant occurs as whole tokens. Never raises on text."""
    text = str(response)
    for variant in accept:
        span = find_variant(text, variant)
        if span is not None:
            return Score(kind="text", correct=True, extracted=text[span[0] : span[1]])
    return Score(kind="text", correct=False, note="no accepted variant found")
