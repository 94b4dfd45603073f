"""The ``faiss`` row of ``python -m harness bench``: HNSW vs exact search, side by side.

    python -m harness bench --only faiss

Registered as the ``faiss`` entry point of ``harness.bench`` (the core finds it there).
"""

from __future__ import annotations

import time
from typing import Any

from harness.perf.suite import Row


def faiss_rows(vectors: int = 20000, queries: int = 200, dim: int = 384, k: int = 10) -> tuple[list[Row], dict[str, Any]]:
    """HNSW vs exact (flat) inner-product search on random unit vectors, through
    ``retrieval_index.faiss_index.make_faiss`` (the index builder the ``rag`` system uses)."""
    import numpy as np

    from retrieval_index.faiss_index import IndexConfig, make_faiss, set_search_params

    rng = np.random.default_rng(0)
    data = rng.standard_normal((vectors, dim)).astype("float32")
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    probe = data[rng.choice(vectors, queries, replace=False)] + 0.05 * rng.standard_normal((queries, dim)).astype("float32")
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    figures: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for kind in ("flat", "hnsw"):
        config = IndexConfig(index_type=kind)
        started = time.perf_counter()
        index, _ = make_faiss(data, config)
        set_search_params(index, config)
        build = time.perf_counter() - started
        started = time.perf_counter()
        for row in range(queries):  # one query at a time, as the rag system asks
            _, ids = index.search(probe[row : row + 1], k)
            found.setdefault(kind, []).append(set(ids[0].tolist()))
        query = (time.perf_counter() - started) / queries
        figures[kind] = {"build_s": round(build, 4), "query_ms": round(query * 1000, 4)}
    recall = sum(len(a & b) for a, b in zip(found["hnsw"], found["flat"])) / (k * queries)
    figures["recall_at_10"] = round(recall, 4)
    flat, hnsw = figures["flat"], figures["hnsw"]
    rows = [
        Row(
            f"FAISS query: HNSW vs flat ({vectors} x {dim})",
            f"flat {flat['query_ms']:.3f} ms/query",
            f"hnsw {hnsw['query_ms']:.3f} ms/query",
            flat["query_ms"] / hnsw["query_ms"] if hnsw["query_ms"] else None,
            f"HNSW recall@{k} {recall:.3f}",
        ),
        Row(
            f"FAISS build: HNSW vs flat ({vectors} x {dim})",
            f"flat {flat['build_s']:.3f} s",
            f"hnsw {hnsw['build_s']:.2f} s",
            flat["build_s"] / hnsw["build_s"] if hnsw["build_s"] else None,
            "HNSW pays at build time for faster queries",
        ),
    ]
    return rows, figures
