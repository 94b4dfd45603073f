"""Retrieval performance: index build throughput, query latency, approximate-index recall.

    .venv/bin/python -m pytest benchmarks/perf/test_retrieval_perf.py -s --benchmark-json /tmp/retrieval-perf.json

Not part of the default test run (``testpaths = tests``); nothing here asserts a speed. Each test
prints one ``PERF`` line and stores its figures in the benchmark JSON's ``extra_info``:

* bundled corpus: a full build (llama-index chunking + MiniLM embedding + FAISS) in chunks/s, and
  end-to-end query latency (MiniLM query embedding + top-10 search) p50/p95 over the benchmark
  questions;
* synthetic corpus of ``RETRIEVAL_PERF_N`` (default 100,000) vectors: FAISS build rate, search
  latency p50/p95 and recall@10 against exact search for flat, HNSW and IVF. Each vector is a
  random blend ``w*a + (1-w)*b`` (w uniform in [0, 1]) of two real chunk embeddings of the bundled
  corpus plus Gaussian noise (sigma 0.02 per dimension), re-normalised: spread over the region the
  real corpus occupies rather than in tight clusters of near-duplicates, which would make the
  recall of approximate indexes look better or worse than it is. Queries are real benchmark
  questions;
* MiniLM throughput on real chunk texts, which bounds a real 100k-chunk build (100k / rate).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from harness.benchmark import DEFAULT_BENCHMARK, DEFAULT_CORPUS, load_benchmark  # noqa: E402
from harness.models.minilm import MiniLMEmbedder  # noqa: E402
from retrieval_index.faiss_index import IndexConfig, build_index, ensure_index, make_faiss, set_search_params  # noqa: E402

N_SYNTHETIC = int(os.environ.get("RETRIEVAL_PERF_N", "100000"))  # vectors in the synthetic index
NOISE_SIGMA = 0.02  # per-dimension noise added to blends of real chunk embeddings
N_EMBED = int(os.environ.get("RETRIEVAL_PERF_EMBED_N", "512"))  # chunk texts for the MiniLM throughput test


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def report(benchmark: Any, name: str, **figures: Any) -> None:
    benchmark.extra_info.update(figures)
    print(f"\nPERF {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    model = MiniLMEmbedder(device="cpu")
    model.load()
    return model


@pytest.fixture(scope="module")
def bundled() -> Any:
    return ensure_index(progress=False)


@pytest.fixture(scope="module")
def questions() -> list[str]:
    return [it.question for it in load_benchmark(DEFAULT_BENCHMARK).items]


def test_build_bundled_corpus(benchmark: Any, tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    index = benchmark.pedantic(lambda: build_index(DEFAULT_CORPUS, tmp_path / "idx", embedder=embedder, progress=False), rounds=1, iterations=1)
    build = index.manifest["build"]
    report(
        benchmark,
        "build bundled corpus",
        chunks=len(index),
        total_s=build["total_s"],
        chunk_s=build["chunk_s"],
        embed_s=build["embed_s"],
        index_s=build["index_s"],
        chunks_per_s_end_to_end=round(len(index) / build["total_s"], 1),
        chunks_per_s_embed_index=build["chunks_per_s"],
    )


def test_query_latency_bundled(benchmark: Any, bundled: Any, embedder: MiniLMEmbedder, questions: list[str]) -> None:
    timings = []
    for question in questions:
        started = time.perf_counter()
        bundled.search(embedder.encode([question]), 10)
        timings.append(time.perf_counter() - started)
    search_only = []
    vectors = embedder.encode(questions)
    for row in vectors:
        started = time.perf_counter()
        bundled.search(row[None, :], 10)
        search_only.append(time.perf_counter() - started)
    benchmark(lambda: bundled.search(embedder.encode([questions[0]]), 10))
    end_to_end, search = percentiles(timings), percentiles(search_only)
    report(
        benchmark,
        "query bundled corpus (embed + top-10)",
        chunks=len(bundled),
        queries=len(questions),
        **end_to_end,
        search_p50_ms=search["p50_ms"],
        search_p95_ms=search["p95_ms"],
    )


@pytest.fixture(scope="module")
def synthetic(bundled: Any, embedder: MiniLMEmbedder, questions: list[str]) -> dict[str, Any]:
    import faiss

    rng = np.random.default_rng(0)
    centers = bundled.vectors(range(len(bundled)))
    weights = rng.uniform(0.0, 1.0, (N_SYNTHETIC, 1)).astype(np.float32)
    first, second = centers[rng.integers(0, len(centers), N_SYNTHETIC)], centers[rng.integers(0, len(centers), N_SYNTHETIC)]
    vectors = weights * first + (1.0 - weights) * second + rng.normal(0.0, NOISE_SIGMA, (N_SYNTHETIC, centers.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = embedder.encode(questions)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    return {"vectors": np.ascontiguousarray(vectors, dtype=np.float32), "queries": queries, "truth": truth}


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_synthetic_index(benchmark: Any, synthetic: dict[str, Any], kind: str) -> None:
    vectors, queries, truth = synthetic["vectors"], synthetic["queries"], synthetic["truth"]
    config = IndexConfig(index_type=kind)
    started = time.perf_counter()
    index, resolved = make_faiss(vectors, config)
    build_s = time.perf_counter() - started
    set_search_params(index, config)
    timings, found = [], []
    for row in queries:
        t0 = time.perf_counter()
        _, ids = index.search(row[None, :], 10)
        timings.append(time.perf_counter() - t0)
        found.append(ids[0])
    recall = float(np.mean([len(set(f) & set(t)) / 10.0 for f, t in zip(found, truth)]))
    benchmark(lambda: index.search(queries[:1], 10))
    report(
        benchmark,
        f"synthetic {kind}",
        n=len(vectors),
        build_s=round(build_s, 2),
        vectors_per_s=round(len(vectors) / build_s, 0),
        **percentiles(timings),
        recall_at_10_vs_exact=round(recall, 4),
        **{k: v for k, v in {**config.build_params(), **config.search_params(), **resolved}.items() if k not in {"type", "metric"}},
    )


def test_minilm_throughput_on_chunk_texts(benchmark: Any, bundled: Any, embedder: MiniLMEmbedder) -> None:
    texts = [bundled.chunks[i % len(bundled)].embed_text for i in range(N_EMBED)]
    started = time.perf_counter()
    benchmark.pedantic(lambda: embedder.encode(texts), rounds=1, iterations=1)
    elapsed = time.perf_counter() - started
    rate = len(texts) / elapsed
    report(
        benchmark,
        "MiniLM on chunk texts",
        texts=len(texts),
        seconds=round(elapsed, 2),
        chunks_per_s=round(rate, 1),
        est_100k_embed_min=round(100_000 / rate / 60, 1),
    )
