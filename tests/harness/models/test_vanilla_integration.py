"""The vanilla system end to end on the real packaged SmolLM2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, STARTER

pytestmark = pytest.mark.integration


def test_vanilla_run_then_fully_cached(tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_CACHE": os.environ.get("HARNESS_CACHE", str(Path.home() / ".cache" / "raq-harness"))}
    common = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--mode",
        "generate",
        "--systems",
        "vanilla",
        "--benchmark",
        str(STARTER),
        "--limit",
        "3",
        "--max-new-tokens",
        "48",
        "--quiet",
        "--no-cache",
    ]
    first = subprocess.run([*common, "--output-dir", str(tmp_path / "a")], cwd=REPO, capture_output=True, text=True, env=env, timeout=900)
    assert first.returncode == 0, first.stderr
    samples = [json.loads(line) for line in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3
    assert all(s["response"].strip() and s["completion_tokens"] > 0 for s in samples)
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["systems"]["vanilla"]["fingerprint"]["model"] == "smollm2-135m-instruct"
    cached_cmd = [c for c in common if c != "--no-cache"]
    subprocess.run([*cached_cmd, "--output-dir", str(tmp_path / "b")], cwd=REPO, capture_output=True, text=True, env=env, timeout=900, check=True)
    second = subprocess.run([*cached_cmd, "--output-dir", str(tmp_path / "c")], cwd=REPO, capture_output=True, text=True, env=env, timeout=900)
    assert second.returncode == 0, second.stderr
    again = [json.loads(line) for line in (tmp_path / "c" / "samples.jsonl").read_text().splitlines()]
    assert {s["cached"] for s in again} == {True}
    assert sorted(s["response"] for s in again) == sorted(s["response"] for s in samples)  # greedy is deterministic
