"""Fixtures for grader tests: a fake embedder for unit tests, the real MiniLM for integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scoring.calibration import load_calibration
from harness.scoring.grade import GradeConfig
from tests.retrieval_index.conftest import write_corpus
from tests.scoring.fakes import HashEmbedder, pattern_only_calibration


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """The retrieval tests' tiny corpus: gold anchors for the retrieval metrics."""
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def fake_config() -> GradeConfig:
    return GradeConfig(embedder=HashEmbedder(), calibration=pattern_only_calibration())


@pytest.fixture(scope="session")
def minilm_config() -> GradeConfig:
    from harness.scoring.embeddings import minilm

    return GradeConfig(embedder=minilm(), calibration=load_calibration())
