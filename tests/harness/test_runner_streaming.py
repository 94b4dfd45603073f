"""The runner with systems that stream results as they finish (generate_stream)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.api import GenerationResult
from harness.api.errors import GenerationError
from harness.registry import Registry
from harness.runlog import load_run, read_samples
from harness.runner import RunConfig, Runner
from tests.conftest import STARTER


class Streamer:
    """Finishes requests in reverse order, one per yield; can die after ``fail_after`` yields."""

    def __init__(self, fail_after: int | None = None, bad_index: bool = False) -> None:
        self.name = "stream"
        self.fail_after = fail_after
        self.bad_index = bad_index
        self.asked: list[list[str]] = []

    @property
    def fingerprint(self) -> dict:
        return {"stream": 1}

    def generate(self, requests):  # pragma: no cover - the runner must prefer generate_stream
        raise AssertionError("generate() called on a streaming system")

    def generate_stream(self, requests):
        self.asked.append([r.id for r in requests])
        for count, index in enumerate(reversed(range(len(requests)))):
            if self.fail_after is not None and count >= self.fail_after:
                raise RuntimeError("worker died")
            yield [(0 if self.bad_index else index, GenerationResult(id=requests[index].id, text=f"a {requests[index].id}"))]


def run(tmp_path: Path, system: Streamer) -> Path:
    registry = Registry()
    registry.register("stream", lambda **o: system)
    return Runner(RunConfig(systems="stream", benchmark=str(STARTER), output_dir=str(tmp_path / "run"), quiet=True, baseline_system="stream"), registry).run()


@pytest.fixture(autouse=True)
def no_grading(monkeypatch: pytest.MonkeyPatch, isolated_cache: Path) -> None:
    monkeypatch.setattr("harness.runner.summarize", lambda *args: {})


def test_all_pending_requests_go_to_one_stream_and_every_answer_is_kept(tmp_path: Path) -> None:
    system = Streamer()
    run_dir = run(tmp_path, system)
    assert [len(a) for a in system.asked] == [12]
    samples = read_samples(run_dir)
    assert len(samples) == 12 and all(s["response"] == f"a {s['id']}" for s in samples)
    assert load_run(run_dir)["systems"]["stream"]["generated"] == 12


def test_a_stream_that_dies_keeps_what_finished_and_resume_completes(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="stream: .*failed after 5 of 12 answers: RuntimeError: worker died"):
        run(tmp_path, Streamer(fail_after=5))
    assert len(read_samples(tmp_path / "run")) == 5
    again = Streamer()
    run(tmp_path, again)
    assert [len(a) for a in again.asked] == [7]
    assert len({s["id"] for s in read_samples(tmp_path / "run")}) == 12


def test_a_stream_that_repeats_an_index_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="twice, out of range or for the wrong request"):
        run(tmp_path, Streamer(bad_index=True))
