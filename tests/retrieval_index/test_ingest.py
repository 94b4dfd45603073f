"""Chunking keeps heading anchors: every chunk maps back to a harness.corpus section."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.api.errors import ConfigError, DataError
from harness.benchmark import DEFAULT_CORPUS
from harness.corpus import document_files, load_corpus, section_spans
from retrieval_index.ingest import Chunk, ChunkingConfig, chunk_corpus

SMALL = ChunkingConfig(chunk_size=64, chunk_overlap=8)


def _normalised(text: str) -> str:
    return " ".join(text.split())


def test_every_markdown_chunk_lies_in_the_section_its_anchor_names(tiny_corpus: Path) -> None:
    corpus = load_corpus(tiny_corpus)
    chunks, counts = chunk_corpus(tiny_corpus, SMALL)
    markdown = [c for c in chunks if "#" in c.anchor]
    assert markdown and counts["chunks"] == len(chunks)
    for chunk in markdown:
        section = corpus.section(chunk.anchor)
        assert section is not None, chunk.anchor
        assert chunk.lines == (section.start_line, section.end_line)
        assert _normalised(chunk.text) in _normalised(section.text)


def test_sub_sections_get_their_own_anchor_and_heading_path(tiny_corpus: Path) -> None:
    chunks, _ = chunk_corpus(tiny_corpus, SMALL)
    by_anchor = {c.anchor: c for c in chunks}
    cycle = by_anchor["ddr5/refresh.md#refresh-cycle-time"]
    assert "tRFC" in cycle.text and "tREFI" not in cycle.text
    assert cycle.section == "DRAM refresh > Refresh interval > Refresh cycle time"
    assert "tREFI" in by_anchor["ddr5/refresh.md#refresh-interval"].text


def test_duplicate_headings_and_fenced_hashes_follow_corpus_slugs(tiny_corpus: Path) -> None:
    anchors = {c.anchor for c in chunk_corpus(tiny_corpus, SMALL)[0]}
    assert {"ddr5/refresh.md#examples", "ddr5/refresh.md#examples-1"} <= anchors
    assert not any("not-a-heading" in a for a in anchors)


def test_long_section_splits_into_numbered_chunks_with_one_anchor(tiny_corpus: Path) -> None:
    chunks, _ = chunk_corpus(tiny_corpus, SMALL)
    saturation = [c for c in chunks if c.anchor == "devices/mosfet.md#saturation-current"]
    assert len(saturation) > 3
    assert [c.id for c in saturation] == [f"devices/mosfet.md#saturation-current:{n}" for n in range(len(saturation))]
    assert len({c.id for c in chunks}) == len(chunks)


def test_preamble_and_text_files_are_anchored_to_the_document(tiny_corpus: Path) -> None:
    by_anchor = {c.anchor: c for c in chunk_corpus(tiny_corpus, SMALL)[0]}
    assert "before the first heading" in by_anchor["devices/mosfet.md"].text
    assert by_anchor["devices/mosfet.md"].lines is None
    assert "metastability" in by_anchor["notes.txt"].text


def test_heading_only_sections_and_readme_are_skipped(tiny_corpus: Path) -> None:
    chunks, counts = chunk_corpus(tiny_corpus, SMALL)
    anchors = {c.anchor for c in chunks}
    assert "devices/mosfet.md#overview" not in anchors and "devices/mosfet.md#mosfet-square-law" not in anchors
    assert counts["heading_only_skipped"] == 2
    assert all(p.name != "README.md" for p in document_files(tiny_corpus))
    assert all(not c.doc.lower().endswith("readme.md") for c in chunks)


def test_chunk_ids_are_stable_across_runs(tiny_corpus: Path) -> None:
    first = [c.to_dict() for c in chunk_corpus(tiny_corpus, SMALL)[0]]
    assert first == [c.to_dict() for c in chunk_corpus(tiny_corpus, SMALL)[0]]
    assert [Chunk.from_dict(d).to_dict() for d in first] == first


def test_bundled_corpus_anchors_survive_chunking() -> None:
    corpus = load_corpus(DEFAULT_CORPUS)
    chunks, _ = chunk_corpus(DEFAULT_CORPUS, ChunkingConfig())
    md = [c for c in chunks if c.doc.endswith(".md")]
    unknown = sorted({c.anchor for c in md if "#" in c.anchor} - corpus.anchors)
    assert not unknown
    for chunk in md[::25]:
        section = corpus.section(chunk.anchor)
        assert section is not None and _normalised(chunk.text) in _normalised(section.text)


def test_section_spans_match_the_corpus_loader(tiny_corpus: Path) -> None:
    assert set(section_spans(tiny_corpus)) == load_corpus(tiny_corpus).anchors


def test_markdown_without_front_matter_is_indexed_whole(tmp_path: Path) -> None:
    (tmp_path / "note.md").write_text("# Heading\n\nSome body text about clocks.\n", encoding="utf-8")
    chunks, _ = chunk_corpus(tmp_path, SMALL)
    assert [c.anchor for c in chunks] == ["note.md#heading"] and chunks[0].lines == (1, 3)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"chunk_size": 8}, "chunk_size: 8"), ({"chunk_size": 512}, "chunk_size: 512"), ({"chunk_size": 100, "chunk_overlap": 60}, "chunk_overlap: 60")],
)
def test_bad_chunking_parameters_name_the_field(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        ChunkingConfig(**kwargs)


def test_empty_or_missing_docs_folder_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no .md, .txt or .pdf"):
        chunk_corpus(tmp_path, SMALL)
    with pytest.raises(DataError, match="not found"):
        chunk_corpus(tmp_path / "missing", SMALL)


def test_pdf_pages_are_read_through_llama_index_and_anchored_per_page(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType text, extractable by pypdf
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(tmp_path / "book.pdf") as pdf:
        for text in ("Metastability resolves exponentially with time constant tau.", "Setup time is measured before the clock edge."):
            figure = plt.figure()
            figure.text(0.1, 0.5, text)
            pdf.savefig(figure)
            plt.close(figure)
    chunks, counts = chunk_corpus(tmp_path, SMALL)
    assert counts["files"] == 1
    assert [(c.anchor, c.section) for c in chunks] == [("book.pdf#page-1", "book, page 1"), ("book.pdf#page-2", "book, page 2")]
    assert "Metastability" in chunks[0].text and "Setup time" in chunks[1].text
