"""The openai system against a real OpenAI-compatible server on loopback: ``transformers serve``
serving the cached SmolLM2 weights (needs the ``serve`` extra: fastapi + uvicorn).

Checks that served greedy answers agree with the in-process ``vanilla`` system on the large
majority of items, and that a server stopped mid-run and started again loses no item.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

pytestmark = pytest.mark.integration

ITEMS = 6  # starter items; each costs ~32 decode steps on both sides
MAX_NEW_TOKENS = 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``transformers serve`` as a child process on 127.0.0.1."""

    def __init__(self, model_dir: Path, port: int, log: Path) -> None:
        self.model_dir, self.port, self.log = model_dir, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 300.0) -> None:
        script = Path(sys.executable).with_name("transformers")
        command = [str(script)] if script.exists() else [sys.executable, "-c", "from transformers.cli.transformers import main; main()"]
        command += ["serve", str(self.model_dir), "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", "--dtype", "float32"]
        handle = self.log.open("ab")
        self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        deadline = time.monotonic() + timeout_s
        import httpx

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"transformers serve not healthy after {timeout_s} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)  # uvicorn drains in-flight requests first
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@pytest.fixture(scope="module")
def model_dir() -> Path:
    pytest.importorskip("fastapi", reason="needs transformers[serving] from the test extra: pip install -e '.[test]'")
    pytest.importorskip("uvicorn", reason="needs transformers[serving] from the test extra: pip install -e '.[test]'")
    from harness.models.sources import resolve

    return Path(resolve("smollm2-135m-instruct").path)


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(model_dir, free_port(), tmp_path_factory.mktemp("serve") / "serve.log")
    running.start()
    yield running
    running.stop()


def registry_for(server: Server, model_dir: Path) -> tuple[object, dict]:
    from harness.registry import Registry
    from harness.systems.openai_system import openai

    registry = Registry.from_entry_points()
    options = {
        "base_url": f"http://127.0.0.1:{server.port}/v1",
        "model": str(model_dir),
        "concurrency": 2,
        "timeout_s": 300.0,
        "max_retries": 40,
        "backoff_s": 0.5,
        "max_backoff_s": 5.0,
    }
    registry.register("served", lambda **o: openai(**{**options, **o}))
    return registry, options


def run(registry: object, systems: str, out: Path) -> Path:
    from harness.runner import RunConfig, Runner
    from tests.conftest import STARTER

    config = RunConfig(
        systems=systems,
        benchmark=str(STARTER),
        limit=ITEMS,
        output_dir=str(out),
        max_new_tokens=MAX_NEW_TOKENS,
        quiet=True,
        use_cache=False,
        baseline_system="vanilla",
        mode="generate",
    )
    return Runner(config, registry).run()  # type: ignore[arg-type]


def test_served_greedy_answers_agree_with_in_process_vanilla(server: Server, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.runlog import read_samples

    monkeypatch.setattr("harness.runner.summarize", lambda *args: {})
    registry, _ = registry_for(server, model_dir)
    samples = read_samples(run(registry, "vanilla,served", tmp_path / "run"))
    by = {(s["system"], s["id"]): s for s in samples}
    ids = sorted({s["id"] for s in samples})
    assert len(ids) == ITEMS
    same = [i for i in ids if by[("served", i)]["response"] == by[("vanilla", i)]["response"]]
    agreement = len(same) / len(ids)
    print(f"\nAGREEMENT served vs vanilla (greedy, {ITEMS} items, {MAX_NEW_TOKENS} tokens): {agreement:.1%}")
    assert agreement >= 0.8, [(i, by[("served", i)]["response"], by[("vanilla", i)]["response"]) for i in ids if i not in same]
    assert all(by[("served", i)]["completion_tokens"] > 0 and by[("served", i)]["latency_s"] > 0 for i in ids)


def test_server_stopped_mid_run_and_restarted_loses_no_item(server: Server, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.runlog import load_run, read_samples

    monkeypatch.setattr("harness.runner.summarize", lambda *args: {})
    registry, _ = registry_for(server, model_dir)
    out = tmp_path / "run"
    samples_file = out / "samples.jsonl"
    restarted = threading.Event()

    def bounce() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not (samples_file.exists() and samples_file.read_text().count("\n") >= 2):
            time.sleep(0.2)
        server.stop()  # mid-run: the other requests are in flight or queued
        time.sleep(2)
        server.start()
        restarted.set()

    flipper = threading.Thread(target=bounce)
    flipper.start()
    try:
        run_dir = run(registry, "served", out)
    finally:
        flipper.join()
    assert restarted.is_set()
    samples = read_samples(run_dir)
    assert sorted(s["id"] for s in samples) == sorted({s["id"] for s in samples}) and len(samples) == ITEMS
    assert load_run(run_dir)["status"] == "complete"
    assert max(s["extra"]["attempts"] for s in samples) > 1  # some request really did hit the dead server
    shutil.rmtree(out)
