"""A synthetic two-system run directory, graded with the fake embedder (no model loads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scoring.runs import BAD, GOOD, make_run


@pytest.fixture
def graded_run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", {"vanilla": BAD, "rag": GOOD}, latency={"vanilla": 0.4, "rag": 1.3})
