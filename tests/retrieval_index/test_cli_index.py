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


@pytest.mark.integration
def test_sigkill_mid_build_resumes_with_the_embeddings_it_had(tmp_path: Path) -> None:
    """Kill a real `index build` (MiniLM) once some batches are committed; the rerun embeds only
    the rest and its index equals an uninterrupted build's."""
    import json
    import os
    import shutil
    import sqlite3
    import subprocess
    import sys

    import faiss
    import numpy as np

    from tests.conftest import REPO, kill_when

    docs = tmp_path / "docs"
    (docs / "ddr5").mkdir(parents=True)
    for source in sorted((REPO / "benchmarks" / "corpus" / "ddr5").glob("*.md"))[:6]:
        shutil.copy(source, docs / "ddr5" / source.name)
    env = {**os.environ, "HARNESS_THREADS": "1"}

    def build(out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "harness",
            "index",
            "build",
            "--docs",
            str(docs),
            "--out",
            str(out),
            "--chunk-size",
            "64",
            "--chunk-overlap",
            "8",
            "--quiet",
        ]

    straight = subprocess.run(
        build(tmp_path / "straight"), cwd=REPO, env={**env, "HARNESS_CACHE": str(tmp_path / "c1")}, capture_output=True, text=True, timeout=600
    )
    assert straight.returncode == 0, straight.stderr[-2000:]
    n_chunks = json.loads((tmp_path / "straight" / "manifest.json").read_text())["counts"]["chunks"]
    assert n_chunks > 3 * 64, "the corpus must span several embedding batches"

    store = tmp_path / "c2" / "embeddings.sqlite"
    env2 = {**env, "HARNESS_CACHE": str(tmp_path / "c2")}
    proc = subprocess.Popen(build(tmp_path / "resumed"), cwd=REPO, env=env2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stored_vectors() -> int:
        if not store.exists():
            return 0
        with sqlite3.connect(store, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    stored = kill_when(proc, stored_vectors, at_least=64)
    assert 64 <= stored < n_chunks, "the kill should land mid-build"
    assert not (tmp_path / "resumed" / "manifest.json").exists()

    resumed = subprocess.run(build(tmp_path / "resumed"), cwd=REPO, env=env2, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((tmp_path / "straight" / "manifest.json").read_text())
    b = json.loads((tmp_path / "resumed" / "manifest.json").read_text())
    assert b["build"]["embeddings_reused"] >= 64 and a["build"]["embeddings_reused"] == 0
    assert a["index_hash"] == b["index_hash"] and a["counts"] == b["counts"]
    assert (tmp_path / "straight" / "chunks.jsonl").read_text() == (tmp_path / "resumed" / "chunks.jsonl").read_text()
    va = faiss.read_index(str(tmp_path / "straight" / INDEX_FILE)).reconstruct_n(0, n_chunks)
    vb = faiss.read_index(str(tmp_path / "resumed" / INDEX_FILE)).reconstruct_n(0, n_chunks)
    assert np.allclose(va, vb, atol=1e-5)
