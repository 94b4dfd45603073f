"""Degenerate answers: repetition loops, empty text, gibberish, echoes of the prompt.

    python -m harness grade answers.jsonl     # every grade carries degenerate / degenerate_kind

A degenerate answer is its own outcome, beside right, wrong and refused, and its repetitions are
never evidence (it is a refusal only when it declines before it starts repeating: a loop of
declines). :func:`inspect` returns the kind and ``evidence_end``,
the characters of the response a grader may read: everything up to the end of the first copy of
a repeating block (a clean ``gm = 38.7 mS`` followed by a loop of another sentence can still be
correct; a loop alternating ``is 1.1 V. is 1.2 V.`` shows both values in its first copy, so the
numeric grader calls it ambiguous).

Kinds, first match wins (edge cases, rows in tests/scoring/test_degenerate.py):

* ``empty``: no content word once fillers (``The answer is:``, ``Key steps:``) are dropped.
* ``gibberish``: most of the text is runaway digit runs (two or more, ``0.000000000000``) or
  symbols; a single number with a runaway tail is read as the number it spells.
* ``loop``: the text ends inside repetition: its last ``TAIL_COPY`` tokens (the final one may be
  cut off mid-word) already occurred earlier in it, so the answer ends on a copy of something it
  said before. The generator's loop stopper cuts a looping answer after two or three copies, so
  a text that ends on a copy did not end on its own, however short the repeated part is. Also a
  loop: a run of ``WINDOW`` tokens recurs at least three times up to the end of the text (two
  when the loop stopper cut it, ``finish_reason == "loop"``), and the text was cut in the middle
  of a repeat, or the block was seen ``LOOP_COPIES`` times, or the repeats are most of the text
  (``LOOP_SHARE``), or it ends in a counting run (``V_0 + V_1 + ... + V_36``: a short pattern
  repeated ``COUNT_RUN`` times with only its numbers changing), or it ends in a stutter (a word-bearing
  pattern of at most ``STUTTER_PERIOD`` tokens, ``STUTTER_COPIES`` times: ``DDR5_Fix_Fix_Fix_Fix_``). Numbered list markers are ignored
  when comparing copies, so ``1. Use the passages. 2. Use the passages. 3. ...`` is a loop. Repetition followed by new text
  that ends the answer cuts the evidence but is not degenerate unless it is most of the text.
  (Rubric and rater agreement: docs/scoring.md, "Degenerate answers: the settled reading".)
* ``echo``: most of the words sit in runs copied verbatim from the instructions or the retrieved
  passages (``ECHO_SHARE``; restating the question inside an answer is normal and does not
  count); or the answer is nothing but invented question-and-answer pairs built from the
  prompt's words (``ECHO_WORDS``: the prompt's examples replayed in other words); or it says
  nothing but words of its question (:func:`restates_only`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.scoring.questions import asks_yes_or_no, content_words, only_other_questions, same_word

KINDS = ("loop", "empty", "gibberish", "echo")
LOOP_SHARE = 0.75  # share of the characters from the first repeat on that makes a loop which ends cleanly degenerate
LOOP_COPIES = 4  # a block seen this many times is a loop however the text ends
TAIL_COPY = 6  # tokens; a text whose last this-many tokens occurred earlier in it ends on a copy (a loop)
COUNT_RUN = 8  # copies of a short pattern with only its numbers changing ("V_0 + V_1 + ... + V_27") that make a counting loop
COUNT_PERIOD = 6  # tokens; longest pattern a counting loop repeats (a list of different computations has longer items)
STUTTER_COPIES = 4  # copies of a pattern of at most STUTTER_PERIOD tokens that end a text on a stutter
STUTTER_PERIOD = 3
GIBBERISH_SHARE = 0.5  # share of visible characters in digit runs or symbol clutter
ECHO_SHARE = 0.6  # fraction of the words inside copied runs that makes an answer an echo
ECHO_RUN = 6  # words; a run at least this long shared with the prompt counts as copied
ECHO_WORDS = 0.8  # share of content words found in the prompt that makes a replay of its example pairs an echo
RESTATED_WORDS = 3  # content words; an answer of at least this many, all from the question, only restates it
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|[^\w\s]")
_LIST_MARKER = re.compile(r"(?m)^\s*(?:\d{1,3}|[a-z])[.)]\s")
_FILLER = re.compile(
    r"\b(?:the\s+)?(?:final\s+)?answer(?:\s+to\s+(?:this|the|your|that|my)\s+question(?:\s+above)?)?\s+is\b|\bfinal\s+answer\b|\b(?:the\s+)?key\s+steps?\b(?:\s+(?:to\s+answer\s+(?:this|the)\s+question\s+)?are)?|"
    r"\bhere\s+(?:is|are)\b|\bstep\s+\d+\b|\banswer\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Loop:
    start: int  # character offset where the first copy of the repeating block begins
    first_copy_end: int  # character offset where the first copy ends (evidence stops here)
    copies: float  # how many times the repeated run occurs
    share: float  # characters from the end of the first copy on / all characters, 0..1


@dataclass(frozen=True)
class Degeneracy:
    kind: str | None  # loop | empty | gibberish | echo | None
    evidence_end: int  # characters of the response that count as evidence

    @property
    def degenerate(self) -> bool:
        return self.kind is not None


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Word, number and symbol tokens with their spans; numbered list markers become ``#`` so
    the copies of a numbered loop compare equal."""
    markers = {m.start() + len(m.group(0)) - len(m.group(0).lstrip()) for m in _LIST_MARKER.finditer(text)}
    out = []
    for m in _TOKEN.finditer(text):
        word = m.group(0).lower()
        if m.start() in markers:
            word = "#"
        out.append((word, m.start(), m.end()))
    return out


WINDOW = 5  # tokens; a run of this many tokens seen again and again marks a repetition
_CLEAN_END = re.compile(r"(?:(?<!\d)[.!?]|[)\]`*\"'])\s*$")  # a sentence end, not the dot of a cut number ("= 1.")


def find_repeat(text: str, min_count: int = 3, window: int = WINDOW) -> Loop | None:
    """Where repeating begins: the second occurrence of the earliest ``window``-token run that
    occurs at least ``min_count`` times and recurs near the end of the text (the generator's
    loop stopper works the same way on model tokens), or None. When the text ends in an exactly
    periodic block, the first copy is the whole block (so a loop alternating two values keeps
    both in its first copy)."""
    tokens = _tokens(text)
    keys = [t[0] for t in tokens]
    seen: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(keys) - window + 1):
        seen.setdefault(tuple(keys[i : i + window]), []).append(i)
    best: list[int] | None = None
    tail = len(keys) - max(2 * window, len(keys) // 3)  # the last occurrence must be near the end: loops run to the end
    for starts in seen.values():
        if len(starts) >= min_count and starts[-1] >= tail and (best is None or starts[1] < best[1]):
            best = starts
    if best is None:
        return None
    cut = best[1]
    periodic = _periodic_tail(keys, 1.5)
    if periodic is not None and periodic[0] <= cut:
        cut = max(cut, periodic[0] + periodic[1])
    total = len(text.rstrip()) or 1
    begin = tokens[cut][1] if cut < len(tokens) else len(text)
    return Loop(start=tokens[best[0]][1], first_copy_end=begin, copies=float(len(best)), share=(total - begin) / total)


def _tail_copy(tokens: list[tuple[str, int, int]], length: int = TAIL_COPY) -> int | None:
    """Character offset where the text's final ``length`` tokens (:func:`_tokens`) begin when
    they already occur earlier in the text, ending before them (the last token may be a cut-off
    prefix of its earlier counterpart: ``... is: 0.30  The answer is: 0.3``); None otherwise."""
    keys = [t[0] for t in tokens]
    n = len(keys)
    if n < 2 * length:
        return None
    tail = keys[n - length :]
    for i in range(n - 2 * length + 1):
        if keys[i : i + length - 1] == tail[:-1] and keys[i + length - 1].startswith(tail[-1]):
            return tokens[n - length][1]
    return None


def _stutter(tokens: list[tuple[str, int, int]]) -> int | None:
    """Character offset of the second copy when the text ends in a word-bearing pattern of at most
    ``STUTTER_PERIOD`` tokens repeated ``STUTTER_COPIES`` times or more (``DDR5_Fix_Fix_Fix_Fix_``,
    ``the the the the``); None otherwise. A runaway digit tail is a number, not a stutter."""
    keys = [t[0] for t in tokens]
    periodic = _periodic_tail(keys, STUTTER_COPIES)
    if periodic is None or periodic[1] > STUTTER_PERIOD:
        return None
    start, period = periodic
    if not any(re.fullmatch(r"[^\W\d_]{2,}", k) for k in keys[start : start + period]):
        return None
    return tokens[start + period][1]


def _counting_run(tokens: list[tuple[str, int, int]]) -> int | None:
    """Character offset where a counting run begins when the text (its :func:`_tokens`) ends in
    one: a pattern of at most ``COUNT_PERIOD`` tokens repeated ``COUNT_RUN`` times or more with
    only its numbers changing. None otherwise."""
    keys = ["0" if t[0][0].isdigit() else t[0] for t in tokens]
    periodic = _periodic_tail(keys, COUNT_RUN)
    if periodic is None or periodic[1] > COUNT_PERIOD or not any(k == "0" for k in keys[periodic[0] : periodic[0] + periodic[1]]):
        return None
    return tokens[periodic[0]][1]


def _periodic_tail(keys: list[str], min_copies: float) -> tuple[int, int] | None:
    """``(first token, period)`` of the longest exactly periodic tail holding at least
    ``min_copies`` copies (ties to the shortest period), or None."""
    n = len(keys)
    best: tuple[int, int] | None = None  # (tail length, period)
    for period in range(1, n // 2 + 1):
        i = n - 1 - period
        while i >= 0 and keys[i] == keys[i + period]:
            i -= 1
        tail = n - 1 - i
        if tail / period >= min_copies and (best is None or tail > best[0]):
            best = (tail, period)
    return None if best is None else (n - best[0], best[1])


def strip_fillers(text: str) -> str:
    """``text`` without the fillers small models wrap answers in (``The answer to this question
    is:``, ``Key steps:``, ``Here is``)."""
    return _FILLER.sub(" ", text)


def _is_empty(text: str) -> bool:
    stripped = strip_fillers(text)
    return not re.search(r"[^\W_]{2,}|\d", stripped)


def _gibberish_share(text: str) -> float:
    """Share of the non-space characters in digit runs or in symbol clutter. One number with a
    runaway tail (``alpha = 1.000000000000``) is a number, read as the value it spells: digit runs
    count only when there are two or more."""
    visible = re.sub(r"\s+", "", text)
    if not visible:
        return 0.0
    found = [len(m.group(0)) for m in re.finditer(r"\d*(?:(\d)\1{7,})\d*", visible)]
    runs = sum(found) if len(found) >= 2 else 0
    symbols = len(re.findall(r"[^\w.,;:!?()'\"%/=+\-×·°µΩ*<>\[\]]", visible))
    return (runs + symbols) / len(visible)


def echo_share(text: str, prompt: str, run: int = ECHO_RUN) -> float:
    """Fraction of the text's words inside runs of at least ``run`` words that also occur, in
    order, in ``prompt``."""
    words = [t[0] for t in _tokens(text) if t[0] != "#" and (t[0][0].isalnum())]
    source = [t[0] for t in _tokens(prompt) if t[0] != "#" and (t[0][0].isalnum())]
    if len(words) < run or len(source) < run:
        return 0.0
    grams = {tuple(source[i : i + run]) for i in range(len(source) - run + 1)}
    covered = [False] * len(words)
    for i in range(len(words) - run + 1):
        if tuple(words[i : i + run]) in grams:
            for j in range(i, i + run):
                covered[j] = True
    return sum(covered) / len(words)


def copied_spans(text: str, prompt: str, run: int = ECHO_RUN) -> list[tuple[int, int]]:
    """Character spans of ``text`` copied verbatim (``run`` words or more) from ``prompt``."""
    tokens = [t for t in _tokens(text) if t[0] != "#"]
    source = [t[0] for t in _tokens(prompt) if t[0] != "#"]
    if len(tokens) < run or len(source) < run:
        return []
    grams = {tuple(source[i : i + run]) for i in range(len(source) - run + 1)}
    spans: list[tuple[int, int]] = []
    for i in range(len(tokens) - run + 1):
        if tuple(t[0] for t in tokens[i : i + run]) in grams:
            lo, hi = tokens[i][1], tokens[i + run - 1][2]
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(hi, spans[-1][1]))
            else:
                spans.append((lo, hi))
    return spans


def prompt_text(prompt: Any) -> str:
    """The text a system saw: a string, or the contents of a list of chat messages."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
    return ""


def inspect(text: str, prompt: str = "", finish_reason: str | None = None, question: str = "") -> Degeneracy:
    """Classify ``text`` (see the module docstring). ``prompt``: what the system was shown
    (instructions, passages and the question); ``finish_reason``: the generator's, when known;
    ``question``: restating it is normal, so it is not counted as an echo."""
    text = str(text)
    end = len(text)
    if _is_empty(text):
        return Degeneracy("empty", end)
    loop = find_repeat(text, 2 if finish_reason == "loop" else 3)
    evidence_end = loop.first_copy_end if loop is not None else end
    if _gibberish_share(text) >= GIBBERISH_SHARE:
        return Degeneracy("gibberish", evidence_end)
    tokens = _tokens(text)
    copy_start = _tail_copy(tokens)
    if copy_start is None:
        copy_start = _counting_run(tokens)
    if copy_start is None:
        copy_start = _stutter(tokens)
    if copy_start is not None:  # ends on a copy of something it said before
        return Degeneracy("loop", min(evidence_end, copy_start))
    cut = finish_reason in (None, "loop") and not _CLEAN_END.search(text)  # stopped mid-repeat
    if loop is not None and (cut or loop.share >= LOOP_SHARE or loop.copies >= LOOP_COPIES):
        return Degeneracy("loop", evidence_end)
    source = prompt.replace(question, " ") if question else prompt
    if source and echo_share(text, source) >= ECHO_SHARE:
        return Degeneracy("echo", evidence_end)
    if question and only_other_questions(text, question) and word_share(text, source) >= ECHO_WORDS:
        return Degeneracy("echo", evidence_end)  # replays the prompt's example pairs in other words
    if question and restates_only(text, question):
        return Degeneracy("echo", evidence_end)
    return Degeneracy(None, evidence_end)


def word_share(text: str, source: str) -> float:
    """Share of the content words of ``text`` that occur in ``source`` (inflections match)."""
    words, known = content_words(text), content_words(source)
    return sum(any(same_word(w, k) for k in known) for w in words) / len(words) if words else 0.0


def restates_only(text: str, question: str) -> bool:
    """Does ``text`` say nothing but words of ``question`` ("The answer is: burn-in kills off the
    weak chips before they ship.")? Not for an answer that states a number, nor for a question a
    restatement answers: a yes/no question ("Does X ...?" -- "X does ...") or a choice ("A or
    B?" -- "A is faster")."""
    if asks_yes_or_no(question) or re.search(r"\bor\b", question, re.I):
        return False
    words = content_words(_FILLER.sub(" ", text))
    if any(w[0].isdigit() for w in words):  # a number, even one taken from the question, is an answer (maybe a wrong one)
        return False
    return len(words) >= RESTATED_WORDS and word_share(" ".join(words), question) == 1.0
