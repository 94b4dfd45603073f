"""Benchmark contamination check: how much of each question appears verbatim in the corpus.

    python -m harness corpus contamination [--n 8]

For every benchmark question, the fraction of its word n-grams (lowercased, punctuation
stripped) that also occur anywhere in the corpus. A question copied into the corpus scores 1.0;
the shipped benchmark is checked to stay at 0 for 8-grams.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True)
class Overlap:
    id: str
    fraction: float  # shared n-grams / question n-grams (0 when the question is shorter than n)
    shared: int


def question_overlaps(questions: Iterable[tuple[str, str]], documents: Iterable[str], n: int = 8) -> list[Overlap]:
    corpus_grams: set[tuple[str, ...]] = set()
    for text in documents:
        corpus_grams |= ngrams(words(text), n)
    out = []
    for item_id, question in questions:
        grams = ngrams(words(question), n)
        shared = len(grams & corpus_grams)
        out.append(Overlap(item_id, shared / len(grams) if grams else 0.0, shared))
    return out
