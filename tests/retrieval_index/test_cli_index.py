"""`python -m harness index ...` error paths: one line, exit code 2, the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli.main import main
from retrieval_index.faiss_index import IndexConfig, build_index
from retrieval_index.ingest import ChunkingConfig
from retrieval_index.manifest import INDEX_FILE


def test_corrupt_index_is_one_line_naming_the_file(tiny_corpus: Path, tmp_path: Path, bow, isolated_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = build_index(tiny_corpus, tmp_path / "idx", ChunkingConfig(chunk_size=64, chunk_overlap=8), IndexConfig(), bow, progress=False)
    (index.folder / INDEX_FILE).write_bytes(b"\0" * 12)
    assert main(["index", "query", "anything", "--index", str(index.folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(index.folder / INDEX_FILE) in err and "\n" not in err
    assert "rebuild with: python -m harness index build" in err


def test_missing_docs_folder(tmp_path: Path, isolated_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "build", "--docs", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "docs folder not found" in capsys.readouterr().err


def test_bad_chunk_size_flag(tiny_corpus: Path, tmp_path: Path, isolated_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "build", "--docs", str(tiny_corpus), "--chunk-size", "4000", "--quiet"]) == 2
    assert "chunk_size: 4000" in capsys.readouterr().err
