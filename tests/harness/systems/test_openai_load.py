"""The openai system under load: 500 benchmark items against a loopback server that answers some
requests with 5xx, stalls others past the client timeout and restarts mid-run. Every item must be
answered exactly once, with its own answer, within the concurrency bound, and the retries must be
counted in run.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.registry import Registry
from harness.runlog import load_run, read_samples
from harness.runner import RunConfig, Runner
from harness.systems.openai_system import openai
from tests.harness.systems.conftest import FakeServer, LoopbackServer, Reply

N_ITEMS = 500
CONCURRENCY = 8
TIMEOUT_S = 0.4


def injected(number: int) -> Reply | None:
    """Deterministic faults by request number: 503s, 500s with Retry-After, 502s and stalls."""
    if number % 13 == 5:
        return Reply(status=503, body={"error": "overloaded"})
    if number % 17 == 3:
        return Reply(status=500, body={"error": "boom"}, headers={"Retry-After": "0"})
    if number % 23 == 7:
        return Reply(status=502, body=b"<html>bad gateway</html>")
    if number % 29 == 11:
        return Reply(delay_s=3 * TIMEOUT_S)  # the client times out and retries
    return None


def write_items(path: Path) -> Path:
    with path.open("w") as handle:
        for i in range(N_ITEMS):
            handle.write(
                json.dumps(
                    {
                        "id": f"load-{i:03d}",
                        "category": "accuracy",
                        "question": f"Load question {i}: name the cell.",
                        "answer": {"type": "text", "accept": ["1T1C"]},
                    }
                )
                + "\n"
            )
    return path


def test_500_requests_with_faults_and_a_restart_answer_every_item_exactly_once(tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.runner.summarize", lambda *args: {})  # grading is not under test
    state = FakeServer(
        default_delay_s=0.005,
        fault=injected,
        untracked={n for n in range(5 * N_ITEMS) if n % 29 == 11 and injected(n) is not None and injected(n).status == 200},
    )
    server = LoopbackServer(state)
    flipper = server.restart_when(seen=N_ITEMS // 2, down_s=0.5)
    registry = Registry()
    registry.register(
        "served",
        lambda **o: openai(base_url=state.url, model="m", concurrency=CONCURRENCY, timeout_s=TIMEOUT_S, max_retries=30, backoff_s=0.02, max_backoff_s=0.2, **o),
    )
    items = write_items(tmp_path / "items.jsonl")
    try:
        run_dir = Runner(
            RunConfig(systems="served", benchmark=str(items), output_dir=str(tmp_path / "run"), quiet=True, baseline_system="served"), registry
        ).run()
    finally:
        flipper.join()
        server.close()

    assert server.went_down.is_set(), "the server restart must happen during the run"
    samples = read_samples(run_dir)
    ids = [s["id"] for s in samples]
    assert len(ids) == N_ITEMS and len(set(ids)) == N_ITEMS, "every item answered exactly once"
    for sample in samples:  # each answer belongs to its own item (no cross-wiring under concurrency)
        number = int(sample["id"].split("-")[1])
        assert sample["response"].startswith("echo: ") and sample["response"].endswith(f"Question: Load question {number}: name the cell."), sample["id"]
    assert state.max_in_flight <= CONCURRENCY

    faults_served = sum(1 for n in range(len(state.seen)) if injected(n) is not None)
    meta = load_run(run_dir)["systems"]["served"]
    retries = sum(s["extra"]["attempts"] - 1 for s in samples)
    assert meta["generated"] == N_ITEMS and meta["retries"] == retries
    assert retries >= faults_served >= 40, (retries, faults_served)
    assert retries >= len(state.seen) - N_ITEMS  # every request the server saw beyond one per item was a retry
    print(
        f"\n{N_ITEMS} items, {len(state.seen)} requests seen by the server, {faults_served} injected faults, "
        f"{retries} retries, max in flight {state.max_in_flight}/{CONCURRENCY}"
    )
