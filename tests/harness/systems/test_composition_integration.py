"""Compositions with the real packaged models: the built-ins keep the fingerprints of the
committed baseline (so its cached answers stay valid; loop stopping adds its own key), and the issue's TOML-declared rag+teacher
runs end to end from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.registry import Registry
from tests.conftest import REPO

BUILTINS = ("vanilla", "rag", "rag-oracle", "lora", "lora-kd", "teacher", "rag+lora", "rag+lora-kd")
pytestmark = pytest.mark.integration


def test_builtin_fingerprints_equal_the_committed_baselines() -> None:
    """A built-in's fingerprint is the one the baseline recorded, apart from the model libraries'
    versions (those of the machine the tests run on); with loop stopping off it lacks only the
    ``loop_stop`` key."""
    from harness.models.generation import model_library_versions

    baseline = json.loads((REPO / "reports" / "baseline" / "run.json").read_text())["systems"]
    registry = Registry.from_entry_points()
    here = model_library_versions()
    for name in BUILTINS:
        recorded = {**baseline[name]["fingerprint"], "libraries": here}
        assert "loop_stop" in recorded, name
        assert dict(registry.create(name).fingerprint) == recorded, name
        assert dict(registry.create(name, loop_stop=False).fingerprint) == {k: v for k, v in recorded.items() if k != "loop_stop"}, name


def test_rag_teacher_declared_in_toml_runs(tmp_path: Path) -> None:
    config = tmp_path / "rag-teacher.toml"
    config.write_text('[systems.rag+teacher]\nmodel = "gemma3-270m"\nadapter = "adapters/shipped/teacher"\nprompt = "plain"\nretriever = { k = 4 }\n')
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--mode",
        "generate",
        "--system-config",
        str(config),
        "--systems",
        "rag+teacher",
        "--limit",
        "2",
        "--output-dir",
        str(out),
        "--quiet",
        "--baseline",
        "none",
    ]
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=1800, env={**os.environ, "HARNESS_THREADS": os.environ.get("HARNESS_THREADS", "1")}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    fingerprint = run["systems"]["rag+teacher"]["fingerprint"]
    assert fingerprint["model"] == "gemma3-270m" and fingerprint["adapter"]["kind"] == "teacher" and fingerprint["retrieval"]["k"] == 4
    assert fingerprint["prompt"]["format"] == "plain-question-answer"
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2
    for sample in samples:
        assert isinstance(sample["prompt"], str) and "Reference passages:" in sample["prompt"] and sample["prompt"].endswith("\nAnswer:")
        assert len(sample["extra"]["retrieved"]) == 10 and sample["extra"]["k"] == 4
    assert run["metrics"]["per_system"]["rag+teacher"]["retrieval"]["all"]["n"] == 2
