"""The shipped corpus and RAQ benchmark: counts, schema, anchors, recomputed answers, splits,
contamination. No numeric answer key is trusted unless its solution recomputes to it."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.benchmark import BENCHMARKS_DIR, DEFAULT_CORPUS, load_benchmark, read_items, validate_solutions
from harness.contamination import question_overlaps, words
from harness.corpus import load_corpus
from harness.units import parse_unit

TEST = BENCHMARKS_DIR / "raq" / "items.jsonl"
DEV = BENCHMARKS_DIR / "raq" / "dev.jsonl"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(DEFAULT_CORPUS)


@pytest.fixture(scope="module")
def splits():
    return load_benchmark(TEST), load_benchmark(DEV)


def test_corpus_size_and_front_matter(corpus) -> None:
    assert len(corpus.documents) >= 40
    assert corpus.words >= 60_000
    for doc in corpus.documents:
        assert doc.meta["title"] and doc.meta["topic"] and doc.meta["version"]
        slugs = [s.anchor for s in doc.sections]
        assert len(slugs) == len(set(slugs)), doc.path


def test_corpus_covers_the_required_topics(corpus) -> None:
    text = " ".join(d.body.lower() for d in corpus.documents)
    for term in [
        "subchannel",
        "bank group",
        "burst chop",
        "prefetch",
        "trefi",
        "trfc",
        "same-bank refresh",
        "refresh management",
        "on-die ecc",
        "dfe",
        "pmic",
        "vpp",
        "threshold voltage",
        "velocity saturation",
        "channel-length modulation",
        "subthreshold",
        "intrinsic gain",
        "ic/vt",
        "inverter",
        "dynamic power",
        "setup",
        "hold",
        "clock skew",
        "metastability",
        "elmore",
        "feedback",
        "sqnr",
        "lithography",
        "dennard",
        "electromigration",
        "latch-up",
        "esd",
        "hot-carrier",
        "tddb",
        "synthesis",
        "placement",
        "routing",
        "sram",
        "sense amplifier",
    ]:
        assert term in text, f"corpus does not mention {term!r}"


def test_category_counts(splits) -> None:
    test, dev = splits
    counts = Counter(it.category for it in test.items)
    assert len(test.items) >= 220
    assert counts["reasoning"] >= 80 and counts["accuracy"] >= 70 and counts["quality"] >= 30 and counts["refusal_probe"] >= 40
    assert len(dev.items) >= 40


@pytest.mark.parametrize("path", [TEST, DEV], ids=["test", "dev"])
def test_every_line_is_valid_and_units_parse(path) -> None:
    items, problems = read_items(path)
    assert problems == []
    for item in items:
        if item.answer.type == "numeric":
            parse_unit(item.answer.unit)


@pytest.mark.parametrize("path", [TEST, DEV], ids=["test", "dev"])
def test_solutions_recompute_to_the_stored_answers(path) -> None:
    benchmark = load_benchmark(path)
    assert validate_solutions(list(benchmark.items), path, benchmark.config.default_rel_tol) == []
    reasoning = [it for it in benchmark.items if it.category == "reasoning"]
    assert reasoning and all(it.solution and it.answer.type == "numeric" for it in reasoning)


def test_gold_passages_resolve(splits, corpus) -> None:
    anchors = corpus.anchors
    for benchmark in splits:
        for item in benchmark.items:
            if item.category != "refusal_probe":
                assert item.gold_passages, f"{item.id} has no gold passages"
            for anchor in item.gold_passages:
                assert anchor in anchors, f"{item.id}: {anchor}"


def test_splits_are_disjoint(splits) -> None:
    test, dev = splits
    assert not {it.id for it in test.items} & {it.id for it in dev.items}
    test_questions = {" ".join(words(it.question)) for it in test.items}
    assert not test_questions & {" ".join(words(it.question)) for it in dev.items}


def test_no_question_is_copied_into_the_corpus(splits, corpus) -> None:
    documents = [d.body for d in corpus.documents]
    for benchmark in splits:
        overlaps = question_overlaps(((it.id, it.question) for it in benchmark.items), documents, n=8)
        copied = [o.id for o in overlaps if o.shared]
        assert copied == [], f"questions sharing an 8-gram with the corpus: {copied}"


def test_contamination_detector_catches_a_copy() -> None:
    question = "What is the refresh interval of a DDR5 device at normal temperature?"
    overlaps = question_overlaps([("q", question)], ["Intro. " + question + " It is 3.9 us."], n=8)
    assert overlaps[0].fraction == 1.0
