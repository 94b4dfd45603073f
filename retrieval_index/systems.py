"""The retriever part (``retriever = { ... }`` in a system's TOML table) and the ``rag`` and
``rag-oracle`` systems it makes with the base student model.

    python -m harness run --systems vanilla,rag,rag-oracle --limit 20

``rag`` embeds each item's question with MiniLM, takes the top ``k`` chunks from the FAISS index
and puts them, numbered, before the question (:mod:`retrieval_index.prompt`). ``rag-oracle``
(``oracle = true``) uses the same prompt with chunks of the item's gold passages instead: the
ceiling that separates retrieval errors from generation errors. When the gold sections hold more
than ``k`` chunks the oracle keeps the best chunk of each gold passage, then the next best by
similarity to the question. Items without gold passages are not applicable to the oracle
(:meth:`Retriever.not_applicable`): the runner generates nothing for them and reports them as
such, since the oracle would only be the base model there.

Every result's ``extra`` records what was shown: ``{"retrieved": [{"chunk_id", "anchor",
"score"}, ...], "k", "index_hash"}`` (search, the top ``record_k`` with the first ``k`` in the
prompt) or ``{"passages": [...], "gold", "missing_gold", "k", "index_hash"}`` (oracle). The index
hash, ``k``, search settings and the prompt text are part of the fingerprint.

The retriever's options are the fields of :class:`RagConfig`; it registers as the ``faiss`` entry
point of ``harness.retrievers`` (see :mod:`harness.systems.composition`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.api.errors import ConfigError
from harness.api.system import GenerationRequest
from harness.systems.composition import declare
from retrieval_index.prompt import PROMPT_FINGERPRINT, augment

log = logging.getLogger(__name__)

NO_GOLD = "no gold_passages"  # why the oracle is not applicable to an item


@dataclass(frozen=True)
class RagConfig:
    k: int = 4  # passages put in the prompt; 4 x ~150 word pieces keeps prompts near 900 tokens
    record_k: int = 10  # retrieved chunks recorded in extra (>= k) so hit@10 and MRR need no rerun
    docs: str | None = None  # corpus folder; None = the bundled benchmarks/corpus (or the index's own)
    index: str | None = None  # a folder from `index build --out`; None = the cached default index
    chunk_size: int | None = None  # MiniLM word pieces per chunk; None = the index's own, else ChunkingConfig's default (200)
    chunk_overlap: int | None = None  # word pieces of overlap; None = the index's own, else ChunkingConfig's default (30)
    index_type: str | None = None  # flat | hnsw | ivf; None = flat (or the index's own)
    hnsw_ef_search: int = 64  # HNSW query beam width (approximate indexes only)
    ivf_nprobe: int = 16  # IVF clusters scanned per query (approximate indexes only)
    embed_device: str = "auto"  # MiniLM device: auto (CUDA if present), cpu, cuda[:N]
    embed_batch_size: int = 64  # questions per MiniLM forward pass
    oracle: bool = False  # the item's gold passages instead of a search (the retrieval ceiling)

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 32:
            raise ConfigError(f"k: {self.k} passages is out of range; use 1..32")
        if not self.k <= self.record_k <= 100:
            raise ConfigError(f"record_k: {self.record_k} is out of range; use k ({self.k})..100")


class Retriever:
    """Turns requests into passage-augmented requests; shared by ``rag``, ``rag-oracle`` and the
    combined ``rag+lora`` systems. The index and MiniLM load on first use."""

    def __init__(self, config: RagConfig) -> None:
        from harness.models.minilm import MiniLMEmbedder

        self.config = config
        self.oracle = config.oracle
        self.item_fields: tuple[str, ...] = ("gold_passages",) if config.oracle else ()  # keyed by the generation cache
        self.embedder = MiniLMEmbedder(device=config.embed_device, batch_size=config.embed_batch_size)
        self._index: Any = None
        self._matcher: Any = None
        self._gold_rows: dict[str, list[int]] = {}

    # -- identity -------------------------------------------------------------------------------
    def _configs(self, manifest: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
        from retrieval_index.faiss_index import IndexConfig
        from retrieval_index.ingest import ChunkingConfig

        c = self.config
        chunking = ChunkingConfig.resolve(c.chunk_size, c.chunk_overlap, (manifest or {}).get("chunking"))
        search = {"hnsw_ef_search": c.hnsw_ef_search, "ivf_nprobe": c.ivf_nprobe}
        if c.index_type is None and manifest is not None:
            return chunking, IndexConfig.from_build_params(manifest["index"], **search)
        return chunking, IndexConfig(index_type=c.index_type or "flat", **search)

    def index_hash(self) -> str:
        """Cheap for the default index (hashes the corpus, builds nothing); an explicit index
        folder is loaded and checked."""
        if self._index is not None:
            return str(self._index.index_hash)
        if self.config.index is not None:
            return str(self.index().index_hash)
        from harness.benchmark import DEFAULT_CORPUS
        from retrieval_index.faiss_index import current_identity

        chunking, index_config = self._configs()
        return current_identity(Path(self.config.docs or DEFAULT_CORPUS).resolve(), chunking, index_config).index_hash

    def fingerprint(self) -> dict[str, Any]:
        _, index_config = self._configs(self._index.manifest if self._index is not None else None)
        return {
            "mode": "oracle" if self.oracle else "retrieved",
            "index_hash": self.index_hash(),
            "k": self.config.k,
            "record_k": self.config.record_k,
            "search": index_config.search_params(),
            "prompt": PROMPT_FINGERPRINT,
        }

    # -- loading --------------------------------------------------------------------------------
    def index(self) -> Any:
        if self._index is None:
            from retrieval_index.faiss_index import ensure_index, load_index
            from retrieval_index.manifest import read_manifest

            if self.config.index is not None:
                folder = Path(self.config.index)
                chunking, index_config = self._configs(read_manifest(folder))
                docs = Path(self.config.docs) if self.config.docs else None
                self._index = load_index(folder, docs, chunking, index_config)
            else:
                chunking, index_config = self._configs()
                self._index = ensure_index(Path(self.config.docs) if self.config.docs else None, chunking, index_config, self.embedder)
        return self._index

    def close(self) -> None:
        self._index = None
        self._matcher = None
        self._gold_rows = {}
        release = getattr(self.embedder, "close", None)
        if callable(release):
            release()

    # -- augmentation ---------------------------------------------------------------------------
    def not_applicable(self, requests: Sequence[GenerationRequest]) -> dict[str, str]:
        """The oracle's requests whose item names no gold passage (a search applies to every item)."""
        if not self.oracle:
            return {}
        return {r.id: NO_GOLD for r in requests if not (r.item or {}).get("gold_passages")}

    def prepare(self, requests: Sequence[GenerationRequest]) -> tuple[list[GenerationRequest], list[dict[str, Any]]]:
        if not requests:
            return [], []
        index = self.index()
        vectors = self.embedder.encode([query_text(r) for r in requests])
        if self.oracle:
            pairs = [self._oracle(index, r, v) for r, v in zip(requests, vectors)]
            return [p[0] for p in pairs], [p[1] for p in pairs]
        results = index.search(vectors, self.config.record_k)
        prepared, extras = [], []
        for request, hits in zip(requests, results):
            shown = hits[: self.config.k]
            prepared.append(augment(request, [(h.chunk.section, h.chunk.text) for h in shown]))
            extras.append({"retrieved": [h.to_dict() for h in hits], "k": len(shown), "index_hash": index.index_hash})
        return prepared, extras

    def _oracle(self, index: Any, request: GenerationRequest, vector: Any) -> tuple[GenerationRequest, dict[str, Any]]:
        from retrieval_index.faiss_index import Hit

        gold = [str(g) for g in (request.item.get("gold_passages") or [])]
        rows_by_gold = {g: self._rows_for_gold(index, g) for g in gold}
        missing = [g for g, rows in rows_by_gold.items() if not rows]
        if missing:
            log.warning(
                "item %s: gold passage(s) %s match no chunk of index %s; check the anchors with python -m harness validate",
                request.id,
                ", ".join(missing),
                index.folder,
            )
        candidates = sorted({r for rows in rows_by_gold.values() for r in rows})
        scores = dict(zip(candidates, (index.vectors(candidates) @ vector).tolist())) if candidates else {}
        chosen: list[int] = []
        for rows in rows_by_gold.values():  # best chunk of each gold passage first
            best = max(rows, key=lambda r: scores[r], default=None)
            if best is not None and best not in chosen:
                chosen.append(best)
        for row in sorted(candidates, key=lambda r: -scores[r]):  # then fill up to k by similarity
            if len(chosen) >= self.config.k:
                break
            if row not in chosen:
                chosen.append(row)
        hits = sorted((Hit(index.chunks[r], float(scores[r]), r) for r in chosen), key=lambda h: -h.score)
        extra = {"passages": [h.to_dict() for h in hits], "gold": gold, "missing_gold": missing, "k": len(hits), "index_hash": index.index_hash}
        return augment(request, [(h.chunk.section, h.chunk.text) for h in hits]), extra

    def _rows_for_gold(self, index: Any, gold: str) -> list[int]:
        if gold not in self._gold_rows:
            from harness.scoring.retrieval import GoldMatcher

            self._matcher = self._matcher or GoldMatcher.for_corpus(index.manifest["docs"])
            self._gold_rows[gold] = [row for row, chunk in enumerate(index.chunks) if self._matcher.is_hit(chunk.anchor, gold)]
        return self._gold_rows[gold]


def query_text(request: GenerationRequest) -> str:
    """What is searched: the item's bare question when the runner passed it, else the last user
    turn (which includes the benchmark's instructions)."""
    question = request.item.get("question") if request.item else None
    return str(question) if question else request.question


def make_retriever(**options: Any) -> Retriever:
    """The ``faiss`` retriever part; ``options`` are :class:`RagConfig` fields."""
    known = sorted(RagConfig.__dataclass_fields__)
    for key in options:
        if key not in known:
            raise ConfigError(f"{key}: unknown retriever option; allowed: {', '.join(known)}")
    return Retriever(RagConfig(**options))


rag = declare("rag", "SmolLM2-135M + top-4 MiniLM/FAISS passages from the corpus in the prompt", model="smollm2-135m-instruct", retriever={})
rag_oracle = declare(
    "rag-oracle", "SmolLM2-135M + the item's gold passages in the prompt (retrieval ceiling)", model="smollm2-135m-instruct", retriever={"oracle": True}
)
