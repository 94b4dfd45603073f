"""``python -m harness index build|query|eval``: the retrieval index of the RAG systems.

python -m harness index build --docs benchmarks/corpus            # cached default location
python -m harness index build --docs my_notes/ --out idx/ --index-type hnsw
python -m harness index query "tREFI above 85 C" -k 5
python -m harness index eval --benchmark benchmarks/raq/items.jsonl --json retrieval.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _index_options(p: argparse.ArgumentParser, building: bool = False) -> None:
    p.add_argument(
        "--docs", type=Path, default=None, help="folder of .md/.txt/.pdf documents (default: benchmarks/corpus, or the one an --index was built from)"
    )
    if not building:
        p.add_argument(
            "--index", type=Path, default=None, help="an index folder from `index build --out` (default: the cached index of --docs, built on first use)"
        )
    p.add_argument("--chunk-size", type=int, default=None, help="MiniLM word pieces per chunk (default 200)")
    p.add_argument("--chunk-overlap", type=int, default=None, help="word pieces shared by consecutive chunks (default 30)")
    p.add_argument("--index-type", choices=["flat", "hnsw", "ivf"], default=None, help="flat = exact (default); hnsw / ivf = approximate, for large corpora")
    p.add_argument("--hnsw-m", type=int, default=32, help="HNSW neighbours per node (default 32)")
    p.add_argument("--ivf-nlist", type=int, default=0, help="IVF clusters (default 0 = 4*sqrt(chunks))")
    p.add_argument("--ef-search", type=int, default=64, help="HNSW query beam width (default 64)")
    p.add_argument("--nprobe", type=int, default=16, help="IVF clusters scanned per query (default 16)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="build, query and evaluate the retrieval index", description="The FAISS + MiniLM index used by the rag systems.")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    build = isub.add_parser("build", help="chunk, embed and index a folder of documents")
    _index_options(build, building=True)
    build.add_argument("--out", type=Path, default=None, help="index folder (default: $HARNESS_CACHE/index/<corpus>-<params>/, where rag finds it)")
    build.set_defaults(func=handle_build)
    query = isub.add_parser("query", help="print the top chunks for a text")
    query.add_argument("text", help="what to search for")
    query.add_argument("-k", type=int, default=5, help="chunks to print (default 5)")
    query.add_argument("--bm25", action="store_true", help="also print the BM25 top-k")
    _index_options(query)
    query.set_defaults(func=handle_query)
    ev = isub.add_parser("eval", help="hit@1/3/5/10 and MRR on a benchmark's gold passages, with BM25 alongside")
    ev.add_argument("--benchmark", type=Path, default=None, help="items JSONL (default: benchmarks/raq/items.jsonl)")
    ev.add_argument("--json", type=Path, default=None, help="also write the full report (per item top-5) here")
    ev.add_argument("--no-bm25", action="store_true", help="skip the BM25 baseline")
    _index_options(ev)
    ev.set_defaults(func=handle_eval)


def _configs(args: argparse.Namespace, manifest: dict[str, Any] | None = None) -> tuple[Any, Any]:
    from retrieval_index.faiss_index import IndexConfig
    from retrieval_index.ingest import ChunkingConfig

    chunking = ChunkingConfig.resolve(args.chunk_size, args.chunk_overlap, (manifest or {}).get("chunking"))
    search = {"hnsw_ef_search": args.ef_search, "ivf_nprobe": args.nprobe}
    if args.index_type is None and manifest is not None:
        return chunking, IndexConfig.from_build_params(manifest["index"], **search)
    return chunking, IndexConfig(index_type=args.index_type or "flat", hnsw_m=args.hnsw_m, ivf_nlist=args.ivf_nlist, **search)


def open_index(args: argparse.Namespace) -> Any:
    from retrieval_index.faiss_index import ensure_index, load_index
    from retrieval_index.manifest import read_manifest

    if getattr(args, "index", None) is not None:
        chunking, config = _configs(args, read_manifest(args.index))
        return load_index(args.index, args.docs, chunking, config)
    chunking, config = _configs(args)
    return ensure_index(args.docs, chunking, config, progress=not args.quiet)


def handle_build(args: argparse.Namespace) -> int:
    from harness.benchmark import DEFAULT_CORPUS
    from retrieval_index.faiss_index import build_index, default_index_dir

    docs = (args.docs or DEFAULT_CORPUS).resolve()
    chunking, config = _configs(args)
    out = args.out or default_index_dir(docs, chunking, config)
    index = build_index(docs, out, chunking, config, progress=not args.quiet)
    m = index.manifest
    counts, build = m["counts"], m["build"]
    print(f"index written to {index.folder}")
    print(
        f"  {counts['files']} files -> {counts['section_nodes']} sections -> {counts['chunks']} chunks "
        f"({counts['heading_only_skipped']} heading-only sections skipped)"
    )
    print(f"  {config.index_type} index, {counts['dim']}-d MiniLM vectors, chunk_size {chunking.chunk_size}, overlap {chunking.chunk_overlap}")
    print(f"  chunking {build['chunk_s']} s, embedding {build['embed_s']} s, FAISS {build['index_s']} s: {build['chunks_per_s']} chunks/s (embed + index)")
    print(f"  index_hash {m['index_hash']}")
    return 0


def handle_query(args: argparse.Namespace) -> int:
    from harness.api.errors import ConfigError
    from harness.models.minilm import MiniLMEmbedder

    if args.k < 1:
        raise ConfigError(f"-k: must be >= 1, got {args.k}")
    index = open_index(args)
    hits = index.search(MiniLMEmbedder().encode([args.text]), args.k)[0]
    print(f"{'rank':>4}  {'score':>6}  chunk")
    for rank, hit in enumerate(hits, start=1):
        _print_hit(rank, hit.score, hit.chunk)
    if args.bm25:
        from retrieval_index.bm25 import BM25Baseline

        print("\nBM25:")
        for rank, hit in enumerate(BM25Baseline(index.chunks).search(args.text, args.k), start=1):
            _print_hit(rank, hit.score, hit.chunk)
    return 0


def _print_hit(rank: int, score: float, chunk: Any) -> None:
    snippet = " ".join(chunk.text.split())
    print(f"{rank:>4}  {score:>6.3f}  {chunk.id}")
    print(f"{'':>14}{snippet[:150]}{'...' if len(snippet) > 150 else ''}")


def handle_eval(args: argparse.Namespace) -> int:
    from harness.benchmark import load_benchmark
    from harness.models.minilm import MiniLMEmbedder
    from retrieval_index.evaluation import evaluate_retrieval, format_table

    benchmark = load_benchmark(args.benchmark)
    index = open_index(args)
    report = evaluate_retrieval(index, benchmark.items, MiniLMEmbedder(), with_bm25=not args.no_bm25, progress=not args.quiet)
    report["benchmark"] = benchmark.describe()
    print(f"benchmark {benchmark.path}: {report['n_scored']} of {report['n_items']} items have gold passages")
    print(f"index {index.folder} ({report['index']['chunks']} chunks, {report['index']['type']})")
    print(format_table(report))
    if "recall_at_10_vs_exact" in report:
        print(f"recall@10 of the {report['index']['type']} index vs exact search: {report['recall_at_10_vs_exact']:.3f}")
    if report["unknown_gold"]:
        print(f"warning: {len(report['unknown_gold'])} gold anchor(s) not in the corpus: {', '.join(report['unknown_gold'][:5])}", file=sys.stderr)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"report written to {args.json}")
    return 0
