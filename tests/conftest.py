"""Test-wide setup: offline by construction, an isolated cache per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

NETGUARD = Path(__file__).resolve().parent / "fixtures" / "netguard"
sys.path.insert(0, str(NETGUARD))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(NETGUARD), os.environ.get("PYTHONPATH", "")] if p)
import netguard  # noqa: E402

netguard.install()
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIST = Path(__file__).resolve().parent / "fixtures" / "plugin_dist"
STARTER = REPO / "benchmarks" / "starter" / "items.jsonl"


@pytest.fixture
def plugin_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the fake third-party distribution on sys.path (and PYTHONPATH for subprocesses)."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIST))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGIN_DIST), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    return PLUGIN_DIST


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HARNESS_CACHE for tests that write generation caches."""
    path = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_CACHE", str(path))
    return path


def kill_when(proc: subprocess.Popen[bytes], progress: Callable[[], int], at_least: int, timeout_s: float = 300.0, poll_s: float = 0.05) -> int:
    """Poll ``progress()`` until it reaches ``at_least`` (or the process ends, or ``timeout_s``
    passes), then SIGKILL ``proc`` and wait for it. Returns the last progress seen; a reading that
    fails (a file half-written, a database busy) counts as 0."""
    import signal
    import time

    seen, deadline = 0, time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        try:
            seen = int(progress())
        except Exception:  # noqa: BLE001 - the process is writing what we read
            seen = 0
        if seen >= at_least:
            break
        time.sleep(poll_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return seen


def run_options(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> dict[str, dict]:
    """The per-system options ``python -m harness ARGV`` (a ``run`` command line) hands the runner;
    the runner is stopped before it starts, so nothing loads or generates."""
    from harness import runner
    from harness.cli import run as run_cli
    from harness.cli.main import build_parser

    seen: dict[str, dict] = {}

    class Stop(Exception):
        pass

    class FakeRunner:
        def __init__(self, config: object, registry: object = None) -> None:
            seen.update({name: dict(options) for name, options in config.system_options.items()})  # type: ignore[attr-defined]
            raise Stop

    monkeypatch.setattr(runner, "Runner", FakeRunner)
    with pytest.raises(Stop):
        run_cli.handle(build_parser().parse_args(argv))
    return seen


def tiny_llama(vocab_size: int, max_position_embeddings: int = 128) -> Any:
    """A seeded, randomly initialised two-layer Llama (hidden 32, 4 heads, 2 KV heads; pad 0,
    BOS 1, EOS 2) in eval mode: the model the generation tests decode with."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaForCausalLM(config).eval()
