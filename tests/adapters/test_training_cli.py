"""`python -m harness train` killed with SIGKILL resumes from its checkpoint and ends where an
uninterrupted run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adapters.conftest import TINY, assert_same_adapter_weights
from tests.conftest import REPO, kill_when

pytestmark = pytest.mark.integration  # three training subprocesses, ~1 min


def train_command(base: Path, corpus: Path, out: Path) -> list[str]:
    settings = [s for s in TINY if not s.startswith(("checkpoint_every=", "epochs="))] + ["checkpoint_every=1", "epochs=30"]
    return [
        sys.executable,
        "-m",
        "harness",
        "train",
        "lora",
        "--base",
        str(base),
        "--corpus",
        str(corpus),
        "--output",
        str(out),
        "--quiet",
        "--device",
        "cpu",
        "--set",
        *settings,
    ]


def test_sigkill_mid_training_resumes_from_the_checkpoint(tiny_models: dict[str, Path], corpus: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache"), "HARNESS_THREADS": "1"}
    straight = subprocess.run(
        train_command(tiny_models["student"], corpus, tmp_path / "straight"), cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert straight.returncode == 0, straight.stderr[-3000:]
    checkpoints = tmp_path / "cache" / "train-checkpoints"
    assert not [p for p in checkpoints.rglob("*") if p.is_file()], "a finished run leaves no checkpoint"

    command = train_command(tiny_models["student"], corpus, tmp_path / "resumed")
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def checkpointed_step() -> int:
        found = list(checkpoints.glob("*/checkpoint.json"))
        return int(json.loads(found[0].read_text())["state"]["step"]) if found else 0

    step = kill_when(proc, checkpointed_step, at_least=5, poll_s=0.02)
    assert step >= 5, "the kill should land after a few checkpoints"
    assert not (tmp_path / "resumed" / "manifest.json").exists(), "the kill should land before the end"

    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first = json.loads((tmp_path / "straight" / "manifest.json").read_text())
    second = json.loads((tmp_path / "resumed" / "manifest.json").read_text())
    assert second["resumed_from_step"] >= 5
    assert second["steps"] == first["steps"] and second["tokens_seen"] == first["tokens_seen"]
    assert_same_adapter_weights(tmp_path / "straight", tmp_path / "resumed")
    assert not [p for p in checkpoints.rglob("*") if p.is_file()]
