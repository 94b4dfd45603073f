"""BM25 over the same chunks as the FAISS index: the lexical baseline in ``index eval``.

    python -m harness index eval          # prints MiniLM+FAISS and BM25 side by side

Uses ``rank_bm25.BM25Okapi`` (k1 = 1.5, b = 0.75) over lower-cased alphanumeric tokens of each
chunk's heading path and text, so "tREFI" and "DDR5-4800" match as "trefi", "ddr5", "4800".
"""

from __future__ import annotations

import re
from typing import Sequence

from retrieval_index.faiss_index import Hit
from retrieval_index.ingest import Chunk

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25Baseline:
    def __init__(self, chunks: Sequence[Chunk]) -> None:
        from rank_bm25 import BM25Okapi

        self.chunks = list(chunks)
        self._bm25 = BM25Okapi([tokenize(c.embed_text) or ["_"] for c in self.chunks])

    def search(self, query: str, k: int) -> list[Hit]:
        """Top-``k`` chunks by BM25 score, best first (ties broken by chunk order)."""
        import numpy as np

        scores = self._bm25.get_scores(tokenize(query))
        top = np.argsort(-scores, kind="stable")[: max(1, min(k, len(self.chunks)))]
        return [Hit(self.chunks[int(r)], float(scores[r]), int(r)) for r in top]
