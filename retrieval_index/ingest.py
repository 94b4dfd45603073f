"""Ingestion: read a folder of .md/.txt/.pdf with llama-index and cut it into anchored chunks.

    python -m harness index build --docs benchmarks/corpus --chunk-size 200 --chunk-overlap 30

Pipeline (all llama-index parts): ``SimpleDirectoryReader`` reads the files (``PDFReader`` gives
one document per page), ``MarkdownNodeParser`` cuts Markdown at every heading, and a
``SentenceSplitter`` measured in MiniLM word pieces cuts long sections into overlapping chunks.

Every chunk carries an ``anchor`` that maps it back to the corpus:

* Markdown: ``doc-path#heading-slug`` -- the innermost section of :mod:`harness.corpus` (same
  slugs, same duplicate rule, same line ranges) that contains the chunk's heading line;
* text before the first heading, and ``.txt`` files: ``doc-path``;
* PDF pages: ``doc-path#page-<label>``.

Chunk ids are ``<anchor>:<n>`` (n-th chunk of that anchor), stable while the corpus and the
chunking parameters are. Sections holding only their heading (a parent whose text is all in
sub-sections) produce no chunk; their sub-sections do.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.api.errors import ConfigError, DataError
from harness.corpus import Section, document_files, read_document

log = logging.getLogger(__name__)

INGEST_VERSION = 1  # bump when chunk text or anchors change for the same input; part of the index identity
MAX_EMBED_TOKENS = 256  # all-MiniLM-L6-v2 truncates inputs here (word pieces, incl. [CLS]/[SEP])


@dataclass(frozen=True)
class ChunkingConfig:
    chunk_size: int = 200  # MiniLM word pieces per chunk, heading-path line included; the encoder keeps 256
    chunk_overlap: int = 30  # word pieces repeated between consecutive chunks of one section

    def __post_init__(self) -> None:
        if not 32 <= self.chunk_size <= MAX_EMBED_TOKENS - 2:
            raise ConfigError(
                f"chunk_size: {self.chunk_size} is out of range; use 32..{MAX_EMBED_TOKENS - 2} word pieces (MiniLM embeds at most {MAX_EMBED_TOKENS})"
            )
        if not 0 <= self.chunk_overlap <= self.chunk_size // 2:
            raise ConfigError(
                f"chunk_overlap: {self.chunk_overlap} is out of range; use 0..{self.chunk_size // 2} (at most half of chunk_size {self.chunk_size})"
            )

    @classmethod
    def resolve(cls, chunk_size: int | None = None, chunk_overlap: int | None = None, recorded: Mapping[str, Any] | None = None) -> ChunkingConfig:
        """The chunking to use: an explicit value wins, then the ``chunking`` table an index
        manifest recorded (``recorded``), then this class's defaults."""
        recorded = recorded or {}
        return cls(
            chunk_size=chunk_size if chunk_size is not None else int(recorded.get("chunk_size", cls.chunk_size)),
            chunk_overlap=chunk_overlap if chunk_overlap is not None else int(recorded.get("chunk_overlap", cls.chunk_overlap)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "splitter": "MarkdownNodeParser+SentenceSplitter", "tokenizer": "all-MiniLM-L6-v2 wordpiece", "ingest_version": INGEST_VERSION}


@dataclass(frozen=True)
class Chunk:
    id: str  # "<anchor>:<n>"
    anchor: str  # "doc-path#slug", "doc-path" or "doc-path#page-N"
    doc: str  # path relative to the docs root, "/" separated
    section: str  # heading path "H1 > H2 > H3", or the document's name for .txt/.pdf
    text: str  # the chunk as it appears in the document (what a prompt shows)
    lines: tuple[int, int] | None = None  # 1-based line range of the anchor's section in the file

    @property
    def embed_text(self) -> str:
        """What gets embedded and BM25-indexed: llama-index's default metadata rendering of the
        heading path followed by the text (the same string the splitter budgeted for)."""
        return f"section: {self.section}\n\n{self.text}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lines"] = list(self.lines) if self.lines else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Chunk":
        lines = data.get("lines")
        return cls(id=data["id"], anchor=data["anchor"], doc=data["doc"], section=data["section"], text=data["text"], lines=tuple(lines) if lines else None)  # type: ignore[arg-type]


def heading_path(info: Any, section: Section | None) -> str:
    if section is None:
        return info.title
    chain = [s for s in info.sections if s.start_line <= section.start_line and s.end_line >= section.end_line]
    return " > ".join(s.heading for s in sorted(chain, key=lambda s: (s.level, s.start_line)))


def innermost_section(sections: Iterable[Section], line: int) -> Section | None:
    inside = [s for s in sections if s.start_line <= line <= s.end_line]
    return max(inside, key=lambda s: s.start_line) if inside else None


def _is_heading_only(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) <= 1 and (not lines or lines[0].lstrip().startswith("#"))


_HIDDEN_KEYS = ["anchor", "doc", "lines", "kind"]  # metadata kept on nodes but never embedded


def load_nodes(root: Path, progress: bool = False) -> tuple[list[Any], int, int]:
    """Read ``root`` and return (section-level llama-index nodes with anchor metadata, number of
    source files, number of heading-only sections skipped)."""
    from llama_index.core import Document, SimpleDirectoryReader
    from llama_index.core.node_parser import MarkdownNodeParser
    from llama_index.core.schema import TextNode

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: docs folder not found; pass --docs DIR with .md, .txt or .pdf files")
    files = document_files(root)
    if not files:
        raise DataError(f"{root}: no .md, .txt or .pdf documents found; add some or point --docs at another folder")
    try:
        raw = SimpleDirectoryReader(input_files=[str(p) for p in files], raise_on_error=True).load_data(show_progress=progress)
    except Exception as exc:  # a reader failing on one file (bad PDF, bad encoding) names it
        raise DataError(f"{root}: reading documents failed: {type(exc).__name__}: {exc}; fix or remove that file") from None
    markdown: dict[str, Any] = {}  # rel path -> harness.corpus.Document
    md_docs, nodes = [], []
    for doc in raw:
        path = Path(doc.metadata["file_path"])
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        suffix = path.suffix.lower()
        if suffix == ".md":
            info = read_document(path, root, strict=False)
            markdown[rel] = info
            md_docs.append(Document(text=info.body, id_=rel, metadata={"doc": rel}))
            continue
        if suffix == ".pdf":
            page = str(doc.metadata.get("page_label", "")).strip() or "?"
            meta: dict[str, Any] = {"anchor": f"{rel}#page-{page}", "doc": rel, "section": f"{path.stem}, page {page}", "lines": None}
        else:
            meta = {"anchor": rel, "doc": rel, "section": path.stem, "lines": None}
        if doc.text.strip():
            nodes.append(Document(text=doc.text, metadata=meta, excluded_embed_metadata_keys=_HIDDEN_KEYS, excluded_llm_metadata_keys=_HIDDEN_KEYS))
    skipped = 0
    parser = MarkdownNodeParser(include_metadata=True, include_prev_next_rel=False)
    for node in parser.get_nodes_from_documents(md_docs, show_progress=progress):
        info = markdown[node.metadata["doc"]]
        text = node.get_content()
        if _is_heading_only(text):
            skipped += 1
            continue
        start = node.start_char_idx if isinstance(node, TextNode) and node.start_char_idx is not None else info.body.find(text)
        section = innermost_section(info.sections, info.body_start_line + info.body.count("\n", 0, max(start, 0))) if start is not None and start >= 0 else None
        meta = {
            "anchor": section.anchor if section else info.path,
            "doc": info.path,
            "section": heading_path(info, section),
            "lines": [section.start_line, section.end_line] if section else None,
        }
        nodes.append(Document(text=text, metadata=meta, excluded_embed_metadata_keys=_HIDDEN_KEYS, excluded_llm_metadata_keys=_HIDDEN_KEYS))
    return nodes, len(files), skipped


def chunk_corpus(root: Path, config: ChunkingConfig, progress: bool = False) -> tuple[list[Chunk], dict[str, int]]:
    """Chunks of every document under ``root`` plus counts (files, sections, skipped)."""
    from llama_index.core.node_parser import SentenceSplitter

    from retrieval_index.embedder import wordpiece_counter

    nodes, n_files, skipped = load_nodes(root, progress=progress)
    splitter = SentenceSplitter(chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap, tokenizer=wordpiece_counter(), include_prev_next_rel=False)
    try:
        pieces = splitter.get_nodes_from_documents(nodes, show_progress=progress)
    except ValueError as exc:  # a heading path longer than the chunk budget
        raise ConfigError(f"chunk_size: {config.chunk_size} is too small for the heading paths in {root} ({exc}); raise --chunk-size") from None
    chunks: list[Chunk] = []
    per_anchor: dict[str, int] = {}
    for piece in pieces:
        meta = piece.metadata
        text = piece.get_content().strip()
        if not text:
            continue
        n = per_anchor.get(meta["anchor"], 0)
        per_anchor[meta["anchor"]] = n + 1
        lines = meta.get("lines")
        chunks.append(
            Chunk(
                id=f"{meta['anchor']}:{n}",
                anchor=meta["anchor"],
                doc=meta["doc"],
                section=meta["section"],
                text=text,
                lines=(int(lines[0]), int(lines[1])) if lines else None,
            )
        )
    if not chunks:
        raise DataError(f"{root}: documents contain no text to index; add content or point --docs at another folder")
    counts = {"files": n_files, "section_nodes": len(nodes), "heading_only_skipped": skipped, "chunks": len(chunks), "anchors": len(per_anchor)}
    return chunks, counts
