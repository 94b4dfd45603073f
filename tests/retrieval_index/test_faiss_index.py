"""Index folders: build, load, search, stale-manifest detection and corrupt-file errors (real
FAISS; a bag-of-words embedder stands in for MiniLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api.errors import ArtifactError, ConfigError
from retrieval_index.faiss_index import IndexConfig, build_index, default_index_dir, ensure_index, load_index
from retrieval_index.ingest import ChunkingConfig
from retrieval_index.manifest import CHUNKS_FILE, INDEX_FILE, MANIFEST

SMALL = ChunkingConfig(chunk_size=64, chunk_overlap=8)


@pytest.fixture
def built(tiny_corpus: Path, tmp_path: Path, bow, isolated_cache: Path):
    return build_index(tiny_corpus, tmp_path / "idx", SMALL, IndexConfig(), bow, progress=False)


def test_build_writes_files_and_manifest(built, tiny_corpus: Path) -> None:
    manifest = json.loads((built.folder / MANIFEST).read_text())
    assert manifest["corpus_hash"] and manifest["docs"] == str(tiny_corpus.resolve())
    assert manifest["chunking"]["chunk_size"] == 64 and manifest["index"]["type"] == "flat"
    assert manifest["embedding"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["counts"]["chunks"] == len(built) and manifest["build"]["chunks_per_s"] > 0
    assert set(manifest["files"]) == {INDEX_FILE, CHUNKS_FILE}


def test_load_returns_the_same_search_results(built, bow) -> None:
    query = bow.encode(["refresh interval tREFI temperature"])
    loaded = load_index(built.folder)
    assert [h.chunk.id for h in loaded.search(query, 3)[0]] == [h.chunk.id for h in built.search(query, 3)[0]]
    assert loaded.search(query, 1)[0][0].chunk.anchor == "ddr5/refresh.md#refresh-interval"
    assert loaded.index_hash == built.index_hash


def test_search_clamps_k_and_scores_descend(built, bow) -> None:
    hits = built.search(bow.encode(["drain current"]), 10_000)[0]
    assert len(hits) == len(built)
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_changed_corpus_is_stale_with_the_rebuild_command(built, tiny_corpus: Path) -> None:
    (tiny_corpus / "ddr5" / "refresh.md").write_text((tiny_corpus / "ddr5" / "refresh.md").read_text() + "\nNew paragraph.\n")
    with pytest.raises(ArtifactError) as info:
        load_index(built.folder)
    message = str(info.value)
    assert "stale index" in message and "corpus changed" in message
    assert f"python -m harness index build --docs {tiny_corpus.resolve()} --out {built.folder}" in message
    assert "--chunk-size 64 --chunk-overlap 8 --index-type flat" in message


def test_added_document_is_stale(built, tiny_corpus: Path) -> None:
    (tiny_corpus / "extra.txt").write_text("more text\n")
    with pytest.raises(ArtifactError, match="corpus changed"):
        load_index(built.folder)


def test_changed_parameters_are_stale(built) -> None:
    with pytest.raises(ArtifactError, match=r"chunking parameters changed \(chunk_size: 64 -> 96\)"):
        load_index(built.folder, chunking=ChunkingConfig(chunk_size=96, chunk_overlap=8))
    with pytest.raises(ArtifactError, match="index parameters changed"):
        load_index(built.folder, config=IndexConfig(index_type="hnsw"))


def test_search_settings_do_not_make_an_index_stale(tiny_corpus: Path, tmp_path: Path, bow, isolated_cache: Path) -> None:
    hnsw = build_index(tiny_corpus, tmp_path / "hnsw", SMALL, IndexConfig(index_type="hnsw"), bow, progress=False)
    loaded = load_index(hnsw.folder, config=IndexConfig(index_type="hnsw", hnsw_ef_search=8))
    assert loaded.faiss.hnsw.efSearch == 8


def test_truncated_index_file_is_named(built) -> None:
    path = built.folder / INDEX_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ArtifactError, match=rf"{INDEX_FILE}: corrupt or truncated index file \(100 bytes"):
        load_index(built.folder)


def test_altered_bytes_are_caught_by_the_checksum(built) -> None:
    path = built.folder / CHUNKS_FILE
    data = bytearray(path.read_bytes())
    data[10] ^= 0x20
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=rf"{CHUNKS_FILE}: corrupt index file \(sha256"):
        load_index(built.folder)


def test_unreadable_faiss_file_is_named_even_with_a_matching_manifest(built) -> None:
    from retrieval_index.manifest import file_digest

    path = built.folder / INDEX_FILE
    path.write_bytes(b"not a faiss index" * 10)
    manifest = json.loads((built.folder / MANIFEST).read_text())
    manifest["files"][INDEX_FILE] = file_digest(path)
    (built.folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=rf"{INDEX_FILE}: FAISS cannot read this index file"):
        load_index(built.folder)


def test_missing_or_garbled_manifest(built, tmp_path: Path) -> None:
    (built.folder / MANIFEST).write_text("{not json")
    with pytest.raises(ArtifactError, match=f"{MANIFEST}: manifest is corrupt"):
        load_index(built.folder)
    (built.folder / MANIFEST).unlink()
    with pytest.raises(ArtifactError, match="manifest missing"):
        load_index(built.folder)
    with pytest.raises(ArtifactError, match="index folder not found"):
        load_index(tmp_path / "nowhere")


def test_build_refuses_to_overwrite_a_foreign_folder(tiny_corpus: Path, tmp_path: Path, bow, isolated_cache: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an index folder"):
        build_index(tiny_corpus, out, SMALL, IndexConfig(), bow, progress=False)
    assert (out / "keep.txt").read_text() == "mine"


def test_rebuild_replaces_an_index_in_place(built, tiny_corpus: Path, bow) -> None:
    (tiny_corpus / "extra.txt").write_text("synchronizer mean time between failures\n")
    rebuilt = build_index(tiny_corpus, built.folder, SMALL, IndexConfig(), bow, progress=False)
    assert len(rebuilt) == len(built) + 1
    assert load_index(built.folder).index_hash == rebuilt.index_hash != built.index_hash
    assert not [p for p in built.folder.parent.iterdir() if p.name.startswith(".")]


def test_default_index_is_built_once_then_cached_and_rebuilt_when_the_corpus_changes(tiny_corpus: Path, bow, isolated_cache: Path) -> None:
    first = ensure_index(tiny_corpus, SMALL, IndexConfig(), bow, progress=False)
    assert first.folder == default_index_dir(tiny_corpus, SMALL, IndexConfig())
    assert str(first.folder).startswith(str(isolated_cache / "index"))
    calls = bow.calls
    again = ensure_index(tiny_corpus, SMALL, IndexConfig(), bow, progress=False)
    assert again.folder == first.folder and bow.calls == calls  # loaded, not re-embedded
    (tiny_corpus / "extra.txt").write_text("new document\n")
    changed = ensure_index(tiny_corpus, SMALL, IndexConfig(), bow, progress=False)
    assert changed.folder != first.folder and bow.calls == calls + 1


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_stored_vectors_and_compare_with_exact(kind: str, tiny_corpus: Path, tmp_path: Path, bow, isolated_cache: Path) -> None:
    index = build_index(tiny_corpus, tmp_path / kind, SMALL, IndexConfig(index_type=kind), bow, progress=False)
    assert index.approximate
    vectors = index.vectors(range(len(index)))
    assert vectors.shape == (len(index), 384)
    exact = index.exact_search(vectors[:5], 3)
    assert [row[0].row for row in exact] == [0, 1, 2, 3, 4] or all(abs(row[0].score - 1.0) < 1e-5 for row in exact)
    if kind == "ivf":
        assert index.manifest["index_resolved"]["nlist"] >= 1


def test_bad_index_config_names_the_field() -> None:
    with pytest.raises(ConfigError, match="index_type: unknown value 'annoy'"):
        IndexConfig(index_type="annoy")
    with pytest.raises(ConfigError, match="ivf_nprobe"):
        IndexConfig(ivf_nprobe=0)
