"""hit@k / MRR against gold passages: the containment rule and the run-level summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.api.items import Answer, Item
from harness.scoring.retrieval import GoldMatcher, retrieval_metrics_for_run, summarize_ranks

GOLD_INTERVAL = "ddr5/refresh.md#refresh-interval"


@pytest.fixture
def matcher(tiny_corpus: Path) -> GoldMatcher:
    return GoldMatcher.for_corpus(tiny_corpus)


@pytest.mark.parametrize(
    ("anchor", "gold", "hit"),
    [
        ("ddr5/refresh.md#refresh-interval", GOLD_INTERVAL, True),  # the gold section itself
        ("ddr5/refresh.md#refresh-cycle-time", GOLD_INTERVAL, True),  # a sub-section of it
        ("ddr5/refresh.md#dram-refresh", GOLD_INTERVAL, False),  # its parent's own text
        ("ddr5/refresh.md#examples", GOLD_INTERVAL, False),  # a sibling
        ("ddr5/refresh.md#refresh-interval", "ddr5/refresh.md#dram-refresh", True),  # inside the H1
        ("devices/mosfet.md#saturation-current", GOLD_INTERVAL, False),  # another document
        ("devices/mosfet.md", "devices/mosfet.md", True),  # preamble vs whole document
        ("devices/mosfet.md#saturation-current", "devices/mosfet.md", True),  # bare doc gold
        ("ddr5/refresh.md#refresh-interval", "ddr5/refresh.md#no-such-section", False),  # unknown gold
        ("ddr5/refresh.md#no-such-section", "ddr5/refresh.md#no-such-section", True),  # ...matches only exactly
    ],
)
def test_is_hit(matcher: GoldMatcher, anchor: str, gold: str, hit: bool) -> None:
    assert matcher.is_hit(anchor, gold) is hit


def test_first_hit_rank_and_unknown(matcher: GoldMatcher) -> None:
    anchors = ["devices/mosfet.md#saturation-current", "ddr5/refresh.md#examples", "ddr5/refresh.md#refresh-cycle-time"]
    assert matcher.first_hit_rank(anchors, [GOLD_INTERVAL]) == 3
    assert matcher.first_hit_rank(anchors, ["notes.txt"]) is None
    assert matcher.unknown([GOLD_INTERVAL, "x.md#y", "x.md"]) == ["x.md#y"]


def test_summarize_ranks() -> None:
    summary = summarize_ranks([1, 3, None, 6], depth=10)
    assert summary["n"] == 4
    assert summary["hit@1"] == 0.25 and summary["hit@3"] == 0.5 and summary["hit@5"] == 0.5 and summary["hit@10"] == 0.75
    assert summary["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)


def test_cutoffs_deeper_than_the_recorded_list_are_none_not_zero() -> None:
    summary = summarize_ranks([1, None], depth=4)
    assert summary["hit@3"] == 0.5 and summary["hit@5"] is None and summary["hit@10"] is None


def test_empty_rank_list() -> None:
    assert summarize_ranks([], depth=10) == {"n": 0, "hit@1": None, "hit@3": None, "hit@5": None, "hit@10": None, "mrr": None}


def _item(item_id: str, category: str, gold: tuple[str, ...]) -> Item:
    return Item(
        id=item_id, category=category, question="q", answer=Answer("none") if category == "refusal_probe" else Answer("text", accept=("x",)), gold_passages=gold
    )


def _sample(item_id: str, system: str, anchors: list[str] | None) -> dict:
    extra = {} if anchors is None else {"retrieved": [{"chunk_id": f"{a}:0", "anchor": a, "score": 0.5} for a in anchors]}
    return {"id": item_id, "system": system, "extra": extra}


def test_run_metrics_per_system_and_category(tiny_corpus: Path) -> None:
    items = [
        _item("a", "accuracy", (GOLD_INTERVAL,)),
        _item("b", "accuracy", ("devices/mosfet.md#saturation-current",)),
        _item("c", "refusal_probe", ("ddr5/refresh.md#examples-1",)),
        _item("d", "quality", ()),  # no gold: not scored
    ]
    samples = [
        _sample("a", "rag", ["ddr5/refresh.md#refresh-cycle-time", "notes.txt"]),  # sub-section hit at rank 1
        _sample("b", "rag", ["notes.txt", "devices/mosfet.md#saturation-current"]),  # rank 2
        _sample("c", "rag", ["ddr5/refresh.md#examples", "notes.txt"]),  # miss
        _sample("d", "rag", ["notes.txt", "notes.txt"]),
        _sample("a", "vanilla", None),  # no retrieval: system absent from the result
        {"id": "a", "system": "rag-oracle", "extra": {"passages": [{"anchor": GOLD_INTERVAL}]}},
    ]
    metrics = retrieval_metrics_for_run(samples, items, corpus_root=tiny_corpus)
    assert set(metrics) == {"rag"}
    rag = metrics["rag"]
    assert rag["depth"] == 2 and rag["all"]["n"] == 3
    assert rag["all"]["hit@1"] == pytest.approx(1 / 3) and rag["all"]["hit@3"] is None
    assert rag["all"]["mrr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert rag["per_category"]["accuracy"]["mrr"] == pytest.approx(0.75)
    assert rag["per_category"]["refusal_probe"]["mrr"] == 0
    assert rag["unknown_gold"] == []


def test_run_metrics_accept_item_dicts_from_the_run_snapshot(tiny_corpus: Path) -> None:
    items = [{"id": "a", "category": "accuracy", "gold_passages": [GOLD_INTERVAL, "ddr5/refresh.md#gone"]}]
    metrics = retrieval_metrics_for_run([_sample("a", "rag", [GOLD_INTERVAL])], items, corpus_root=tiny_corpus)
    assert metrics["rag"]["all"]["hit@1"] == 1.0
    assert metrics["rag"]["unknown_gold"] == ["ddr5/refresh.md#gone"]
