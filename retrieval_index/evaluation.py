"""Retrieval-only evaluation of an index on a benchmark: no generation.

    python -m harness index eval [--benchmark benchmarks/raq/items.jsonl] [--json out.json]

For every item with gold passages, the question is embedded and searched (top 10); the first
rank whose chunk lies inside a gold passage gives hit@1/3/5/10 and MRR (see
:mod:`harness.scoring.retrieval`). BM25 over the same chunks is scored in the same table,
and an approximate index (hnsw/ivf) is also compared with exact search over its own vectors
(recall@10 = share of the exact top 10 that the approximate search returns).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from harness.api.errors import DataError
from harness.api.items import Item
from harness.models.minilm import MiniLMEmbedder
from harness.scoring.retrieval import KS, GoldMatcher, summarize_by_category
from retrieval_index.faiss_index import Hit, RetrievalIndex


def _ranks(matcher: GoldMatcher, items: Sequence[Item], hits: Sequence[Sequence[Hit]]) -> list[tuple[str, int | None]]:
    return [(it.category, matcher.first_hit_rank([h.chunk.anchor for h in row], it.gold_passages)) for it, row in zip(items, hits)]


def recall_at(approx: Sequence[Sequence[Hit]], exact: Sequence[Sequence[Hit]], k: int) -> float:
    """Mean share of the exact top-``k`` rows that the approximate top-``k`` also returns."""
    shares = []
    for a_row, e_row in zip(approx, exact):
        truth = {h.row for h in e_row[:k]}
        if truth:
            shares.append(len(truth & {h.row for h in a_row[:k]}) / len(truth))
    return sum(shares) / len(shares) if shares else 0.0


def evaluate_retrieval(
    index: RetrievalIndex, items: Sequence[Item], embedder: MiniLMEmbedder, with_bm25: bool = True, progress: bool = False
) -> dict[str, Any]:
    """Scores per retriever (``minilm+faiss-<type>``, optionally ``...-exact`` and ``bm25``)."""
    from retrieval_index.bm25 import BM25Baseline

    scored = [it for it in items if it.gold_passages]
    if not scored:
        raise DataError(f"none of the {len(items)} items has gold_passages; retrieval metrics need items with 'gold_passages': ['doc#slug', ...]")
    depth = max(KS)
    matcher = GoldMatcher.for_corpus(index.manifest["docs"])
    started = time.perf_counter()
    vectors = embedder.encode([it.question for it in scored], progress=progress, desc="embedding questions")
    embedded = time.perf_counter()
    dense = index.search(vectors, depth)
    searched = time.perf_counter()
    name = f"minilm+faiss-{index.config.index_type}"
    retrievers: dict[str, Any] = {name: summarize_by_category(_ranks(matcher, scored, dense), depth)}
    out: dict[str, Any] = {
        "n_items": len(items),
        "n_scored": len(scored),
        "index": {
            "folder": str(index.folder),
            "index_hash": index.index_hash,
            "type": index.config.index_type,
            "chunks": len(index),
            "chunking": index.manifest["chunking"],
        },
        "timing": {
            "embed_ms_per_query": round(1000 * (embedded - started) / len(scored), 3),
            "search_ms_per_query": round(1000 * (searched - embedded) / len(scored), 4),
        },
        "unknown_gold": matcher.unknown(g for it in scored for g in it.gold_passages),
    }
    per_item = {it.id: {"category": it.category, "gold": list(it.gold_passages), name: [h.to_dict() for h in row[:5]]} for it, row in zip(scored, dense)}
    if index.approximate:
        exact = index.exact_search(vectors, depth)
        retrievers["minilm+faiss-exact"] = summarize_by_category(_ranks(matcher, scored, exact), depth)
        out["recall_at_10_vs_exact"] = round(recall_at(dense, exact, 10), 4)
    if with_bm25:
        bm25 = BM25Baseline(index.chunks)
        lexical = [bm25.search(it.question, depth) for it in scored]
        retrievers["bm25"] = summarize_by_category(_ranks(matcher, scored, lexical), depth)
        for it, row in zip(scored, lexical):
            per_item[it.id]["bm25"] = [h.to_dict() for h in row[:5]]
    out["retrievers"] = retrievers
    out["per_item"] = per_item
    return out


def format_table(report: dict[str, Any]) -> str:
    """Plain-text table: one row per retriever x (all + each category)."""
    cols = [f"hit@{k}" for k in KS] + ["mrr"]
    lines = [f"{'retriever':<22}{'category':<15}{'n':>5}" + "".join(f"{c:>8}" for c in cols)]
    for name, summary in report["retrievers"].items():
        groups = [("all", summary["all"])] + list(summary["per_category"].items())
        for category, row in groups:
            cells = "".join(f"{'-' if row[c] is None else format(row[c], '.3f'):>8}" for c in cols)
            lines.append(f"{name:<22}{category:<15}{row['n']:>5}{cells}")
    return "\n".join(lines)
