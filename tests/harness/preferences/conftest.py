"""Synthetic run directories for the preference tests: a few systems, a few items, no model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import pytest

from harness.preferences.store import Vote


def write_run(run_dir: Path, systems: Sequence[str], items: int = 6, answer: Callable[[str, str], str] | None = None) -> Path:
    """A run log as ``python -m harness run`` writes it: run.json, benchmark.jsonl, samples.jsonl."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ids = [f"q-{i:03d}" for i in range(items)]
    answer = answer or (lambda system, item: f"{system} says: the answer to {item} is 42 ns")
    (run_dir / "run.json").write_text(json.dumps({"schema": "raq-harness/run", "schema_version": 1, "status": "complete", "systems": {s: {} for s in systems}}))
    (run_dir / "benchmark.jsonl").write_text("".join(json.dumps({"id": i, "category": "recall", "question": f"Question {i}?"}) + "\n" for i in ids))
    with (run_dir / "samples.jsonl").open("w") as handle:
        for system in systems:
            for i in ids:
                handle.write(json.dumps({"id": i, "system": system, "category": "recall", "question": f"Question {i}?", "response": answer(system, i)}) + "\n")
    return run_dir


def vote(rater: str, item: str, a: str, b: str, choice: str, **extra: object) -> Vote:
    return Vote(rater=rater, item=item, system_a=a, system_b=b, choice=choice, timestamp="2025-01-01T00:00:00+00:00", **extra)  # type: ignore[arg-type]


@pytest.fixture
def run3(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run", ["lora", "lora-kd", "vanilla"], items=6)
