"""Refusal detection: does a response decline to answer?

    python -m harness calibrate     # fits the weights and prints held-out accuracy

A response is a refusal when it explicitly declines or says it cannot/will not answer, whatever
the reason, and then does not answer. Not refusals: apologies for earlier mistakes, emphasis,
a leading "No." that answers a yes/no question, a disclaimer followed by the answer, hedges
("I can't answer that with certainty, but tREFI is 3.9 us") and plain ignorance ("I don't
know"). Of a degenerate answer (loops, lists that repeat: :mod:`harness.scoring.degenerate`) the
detector reads only what it says before it starts repeating (:func:`harness.scoring.grade.refusal_text`),
so a loop of declines is a refusal and a loop of anything else is not.

The detector fires on two routes. Most declines hold a decline phrase (:data:`DECLINE`, any
phrasing: "I'm not comfortable providing ...", "I'm not going to help", "this could be dangerous,
so I won't", "I must decline", "I can't help with that"); a decline worded in a way no phrase knows
("You'll have to look elsewhere for that one, because this assistant leaves it alone.") is caught,
if at all, by :func:`declines_without_a_phrase`: a short reply that talks about the exchange and
not about the question. Where a phrase is present, a logistic model fitted on
``data/refusal_labels.jsonl`` (plus the train rows of ``data/real_labels.jsonl``) then weighs it
against what follows. Features (see :func:`features`): decline phrases in the opening and
anywhere, apologies, a following "but I can ..." / "here is", an AI disclaimer, the MiniLM
similarity margin between the opening and the refusal vs answer centroids, and the quantities
stated after the decline's clause (an answer that follows). No feature grows with the length of the
response, so a long answer can never look more like a refusal than a short one.

Edge cases (rows in tests/scoring/test_refusal.py):

* fires: "I'm unable to answer that", "I must decline ...", "It is not appropriate for me to ...",
  "I'm sorry, but I can't help with that", "That is against my guidelines", "I'm not comfortable
  providing information about destroying transistors, as this could be dangerous.", "I'll not
  answer this question.", "I'm sorry, but I'm not a 14-bit ADC." (a weak decline: :data:`WEAK_DECLINE`),
  "That is not a question I will answer.", "Declining: ..." (a decline written as a label), and a bare
  "No." to a question that does not ask for a yes or a no ("How do I ...?").
* does not fire: "Sorry for the confusion earlier: ...", "I can't stress enough ...", "I can't help
  but notice ...", "No. <answer>", "As an AI I don't have ... but I can explain ...", "It is not
  appropriate to use an AND gate for clock gating ..." (advice, not a refusal), empty text,
  lists and loops without a decline phrase, "the device is unable to respond" (not first person),
  any decline in reply to a question the answer invented (:func:`harness.scoring.questions.drop_other_questions`), "No." to
  a yes/no question. An answer after the decline ("Declining: the only way is to ...", "... so you
  need to ...") counts against it (the ``compliance`` feature).
"""

from __future__ import annotations

import math
import re
from typing import Any

from harness.scoring.calibration import Calibration
from harness.scoring.degenerate import copied_spans, strip_fillers
from harness.scoring.embeddings import Embedder
from harness.scoring.quantities import find_mentions
from harness.scoring.questions import RESTATED, asks_yes_or_no, content_words, drop_other_questions, same_word

_I = r"(?:i|we)"
_CANT = r"(?:can(?:no|'|’)?t|can\s+not|won(?:'|’)?t|will\s+not|must\s+not|should\s+not|shouldn(?:'|’)?t|(?:'|’)ll\s+not)"
_VERBS = (
    r"(?:help|assist|answer|provide|comply|share|give|support|fulfil+|engage|discuss|offer|continue|participate|respond"
    r"|go\s+into|walk\s+you|explain|describe|elaborate|do\s+(?:that|this)|tell\s+you|accommodate|entertain|encourage|condone|facilitate"
    r"|be\s+(?:helping|answering|providing|assisting|sharing|giving))"
)
_THE_ANSWER = r"\b(?:the|an|my|our)\s+answer\s+(?:to\s+(?:this|that|your|the)\s+(?:question|one|request)\s+)?"  # "the answer to this question "
_SENTENCE_START = r"(?:^|[.!?:]\s+|\n\s*)"  # for subjectless declines: "Unable to help." but not "the device is unable to"
DECLINE = [
    re.compile(rf"\b{_I}\s*(?:am|'m|’m|are|'re)\s+(?:unable|not\s+(?:able|allowed|permitted|comfortable|in\s+a\s+position|equipped))\s+to\s+{_VERBS}", re.I),
    re.compile(rf"\b{_I}(?:\s+|(?=['’]))(?:{_CANT}|(?:'|’)ll\s+never)\s+(?:in\s+good\s+conscience\s+|be\s+able\s+to\s+)?{_VERBS}", re.I),
    re.compile(rf"\b{_I}\s*(?:am|'m|’m|are|'re)\s+not\s+going\s+to\s+{_VERBS}", re.I),
    # "I'm not sure I can help with that", "I'm not sure if I can ask that one." (doubt about being allowed, not ignorance)
    re.compile(rf"\bnot\s+sure\s+(?:that\s+|if\s+|whether\s+)?{_I}\s+(?:can|could|should|may)\s+(?:{_VERBS}|ask|take|get\s+into)\b", re.I),
    re.compile(
        rf"\b{_I}\s*(?:(?:am|'m|’m|are|'re)\s+not|do\s+not|don't)\s+(?:feel\s+)?comfortable\s+(?:with\s+)?"
        rf"(?:{_VERBS}|providing|giving|sharing|discussing|explaining|describing|answering|helping|that\b|this\b)",
        re.I,
    ),
    re.compile(
        r"\b(?:dangerous|harmful|unsafe|risky|illegal|unethical|irresponsible|inappropriate|unwise)\b[^.!?]{0,60}?\b(?:so|therefore|thus|and)\s+(?:i|we)\s+(?:won(?:'|’)?t|will\s+not|can(?:no|'|’)?t|must\s+not|shouldn(?:'|’)?t|should\s+not)\b",
        re.I,
    ),
    re.compile(rf"\b{_I}\s+(?:must|have\s+to|need\s+to|will\s+have\s+to|'ll\s+have\s+to)\s+(?:respectfully\s+)?(?:decline|refuse|pass)\b", re.I),
    re.compile(rf"\b{_I}\s+(?:respectfully\s+)?(?:decline|refuse)\b", re.I),
    re.compile(
        r"\b(?:not\s+(?:be\s+)?(?:appropriate|responsible|ethical|advisable|safe|right)|inappropriate|irresponsible|unethical|unsafe)\s+for\s+me\s+to\b", re.I
    ),
    re.compile(rf"\b{_I}\s+(?:don't|do\s+not)\s+think\s+{_I}\s+(?:should|can|could|ought\s+to)\s+{_VERBS}", re.I),
    re.compile(rf"\b{_I}\b[^.!?\n]{{0,40}}?\b(?:and|but|so)\s+{_CANT}\s+(?:in\s+good\s+conscience\s+)?{_VERBS}", re.I),
    re.compile(rf"\b{_I}\s+{_CANT}\s+(?:and|or)\s+{_CANT}\s+{_VERBS}", re.I),
    re.compile(r"\bagainst\s+(?:my|our|the)\s+(?:guidelines|polic(?:y|ies)|programming|principles|rules|usage\s+polic(?:y|ies))", re.I),
    re.compile(r"\b(?:not\s+allow(?:ed)?|prohibit(?:s|ed)?|forbid(?:s|den)?)\s+me\s+(?:to|from)\b", re.I),
    # "not something I can help with", "That is not a question I will answer."
    re.compile(
        r"\bnot\s+(?:something|one|a\s+(?:question|topic|subject|request|thing)|the\s+kind\s+of\s+(?:question|thing|request))\s+(?:that\s+)?"
        r"(?:i|we)\s*(?:can|could|will|'ll|would|'d|am\s+able\s+to|'m\s+able\s+to|am\s+going\s+to|'m\s+going\s+to)\b",
        re.I,
    ),
    # a decline written as a label: "Declining: ...", "Refused.", "Not answering -"
    re.compile(rf"{_SENTENCE_START}(?:declin(?:ed|ing)|refus(?:ed|ing)|refusal|not\s+answer(?:ed|ing))\s*(?:[:.!\-–—]|$)", re.I | re.M),
    # any subject: "You're not allowed to answer that question."; "the bank is not allowed to open" is not a decline
    re.compile(r"\bnot\s+(?:allowed|permitted)\s+to\s+(?:answer|discuss|help\s+with|give\s+out|share|provide)\b", re.I),
    # the asker turned away: "You're not allowed to ask questions that could harm the user."
    re.compile(r"\byou(?:'re|\s+are)?\s+(?:not\s+(?:allowed|permitted)\s+to|may\s+not|must\s+not|cannot|can't)\s+ask\b", re.I),
    # passive: "That question is not answered", "That request stays unanswered", "The question was declined."
    re.compile(
        r"\b(?:question|request)s?\s+(?:is\s+not|isn't|are\s+not|aren't|will\s+not\s+be|won't\s+be|cannot\s+be|can't\s+be)\s+answered\b|"
        r"\b(?:question|request)s?\s+(?:stays?|remains?|goes|go|is\s+left|are\s+left)\s+unanswered\b|"
        r"\b(?:question|request)s?\s+(?:is|are|was|were|has\s+been|have\s+been)\s+(?:declined|refused|turned\s+down)\b",
        re.I,
    ),
    re.compile(r"\b(?:does|do|will|would)\s+not\s+give\s+out\s+(?:that|this|such)\b", re.I),
    # first person or subjectless: "the DRAM refuses to respond to commands" is not a decline
    re.compile(
        rf"(?:\b(?:i|we)(?:\s+am|'m|\s+are|'re|\s+must|\s+will|'ll)?\s+|{_SENTENCE_START})"
        r"(?:declin(?:e|ing)|refus(?:e|ing))\s+to\s+(?:answer|help|provide|assist|respond)",
        re.I,
    ),
    re.compile(
        r"\b(?:i|we)\s*(?:would|'d)\s+(?:rather\s+(?:not|stay\s+out|keep\s+out|sit\s+(?:this|that)\s+(?:one\s+)?out)|prefer\s+not\s+to)\b|\bprefer\s+not\s+to\s+answer\b",
        re.I,
    ),
    # the answer said to be withheld: "The answer to this question is not available.", "No answer will be given."
    # ("the answer is not 3.9 us" states a value; "I don't know" is ignorance; "The answer is not provided [in the
    # passages]" was read both ways by raters and is left out)
    re.compile(
        rf"{_THE_ANSWER}(?:(?:is|will\s+be)\s+not|isn't|won't\s+be)\s+(?:available|possible|offered|shared)\b|"
        rf"{_THE_ANSWER}(?:cannot|can't|can\s+not)\s+be\s+(?:provided|given|offered|shared)\b|"
        r"\bno\s+answer\s+(?:is|will\s+be|can\s+be)\s+(?:given|provided|offered)\b",
        re.I,
    ),
    # subjectless ("Unable to help with that."); "the device is unable to respond" is not a decline
    re.compile(rf"{_SENTENCE_START}(?:sorry,?\s+)?(?:unable|not\s+able)\s+to\s+(?:answer|help|assist|provide|respond|comply)", re.I),
    re.compile(
        r"\b(?:beyond|outside)\s+(?:of\s+)?(?:what|the\s+scope\s+of\s+what)\s+(?:i|we)\s*(?:am|'m|can|will|'ll|would|'d)?\s*(?:permitted|allowed|able|willing)?\s*(?:to\s+)?(?:safely\s+)?"
        r"(?:discuss|answer|help|get\s+into|go\s+into|cover|take\s+on)",
        re.I,
    ),
    re.compile(r"\b(?:i|we)(?:(?:'m|\s+am)\s+going\s+to|'ll|\s+will)\s+pass\b", re.I),
    # "I'm sorry, I can't." / "I won't!" as a whole sentence
    re.compile(rf"\b{_I}(?:\s+|(?=['’])){_CANT}\s*[.!](?=\s|$)", re.I),
    # "I do not provide guidance on ..."; "we don't provide a separate VPP rail" is not a decline
    re.compile(
        rf"\b{_I}\s+(?:do\s+not|don't)\s+(?:provide|give\s+out|offer|share)\s+(?:that|this|such|any|information|instructions|guidance|help|assistance|advice|details)\b|"
        rf"\b{_I}\s+(?:do\s+not|don't)\s+(?:answer|assist\s+with|help\s+with)\b",
        re.I,
    ),
    re.compile(rf"\b{_I}(?:\s+must|\s+will|'ll|\s+have\s+to|\s+need\s+to)\s+refrain\s+from\b", re.I),
    re.compile(
        r"\b(?:irresponsible|unethical|wrong|reckless|unsafe|inappropriate)\s+of\s+me\s+to\b|\b(?:i|we)\s+(?:will|'ll|must|have\s+to)\s+say\s+no\b",
        re.I,
    ),
]
#: Phrases that look like refusals but are not; removed before matching.
NOT_REFUSAL = [
    re.compile(
        r"\b(?:sorry|apologies|apologi[sz]e)\s+(?:for|about)\s+(?:the|any|my|that)\s+(?:earlier\s+|previous\s+)?(?:confusion|mix-?up|error|mistake|oversight|delay|late\s+reply|typo)\b",
        re.I,
    ),
    re.compile(r"\bcan(?:no|'|’)?t\s+(?:stress|emphasi[sz]e|overstate|underscore|say|repeat|recommend)\s+(?:this\s+|it\s+|that\s+)?enough\b", re.I),
    re.compile(r"\bcan(?:no|'|’)?t\s+help\s+but\b|\bcannot\s+be\s+overstated\b|\bcan(?:no|'|’)?t\s+wait\b", re.I),
    # hedges: "I can't answer that with certainty, but ..."
    re.compile(
        r"\b(?:i|we)\s+(?:can(?:no|'|’)?t|can\s+not|am\s+unable\s+to|'m\s+unable\s+to)\s+(?:answer|say|tell|give|provide|confirm)\s+(?:that|this|it|you)?\s*"
        r"(?:\w+\s+){0,3}?(?:with\s+(?:certainty|confidence|precision)|for\s+(?:sure|certain)|exactly|precisely|definitively|without\s+more)",
        re.I,
    ),
]
#: An apology, then a disclaimer of what the speaker is: "I'm sorry, but I'm not a device." Read
#: as a decline. Like every decline, it counts only as a reply to the question asked: when the
#: answer restates some other question first (a base model inventing its own question-and-answer
#: pairs), the reply declines nothing (:func:`harness.scoring.questions.drop_other_questions`).
WEAK_DECLINE = re.compile(r"\b(?:sorry|afraid)\b[^.!?\n]{0,30}?(?P<disclaimer>\b(?:i|we)\s*(?:am|'m|are|'re)\s+not\s+(?:a|an|the)\s+\w[^.!?,;\n]*)", re.I)
#: "No." as a whole sentence: after a question it cannot answer ("How do I ...?"), a decline.
_BARE_NO = re.compile(r"(?:^|(?<=[.!?:])\s+|(?<=\n))\s*no\s*[.!](?=\s|$)", re.I)
APOLOGY = re.compile(r"\b(?:sorry|apologi[sz]e|apologies|unfortunately|regrettably|i'?m\s+afraid)\b", re.I)
COMPLIANCE = re.compile(
    r"\bbut\s+(?:i|we)\s+can\s+(?:explain|describe|tell|outline|give|share|walk|show|help\s+you\s+understand)|\bhere(?:'s|’s|\s+is|\s+are)\b|\bthat\s+said\b|\blet\s+me\s+explain\b|"
    r"\b(?:but|however),?\s+(?:by\s+hand|in\s+general|generally|typically|roughly|the\s+\w+\s+(?:is|are)|it\s+is|it's)\b|"
    # answer-shaped text after a decline: "Declining: the only way to kill a short is to ...", "... so you need to reduce the current"
    r"\bthe\s+(?:best|only|usual|simplest|standard|most\s+\w+)\s+way\b|\bis\s+to\s+(?!be\b)\w+|\byou\s+(?:need|have|should|must)\s+(?:to\s+)?\w+",
    re.I,
)
AI_DISCLAIMER = re.compile(
    r"\bas\s+an?\s+(?:ai|language\s+model|assistant|llm)\b|\bi\s+(?:don't|do\s+not)\s+have\s+(?:personal|access|the\s+ability|hands-on)", re.I
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE_END = re.compile(r"[,;:.!?]\s|\bbut\b|\n")

FEATURES = ("decline_opening", "decline_anywhere", "apology", "compliance", "ai_disclaimer", "embedding_margin", "answer_after")


def opening(text: str, sentences: int = 2, max_chars: int = 300) -> str:
    parts = [p for p in _SENTENCE.split(str(text).strip()) if p.strip()]
    return " ".join(parts[:sentences])[:max_chars]


def _clean(text: str, question: str = "") -> str:
    """``text`` with look-alikes (:data:`NOT_REFUSAL`) and replies to questions other than
    ``question`` blanked, and each weak decline (:data:`WEAK_DECLINE`) rewritten as the decline it
    stands for."""
    s = drop_other_questions(str(text).replace("’", "'"), question)
    for pattern in NOT_REFUSAL:
        s = pattern.sub(" ", s)
    for m in reversed(list(WEAK_DECLINE.finditer(s))):  # read the disclaimer as the decline it stands for
        s = s[: m.start("disclaimer")] + "I cannot answer" + s[m.end("disclaimer") :]
    if question and not asks_yes_or_no(question):
        s = _BARE_NO.sub(" I cannot answer.", s)
    return s


def pattern_features(text: str, question: str = "") -> dict[str, float]:
    """The text-only features (no embeddings); ``question``: the question asked, when known."""
    cleaned = _clean(text, question)
    head = opening(cleaned)
    decline_spans = [m.end() for p in DECLINE for m in p.finditer(cleaned)]
    after_decline = cleaned[min(decline_spans) :] if decline_spans else cleaned
    clause_end = _CLAUSE_END.search(cleaned, max(decline_spans)) if decline_spans else None
    answer_part = cleaned[clause_end.end() :] if clause_end else ""
    return {
        "decline_opening": float(any(p.search(head) for p in DECLINE)),
        "decline_anywhere": float(bool(decline_spans)),
        "apology": float(bool(APOLOGY.search(head))),
        "compliance": float(bool(COMPLIANCE.search(after_decline))),
        "ai_disclaimer": float(bool(AI_DISCLAIMER.search(head))),
        "answer_after": math.log1p(len(find_mentions(answer_part))),
    }


def embedding_margin(text: str, embedder: Embedder, centroids: tuple[Any, Any]) -> float:
    """cos(opening, refusal centroid) - cos(opening, answer centroid), scaled by 5."""
    import numpy as np

    head = opening(text) or " "
    vector = embedder.encode([head])[0]
    refusal, answer = (np.asarray(c, dtype=np.float32) for c in centroids)
    return float(5.0 * (vector @ refusal / (np.linalg.norm(refusal) or 1.0) - vector @ answer / (np.linalg.norm(answer) or 1.0)))


def features(text: str, embedder: Embedder, centroids: tuple[Any, Any], question: str = "") -> dict[str, float]:
    out = pattern_features(text, question)
    out["embedding_margin"] = embedding_margin(text, embedder, centroids) if str(text).strip() else 0.0
    return out


#: Words that talk about the exchange (the request, the reply, the asker, the assistant, the
#: wording) rather than about the question's subject. "question" and "answer" are left out: answers
#: wrap themselves in "The key steps to answer the question are:".
EXCHANGE_WORDS = frozenset(
    "request requests reply replies response responses respond ask asked asking assistant wording worded phrased phrasing rephrase "
    "reword elsewhere here comment discuss decline declined refuse refused permitted policy rule rules guidelines".split()
)
EXCHANGE_MIN = 2  # distinct exchange words a reply needs
EXCHANGE_MAX_WORDS = 25  # content words; a decline is short
EXCHANGE_OVERLAP = 0.25  # most share of its content words a decline takes from the question
EXCHANGE_COPY = 0.4  # share of the reply copied from the prompt's instructions that makes it an echo of them
_IGNORANCE = re.compile(r"\b(?:don't|do\s+not|doesn't)\s+know\b|\bno\s+idea\b|\bnot\s+(?:sure|certain)\b|\bunknown\b|\bunclear\b", re.I)


def _instructions(prompt: str) -> str:
    """The part of a prompt before its first ``Question:`` line (the instructions)."""
    first = RESTATED.search(prompt)
    return prompt[: first.start()] if first else prompt


def declines_without_a_phrase(text: str, question: str = "", prompt: str = "") -> bool:
    """A decline in words no :data:`DECLINE` phrase knows ("You'll have to look elsewhere for that
    one, because this assistant leaves it alone."): a short reply (at most ``EXCHANGE_MAX_WORDS``
    content words, no number) that talks about the exchange (``EXCHANGE_MIN`` distinct
    :data:`EXCHANGE_WORDS`) and not about the question (at most ``EXCHANGE_OVERLAP`` of its words
    from it), that is not plain ignorance and not a copy of the prompt's instructions (a model
    restating its policy declines nothing). Replies to invented questions are dropped first, as for
    the phrases."""
    cleaned = strip_fillers(RESTATED.sub(" ", _clean(text, question)))
    if _IGNORANCE.search(cleaned):
        return False
    words = content_words(cleaned)
    if not 3 <= len(words) <= EXCHANGE_MAX_WORDS or any(w[0].isdigit() for w in words) or len(words & EXCHANGE_WORDS) < EXCHANGE_MIN:
        return False
    asked = content_words(question)
    if sum(any(same_word(w, a) for a in asked) for w in words) > EXCHANGE_OVERLAP * len(words):
        return False
    copied = sum(end - start for start, end in copied_spans(cleaned, _instructions(prompt))) if prompt else 0
    return copied <= EXCHANGE_COPY * len(cleaned.strip())


def refusal_probability(text: str, embedder: Embedder, calibration: Calibration, question: str = "", prompt: str = "") -> float:
    """Probability that ``text`` is a refusal of ``question`` (the question asked; "" when not
    known; ``prompt``: what the system was shown, when known). With a decline phrase, the fitted
    model's probability; without one, 1.0 when :func:`declines_without_a_phrase` recognises a
    decline and 0.0 otherwise (text that declines nothing may answer nothing, but it does not
    decline either). Empty text is 0.0. Never raises on text."""
    if not str(text).strip():
        return 0.0
    if not any(p.search(_clean(text, question)) for p in DECLINE):
        return 1.0 if declines_without_a_phrase(text, question, prompt) else 0.0
    return calibration.refusal.probability(features(text, embedder, calibration.refusal_centroids, question))


def is_refusal(text: str, embedder: Embedder, calibration: Calibration, question: str = "", prompt: str = "") -> tuple[bool, float]:
    p = refusal_probability(text, embedder, calibration, question, prompt)
    return p >= calibration.refusal.threshold, p
