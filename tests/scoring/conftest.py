"""Fixtures for grader tests: a fake embedder for unit tests, the real MiniLM for integration tests."""

from __future__ import annotations

import pytest

from harness.scoring.calibration import load_calibration
from harness.scoring.grade import GradeConfig
from tests.scoring.fakes import HashEmbedder, pattern_only_calibration


@pytest.fixture
def fake_config() -> GradeConfig:
    return GradeConfig(embedder=HashEmbedder(), calibration=pattern_only_calibration())


@pytest.fixture(scope="session")
def minilm_config() -> GradeConfig:
    from harness.scoring.embeddings import minilm

    return GradeConfig(embedder=minilm(), calibration=load_calibration())
