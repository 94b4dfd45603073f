"""FAISS index over MiniLM chunk embeddings: build, save, load (with checks), search.

    python -m harness index build --docs benchmarks/corpus [--out DIR] [--index-type flat|hnsw|ivf]
    python -m harness index query "tREFI at high temperature" -k 5

Vectors are unit-length, so inner product is cosine similarity. ``flat`` (``IndexFlatIP``) is
exact and the default: the bundled corpus has about a thousand chunks, searched in well under a
millisecond. ``hnsw`` (``IndexHNSWFlat``) and ``ivf`` (``IndexIVFFlat``) are approximate options
for corpora of 10^5+ chunks; ``index eval`` reports their recall against exact search.

The default index of a docs folder lives in ``$HARNESS_CACHE/index/<corpus-hash[:12]>-<params>/``
and is built on first use; a changed corpus or parameter set gets a new folder. Chunk vectors are
committed batch by batch to ``$HARNESS_CACHE/embeddings.sqlite``
(:mod:`retrieval_index.embedding_store`): a killed build resumes, an edited corpus re-embeds
only the chunks that changed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.api.errors import ArtifactError, ConfigError
from harness.models.minilm import MiniLMEmbedder
from retrieval_index.embedder import encode_chunks, model_identity
from retrieval_index.embedding_store import EmbeddingStore
from retrieval_index.ingest import Chunk, ChunkingConfig, chunk_corpus
from retrieval_index.manifest import (
    CHUNKS_FILE,
    INDEX_FILE,
    MANIFEST,
    SCHEMA,
    SCHEMA_VERSION,
    IndexIdentity,
    build_command,
    file_digest,
    read_manifest,
    staleness,
    verify_files,
)

log = logging.getLogger(__name__)

INDEX_TYPES = ("flat", "hnsw", "ivf")


@dataclass(frozen=True)
class IndexConfig:
    index_type: str = "flat"  # "flat" = exact; "hnsw" / "ivf" = approximate, for 10^5+ chunks
    hnsw_m: int = 32  # HNSW neighbours per node; more = higher recall, more memory (4 + 2*M*4 bytes/vector)
    hnsw_ef_construction: int = 80  # HNSW build beam width; more = better graph, slower build
    hnsw_ef_search: int = 64  # HNSW query beam width (a search setting: changing it needs no rebuild)
    ivf_nlist: int = 0  # IVF clusters; 0 = auto: 4*sqrt(n), capped so each gets >= 39 training vectors
    ivf_nprobe: int = 16  # IVF clusters scanned per query (a search setting: changing it needs no rebuild)

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ConfigError(f"index_type: unknown value {self.index_type!r}; use one of {', '.join(INDEX_TYPES)}")
        for name in ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nprobe"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.ivf_nlist < 0:
            raise ConfigError(f"ivf_nlist: must be >= 0 (0 = auto), got {self.ivf_nlist}")

    def build_params(self) -> dict[str, Any]:
        """What changes the stored index (part of its identity)."""
        out: dict[str, Any] = {"type": self.index_type, "metric": "inner_product"}
        if self.index_type == "hnsw":
            out.update(m=self.hnsw_m, ef_construction=self.hnsw_ef_construction)
        elif self.index_type == "ivf":
            out.update(nlist=self.ivf_nlist)
        return out

    def search_params(self) -> dict[str, Any]:
        return {"hnsw": {"ef_search": self.hnsw_ef_search}, "ivf": {"nprobe": self.ivf_nprobe}}.get(self.index_type, {})

    @classmethod
    def from_build_params(cls, params: Mapping[str, Any], **search: Any) -> "IndexConfig":
        kind = str(params.get("type", "flat"))
        extra: dict[str, Any] = {}
        if kind == "hnsw":
            extra = {"hnsw_m": int(params["m"]), "hnsw_ef_construction": int(params["ef_construction"])}
        elif kind == "ivf":
            extra = {"ivf_nlist": int(params["nlist"])}
        return cls(index_type=kind, **extra, **search)

    def nlist_for(self, n: int) -> int:
        if self.ivf_nlist:
            return max(1, min(self.ivf_nlist, n))
        return max(1, min(int(4 * math.sqrt(n)), n // 39))


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # cosine similarity in [-1, 1]
    row: int  # position in the chunk store / FAISS index

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk.id, "anchor": self.chunk.anchor, "score": round(self.score, 6)}


def current_identity(docs: Path, chunking: ChunkingConfig, config: IndexConfig) -> IndexIdentity:
    from harness.corpus import content_hash

    docs = Path(docs)
    if not docs.is_dir():
        raise ConfigError(f"{docs}: docs folder not found; pass --docs DIR with .md, .txt or .pdf files")
    return IndexIdentity(corpus_hash=content_hash(docs), embedding=model_identity(), chunking=chunking.to_dict(), index=config.build_params())


def make_faiss(vectors: Any, config: IndexConfig) -> tuple[Any, dict[str, Any]]:
    """A populated FAISS index for unit ``vectors`` (n, d) and what was resolved at build time."""
    import faiss

    n, dim = vectors.shape
    index: faiss.Index
    if config.index_type == "flat":
        index = faiss.IndexFlatIP(dim)
        resolved: dict[str, Any] = {}
    elif config.index_type == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = config.hnsw_ef_construction
        index = hnsw
        resolved = {}
    else:
        nlist = config.nlist_for(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        resolved = {"nlist": nlist}
    index.add(vectors)
    return index, resolved


def set_search_params(index: Any, config: IndexConfig) -> None:
    """Apply query-time settings (HNSW efSearch, IVF nprobe) to a FAISS index."""
    import faiss

    if config.index_type == "hnsw":
        index.hnsw.efSearch = config.hnsw_ef_search
    elif config.index_type == "ivf":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = config.ivf_nprobe
        ivf.make_direct_map()  # lets RetrievalIndex.vectors() reconstruct stored rows


class RetrievalIndex:
    """A loaded index folder: FAISS index + chunk store + manifest."""

    def __init__(self, folder: Path, manifest: Mapping[str, Any], chunks: list[Chunk], index: Any, config: IndexConfig) -> None:
        self.folder = folder
        self.manifest = dict(manifest)
        self.chunks = chunks
        self.faiss = index
        self.config = config
        self._rows = {c.id: row for row, c in enumerate(chunks)}
        self.apply_search_params(config)

    @property
    def index_hash(self) -> str:
        return str(self.manifest["index_hash"])

    @property
    def approximate(self) -> bool:
        return self.config.index_type != "flat"

    def __len__(self) -> int:
        return len(self.chunks)

    def apply_search_params(self, config: IndexConfig) -> None:
        set_search_params(self.faiss, config)

    def search(self, vectors: Any, k: int) -> list[list[Hit]]:
        """Top-``k`` chunks for each row of ``vectors`` (unit query embeddings), best first."""
        import numpy as np

        k = max(1, min(k, len(self.chunks)))
        scores, rows = self.faiss.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        return [[Hit(self.chunks[r], float(s), int(r)) for s, r in zip(srow, rrow) if r >= 0] for srow, rrow in zip(scores, rows)]

    def exact_search(self, vectors: Any, k: int) -> list[list[Hit]]:
        """Brute-force search over the stored vectors: the reference for approximate indexes."""
        import faiss
        import numpy as np

        if not self.approximate:
            return self.search(vectors, k)
        exact = faiss.IndexFlatIP(self.faiss.d)
        exact.add(self.vectors(range(len(self.chunks))))
        k = max(1, min(k, len(self.chunks)))
        scores, rows = exact.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        return [[Hit(self.chunks[r], float(s), int(r)) for s, r in zip(srow, rrow) if r >= 0] for srow, rrow in zip(scores, rows)]

    def vectors(self, rows: Sequence[int] | range) -> Any:
        import numpy as np

        rows = list(rows)
        if not rows:
            return np.zeros((0, self.faiss.d), dtype=np.float32)
        return np.stack([self.faiss.reconstruct(int(r)) for r in rows]).astype(np.float32, copy=False)

    def row(self, chunk_id: str) -> int | None:
        return self._rows.get(chunk_id)


def build_index(
    docs: Path,
    out: Path,
    chunking: ChunkingConfig | None = None,
    config: IndexConfig | None = None,
    embedder: MiniLMEmbedder | None = None,
    progress: bool = True,
    store: EmbeddingStore | None | bool = True,
) -> RetrievalIndex:
    """Chunk, embed and index ``docs`` into folder ``out`` (replaced atomically if it exists).

    ``store`` keeps chunk vectors across builds (default: ``$HARNESS_CACHE/embeddings.sqlite``;
    ``False`` = none), so a killed build resumes and an edited corpus re-embeds only new chunks."""
    from importlib import metadata

    import faiss

    docs, out = Path(docs).resolve(), Path(out)
    chunking, config, embedder = chunking or ChunkingConfig(), config or IndexConfig(), embedder or MiniLMEmbedder()
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ConfigError(f"{out}: exists and is not an index folder (no {MANIFEST}); pass --out with a new or empty folder")
    started = time.perf_counter()
    identity = current_identity(docs, chunking, config)
    chunks, counts = chunk_corpus(docs, chunking, progress=progress)
    chunked = time.perf_counter()
    texts = [c.embed_text for c in chunks]
    if isinstance(embedder, MiniLMEmbedder):  # the store is keyed by MiniLM's weights hash
        if store is True:
            store = EmbeddingStore.default(embedder.dim)
        vectors, reused = encode_chunks(embedder, texts, store if isinstance(store, EmbeddingStore) else None, progress=progress, desc="embedding chunks")
    else:  # any object with ``encode`` (tests use a bag-of-words stand-in)
        vectors, reused = embedder.encode(texts, progress=progress, desc="embedding chunks"), 0
    if reused:
        log.info("reused %d of %d chunk embeddings from %s", reused, len(chunks), store.path)  # type: ignore[union-attr]
    embedded = time.perf_counter()
    index, resolved = make_faiss(vectors, config)
    indexed = time.perf_counter()
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        faiss.write_index(index, str(tmp / INDEX_FILE))
        with (tmp / CHUNKS_FILE).open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        manifest = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "docs": str(docs),
            "corpus_hash": identity.corpus_hash,
            **identity.params,
            "index_resolved": resolved,
            "params_hash": identity.params_hash,
            "index_hash": identity.index_hash,
            "counts": {**counts, "dim": int(vectors.shape[1])},
            "files": {INDEX_FILE: file_digest(tmp / INDEX_FILE), CHUNKS_FILE: file_digest(tmp / CHUNKS_FILE)},
            "build": {
                "created": datetime.now(timezone.utc).isoformat(),
                "chunk_s": round(chunked - started, 3),
                "embed_s": round(embedded - chunked, 3),
                "index_s": round(indexed - embedded, 3),
                "total_s": round(indexed - started, 3),
                "chunks_per_s": round(len(chunks) / max(indexed - chunked, 1e-9), 1),
                "embeddings_reused": reused,
                "faiss": getattr(faiss, "__version__", "?"),
                "llama_index_core": metadata.version("llama-index-core"),
                "sentence_transformers": metadata.version("sentence-transformers"),
            },
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("built %s index of %d chunks in %.1f s -> %s", config.index_type, len(chunks), indexed - started, out)
    return RetrievalIndex(out, manifest, chunks, index, config)


def _swap_in(tmp: Path, out: Path) -> None:
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def load_index(folder: Path, docs: Path | None = None, chunking: ChunkingConfig | None = None, config: IndexConfig | None = None) -> RetrievalIndex:
    """Load an index folder after checking its files and that it matches ``docs`` and the given
    parameters (those left ``None`` are taken from the manifest). Raises :class:`ArtifactError`."""
    import faiss

    folder = Path(folder)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    docs = Path(docs) if docs is not None else Path(manifest["docs"])
    built = IndexConfig.from_build_params(manifest["index"])
    chunking = chunking or ChunkingConfig(chunk_size=int(manifest["chunking"]["chunk_size"]), chunk_overlap=int(manifest["chunking"]["chunk_overlap"]))
    config = config or built
    if not docs.is_dir():
        raise ArtifactError(f"{folder}: built from {docs}, which is not here, so staleness cannot be checked; pass --docs DIR (the corpus folder) or rebuild")
    current = current_identity(docs, chunking, config)
    reasons = staleness(manifest, current)
    if reasons:
        raise ArtifactError(f"{folder}: stale index: {'; '.join(reasons)}; rebuild with: {build_command(docs, folder, current.chunking, current.index)}")
    try:
        index = faiss.read_index(str(folder / INDEX_FILE))
    except RuntimeError as exc:
        raise ArtifactError(
            f"{folder / INDEX_FILE}: FAISS cannot read this index file ({str(exc).splitlines()[0][:160]}); "
            f"rebuild with: {build_command(docs, folder, current.chunking, current.index)}"
        ) from None
    chunks = []
    with (folder / CHUNKS_FILE).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                chunks.append(Chunk.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ArtifactError(f"{folder / CHUNKS_FILE}:{number}: corrupt chunk record ({exc}); rebuild the index") from None
    if index.ntotal != len(chunks):
        raise ArtifactError(f"{folder / INDEX_FILE}: holds {index.ntotal} vectors but {CHUNKS_FILE} has {len(chunks)} chunks; rebuild the index")
    return RetrievalIndex(folder, manifest, chunks, index, config)


def default_index_dir(docs: Path, chunking: ChunkingConfig, config: IndexConfig) -> Path:
    from harness.cache_folder import cache_dir

    return cache_dir() / "index" / current_identity(Path(docs).resolve(), chunking, config).folder_name()


def ensure_index(
    docs: Path | None = None,
    chunking: ChunkingConfig | None = None,
    config: IndexConfig | None = None,
    embedder: MiniLMEmbedder | None = None,
    progress: bool = True,
) -> RetrievalIndex:
    """The cached index of ``docs`` (default: the bundled corpus), built on first use."""
    from harness.benchmark import DEFAULT_CORPUS

    docs = Path(docs or DEFAULT_CORPUS).resolve()
    chunking, config = chunking or ChunkingConfig(), config or IndexConfig()
    folder = default_index_dir(docs, chunking, config)
    if (folder / MANIFEST).exists():
        return load_index(folder, docs, chunking, config)
    log.warning("building the retrieval index of %s (first use; cached in %s)", docs, folder)
    return build_index(docs, folder, chunking, config, embedder, progress=progress)
