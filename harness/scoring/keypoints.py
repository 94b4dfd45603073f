"""Key-point grading: what fraction of an item's points does an explanation cover?

    python -m harness calibrate     # fits the point-matcher and prints held-out accuracy

A point is covered when a logistic model over two features says so (fitted on
``data/keypoint_labels.jsonl``):

* ``similarity``: the best MiniLM cosine between the point and any statement of the response (a
  sentence, a pair of adjacent sentences, or a clause of a long sentence) of the same polarity
  (paraphrase-aware);
* ``overlap``: the largest fraction of the point's content words (stop words dropped, plurals and
  ``-ing``/``-ed``/``-age`` folded) found in one such statement (exact terms such as ``tRFC``).

A statement is a segment of at least ``MIN_WORDS`` words that is not a keyword list (comma- or
bullet-separated items of one or two words). Polarity: a statement that negates ("does not leak")
never covers a point that affirms ("leaks away"), nor the other way round.

The item is correct when ``coverage >= min_fraction`` (default from ``benchmark.toml``, 0.6).

A point is covered only by a statement that holds a third of the point's own content words that
the question lacks (:func:`adds_to_question`): restating the question states no point.

Edge cases (rows in tests/scoring/test_keypoints.py): empty response -> coverage 0; a response
that only restates the question covers nothing; one sentence may cover several points; very long
responses are cut to their first 60 sentences; "The charge does not leak away over time" does
not cover "the charge leaks away over time"; a keyword list ("charge, leakage, refresh,
capacitor") covers nothing.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from harness.scoring.calibration import Calibration
from harness.scoring.embeddings import Embedder
from harness.scoring.score import Score
from harness.scoring.text import canonical

FEATURES = ("similarity", "overlap")
MAX_SENTENCES = 60  # sentences of a response considered; later text is ignored
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+|(?<=:)\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*|\d+(?:\.\d+)?")
STOP = frozenset(
    "a an the of to in on at for by with from and or but if then than that this these those is are was were be been being it its as "
    "into onto over under about which who whom whose what when where why how so such can could may might must shall should will would "
    "do does did done has have had not no nor very more most less least any all each every some one own same other there their they them "
    "you your we our us he she his her also only just while because between per via using use used".split()
)


def sentences(text: str) -> list[str]:
    parts = [p.strip(" -*•\t") for p in _SENTENCE.split(str(text))]
    return [p for p in parts if len(p) > 2][:MAX_SENTENCES]


_CLAUSE = re.compile(r",\s+|;\s+|\s+(?=(?:which|so|because|while|whereas|but|then)\s)", re.IGNORECASE)
CLAUSE_MIN_WORDS = 12  # sentences at least this long are also split into clauses


def segments(text: str) -> list[str]:
    """Sentences, each pair of adjacent sentences (a point may span two), and the clauses of long
    sentences (one sentence may state several points)."""
    parts = sentences(text)
    clauses = []
    for part in parts:
        if len(part.split()) >= CLAUSE_MIN_WORDS:
            clauses += [c.strip() for c in _CLAUSE.split(part) if len(c.split()) >= 3]
    return list(dict.fromkeys(parts + [f"{a} {b}" for a, b in zip(parts, parts[1:])] + clauses))


MIN_WORDS = 4  # words; shorter segments are not statements
DISTINCTIVE_SHARE = 1 / 3  # of a point's words absent from the question, the share one statement must hold
_NEGATOR = re.compile(r"\b(?:not|no|never|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)


def negated(text: str) -> bool:
    return bool(_NEGATOR.search(str(text).replace("’", "'")))


def is_statement(segment: str) -> bool:
    """At least ``MIN_WORDS`` words and not a keyword list."""
    if len(segment.split()) < MIN_WORDS:
        return False
    items = [i for i in re.split(r"[,;/•]|\s-\s|\band\b", segment) if i.strip()]
    return not (len(items) >= 3 and sum(len(i.split()) for i in items) / len(items) <= 2.0)


def content_words(text: str) -> set[str]:
    out = set()
    for word in _WORD.findall(str(text).lower()):
        if word in STOP or len(word) < 2:
            continue
        for suffix in ("ing", "ed", "age"):
            if word.endswith(suffix) and len(word) > len(suffix) + 3:
                word = word[: -len(suffix)]
                break
        out.add(canonical(word))
    return out


def overlap(point: str, response_words: set[str]) -> float:
    wanted = content_words(point)
    return len(wanted & response_words) / len(wanted) if wanted else 0.0


def point_features(points: Sequence[str], response: str, embedder: Embedder) -> list[dict[str, float]]:
    """``similarity`` and ``overlap`` for each point against one response (statements of the
    point's polarity only)."""
    segs = [s for s in segments(response) if is_statement(s)]
    out = [{"similarity": 0.0, "overlap": 0.0} for _ in points]
    if not segs or not points:
        return out
    vectors = embedder.encode(list(points) + segs)
    sims: Any = vectors[: len(points)] @ vectors[len(points) :].T
    polarity = [negated(s) for s in segs]
    words = [content_words(s) for s in segs]
    for i, point in enumerate(points):
        same = [j for j in range(len(segs)) if polarity[j] == negated(point)]
        if same:
            out[i] = {"similarity": max(float(sims[i][j]) for j in same), "overlap": max(overlap(point, words[j]) for j in same)}
    return out


def adds_to_question(point: str, response: str, question: str) -> bool:
    """Does one statement of ``response`` (of the point's polarity) hold ``DISTINCTIVE_SHARE`` (at
    least one) of the point's content words that the question does not hold (its distinctive
    words)? A point whose words all occur in the question passes. "The four feedback topologies change the input and output resistances" holds
    only words of its question, so it states none of the points about which topology does what."""
    distinctive = content_words(point) - content_words(question)
    if not question or not distinctive:
        return True
    statements = [seg for seg in segments(response) if is_statement(seg) and negated(seg) == negated(point)]
    needed = math.ceil(len(distinctive) * DISTINCTIVE_SHARE)
    return any(len(distinctive & content_words(seg)) >= needed for seg in statements)


def covered_points(points: Sequence[str], response: str, embedder: Embedder, calibration: Calibration, question: str = "") -> list[bool]:
    """Which points ``response`` covers: the model's verdict, and a statement that adds one of the
    point's words to ``question`` (:func:`adds_to_question`; "" when the question is not known)."""
    model = calibration.keypoints
    flags = [model.probability(f) >= model.threshold for f in point_features(points, response, embedder)]
    return [flag and adds_to_question(point, response, question) for flag, point in zip(flags, points)]


def grade_keypoints(points: Sequence[str], response: str, min_fraction: float, embedder: Embedder, calibration: Calibration, question: str = "") -> Score:
    """Coverage = covered points / all points; correct when coverage >= ``min_fraction``."""
    if not points:
        return Score(kind="keypoints", correct=None, coverage=None, note="item has no key points")
    flags = covered_points(points, str(response), embedder, calibration, question)
    coverage = sum(flags) / len(points)
    missing = [p for p, ok in zip(points, flags) if not ok]
    note = "missing: " + "; ".join(missing) if missing else ""
    return Score(kind="keypoints", correct=coverage >= min_fraction - 1e-12, coverage=coverage, note=note[:300])
