"""The ``faiss`` row of ``python -m harness bench``, registered through the harness.bench entry point."""

from __future__ import annotations

import pytest

from retrieval_index.bench import faiss_rows


def test_faiss_row_compares_hnsw_with_exact_search() -> None:
    pytest.importorskip("faiss")
    rows, figures = faiss_rows(vectors=2000, queries=20, dim=32)
    assert [r.name.split(":")[0] for r in rows] == ["FAISS query", "FAISS build"]
    assert 0.0 <= figures["recall_at_10"] <= 1.0
    assert figures["flat"]["query_ms"] > 0 and figures["hnsw"]["build_s"] > 0


def test_the_core_finds_the_row_through_its_entry_point() -> None:
    from harness import plugins

    assert plugins.load("harness.bench", "faiss") is faiss_rows
