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
* All-caps acronyms are not stemmed: ``case`` does not match ``CAS`` (``ECCs`` still matches ``ECC``).
* An occurrence that echoes the question does not count: for ``constant``, "Under constant-field
  Dennard scaling ..." when the question says "constant-field" (the term and its neighbour
  appear together in the question).
* A negated occurrence does not count: "does not mean a missing code", "not a 1T1C cell".
* Competing candidates are a hedge: "flash, pipeline, SAR or sigma-delta" is wrong for ``SAR``
  (a list joined by "or" with an item that is not an accepted variant).
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


def _acronym(written: str) -> bool:
    """All capitals (``CAS``, ``DRAM``, ``1T1C``), a plural ``s`` allowed (``ECCs``)."""
    letters = [c for c in written.rstrip("s") if c.isalpha()] if len(written) > 2 else [c for c in written if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Canonical tokens with their character spans in ``text``; an all-caps acronym keeps its
    letters as written, lowercased and marked with a leading ``^`` (never stemmed)."""
    folded, index = _fold(text)
    source = str(text)
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
        written = unicodedata.normalize("NFKC", source[index[start] : index[end - 1] + 1])
        key = "^" + word.removesuffix("s") if _acronym(written) and not word.isdigit() else canonical(word)
        out.append((key, index[start], index[end - 1] + 1))
        i += 1
    return out


def _same(have: str, want: str) -> bool:
    """Token keys match; an acronym matches only the same letters (``^ecc`` = ``^ecc``), and a
    lowercase spelling of it only when unstemmed (``dram`` for ``DRAM``, never ``case`` for ``CAS``)."""
    if have == want:
        return True
    if have.startswith("^") != want.startswith("^"):
        acronym, word = (have, want) if have.startswith("^") else (want, have)
        return acronym[1:] == word and not word.endswith("e")
    return False


def find_all(response: str, variant: str) -> list[tuple[int, int, int, int]]:
    """Every occurrence of ``variant`` in ``response`` (whole tokens) as ``(first token, last
    token + 1, start char, end char)``."""
    wanted = [t for t, _, _ in tokens(variant)]
    if not wanted:
        return []
    joined = "".join(w.lstrip("^") for w in wanted)
    have = tokens(response)
    found = []
    for i in range(len(have)):
        window = have[i : i + len(wanted)]
        if len(window) == len(wanted) and all(_same(h, w) for (h, _, _), w in zip(window, wanted)):
            found.append((i, i + len(wanted), have[i][1], have[i + len(wanted) - 1][2]))
            continue
        run = ""
        for j in range(i, len(have)):
            run += have[j][0].lstrip("^")
            if run == joined and (j > i or len(wanted) > 1):
                found.append((i, j + 1, have[i][1], have[j][2]))
                break
            if len(run) >= len(joined) or not joined.startswith(run):
                break
    return found


def find_variant(response: str, variant: str) -> tuple[int, int] | None:
    """Character span of the first occurrence of ``variant`` in ``response``, or None."""
    found = find_all(response, variant)
    return (found[0][2], found[0][3]) if found else None


_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|without|isn't|aren't|doesn't|don't|cannot|rather\s+than|instead\s+of)\b[^,;:.!?\n]{0,30}$", re.IGNORECASE
)
_CLAUSE_END = re.compile(r"[;:.!?\n]")
_LIST_SEP = re.compile(r",\s*(?:or\s+|and/or\s+)?|\s+(?:or|and/or)\s+")


def _echoes(response_tokens: list[tuple[str, int, int]], first: int, last: int, question: str) -> bool:
    """The occurrence and a neighbouring token appear together in the question."""
    asked = [t for t, _, _ in tokens(question)]
    span = [t for t, _, _ in response_tokens[first:last]]
    for lo, hi in ((first - 1, last), (first, last + 1)):
        if lo < 0 or hi > len(response_tokens):
            continue
        run = [t for t, _, _ in response_tokens[lo:hi]]
        if any(asked[k : k + len(run)] == run for k in range(len(asked) - len(run) + 1)):
            return True
    return not span


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 60) : start]))


def _competing(text: str, start: int, end: int, accept: Sequence[str]) -> bool:
    """The occurrence is one item of a list joined by "or" whose other items are not accepted."""
    clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    stop = _CLAUSE_END.search(text, end)
    clause = text[clause_start : stop.start() if stop else len(text)]
    if not re.search(r"\bor\b", clause, re.IGNORECASE):
        return False
    before, after = text[clause_start:start], text[end : stop.start() if stop else len(text)]
    in_list = bool(re.search(r"(?:,|\bor)\s*$", before, re.IGNORECASE) or re.match(r"\s*(?:,|or\b)", after, re.IGNORECASE))
    if not in_list:
        return False
    items = [p.strip(" *\"'()") for p in _LIST_SEP.split(clause) if p.strip()]
    short = [p for p in items if 0 < len(p.split()) <= 4]
    others = [p for p in short if not any(find_all(p, v) for v in accept)]
    return len(short) >= 2 and bool(others)


def grade_text(response: str, accept: Sequence[str], question: str = "") -> Score:
    """Correct when an accepted variant occurs as whole tokens, not echoing ``question``, not
    negated and not one of several competing options. Never raises on text."""
    text = str(response)
    have = tokens(text)
    skipped = ""
    for variant in accept:
        for first, last, start, end in find_all(text, variant):
            if question and _echoes(have, first, last, question):
                skipped = skipped or "echoed from the question"
            elif _negated(text, start):
                skipped = skipped or "negated"
            elif _competing(text, start, end, accept):
                return Score(kind="text", correct=False, ambiguous=True, extracted=text[start:end], note="one of several competing candidates")
            else:
                return Score(kind="text", correct=True, extracted=text[start:end])
    return Score(kind="text", correct=False, note=f"accepted variant only {skipped}" if skipped else "no accepted variant found")
