"""Retrieval for the RAG systems: llama-index ingestion, a FAISS index over MiniLM embeddings.

    python -m harness index build && python -m harness index eval

Modules, in pipeline order: ``ingest`` (files -> anchored chunks), ``embedder`` (MiniLM),
``faiss_index`` + ``manifest`` (build / load / staleness checks), ``bm25`` (lexical baseline),
``retrieval_metrics`` + ``evaluation`` (hit@k, MRR), ``prompt`` and ``systems`` (``rag``,
``rag-oracle``).
"""
