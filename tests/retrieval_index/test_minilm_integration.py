"""A tiny index built in the test with the real MiniLM and real FAISS, used through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.models.minilm import MiniLMEmbedder
from retrieval_index.embedder import model_identity
from retrieval_index.faiss_index import IndexConfig, build_index, load_index
from retrieval_index.ingest import ChunkingConfig

pytestmark = pytest.mark.integration

SMALL = ChunkingConfig(chunk_size=64, chunk_overlap=8)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder(device="cpu")


def test_minilm_index_finds_the_right_sections(tiny_corpus: Path, tmp_path: Path, embedder: MiniLMEmbedder, isolated_cache: Path) -> None:
    index = build_index(tiny_corpus, tmp_path / "idx", SMALL, IndexConfig(), embedder, progress=False)
    questions = {
        "How often must each DRAM row be refreshed when the device is hot?": "ddr5/refresh.md#refresh-interval",
        "How long is the device blocked by one refresh command?": "ddr5/refresh.md#refresh-cycle-time",
        "What is the transconductance of a MOSFET?": "devices/mosfet.md#saturation-current",
        "How do synchronizers deal with metastability?": "notes.txt",
    }
    vectors = embedder.encode(list(questions))
    assert vectors.shape == (4, 384)
    assert abs(float((vectors**2).sum(axis=1).mean()) - 1.0) < 1e-4
    top = [hits[0].chunk.anchor for hits in index.search(vectors, 3)]
    assert top == list(questions.values())
    loaded = load_index(index.folder)
    assert [h.chunk.id for h in loaded.search(vectors, 3)[1]] == [h.chunk.id for h in index.search(vectors, 3)[1]]
    assert loaded.manifest["embedding"] == model_identity()


def test_cli_build_query_eval(tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_cache: Path) -> None:
    out = tmp_path / "cli-idx"
    assert main(["index", "build", "--docs", str(tiny_corpus), "--out", str(out), "--chunk-size", "64", "--chunk-overlap", "8", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"index written to {out}" in printed and "chunks/s" in printed
    assert main(["index", "query", "refresh cycle time of one command", "-k", "2", "--index", str(out), "--bm25", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "ddr5/refresh.md#refresh-cycle-time:0" in printed and "BM25:" in printed
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps(
            {
                "id": "a",
                "category": "accuracy",
                "question": "What is tREFI above 85 C?",
                "answer": {"type": "text", "accept": ["1.95 us"]},
                "gold_passages": ["ddr5/refresh.md#refresh-interval"],
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "b",
                "category": "quality",
                "question": "Explain the square law.",
                "answer": {"type": "keypoints", "points": ["overdrive squared"]},
                "gold_passages": ["devices/mosfet.md#mosfet-square-law"],
            }
        )
        + "\n"
    )
    report = tmp_path / "eval.json"
    assert main(["index", "eval", "--benchmark", str(items), "--index", str(out), "--json", str(report), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "minilm+faiss-flat" in printed and "bm25" in printed
    data = json.loads(report.read_text())
    assert data["retrievers"]["minilm+faiss-flat"]["all"]["n"] == 2
    assert data["retrievers"]["minilm+faiss-flat"]["all"]["hit@10"] == 1.0
