"""The openai system against a scripted server on 127.0.0.1: requests, usage, retries, timeouts,
concurrency bound, TOML definition and a server that goes away mid-run."""

from __future__ import annotations

from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.api import ChatMessage, GenerationRequest
from harness.api.errors import ConfigError, GenerationError
from harness.registry import Registry
from harness.runlog import load_run, read_samples
from harness.runner import RunConfig, Runner
from harness.system_config import load_system_config
from harness.systems.openai_system import OpenAIConfig, OpenAISystem, openai
from tests.conftest import STARTER
from tests.harness.systems.conftest import FakeServer, LoopbackServer, Reply, _handler

FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05}


def chat(i: int, **kwargs: object) -> GenerationRequest:
    return GenerationRequest(id=f"q{i}", messages=(ChatMessage("system", "Be brief."), ChatMessage("user", f"question {i}")), max_new_tokens=32, **kwargs)  # type: ignore[arg-type]


def system(server: FakeServer, **options: object) -> OpenAISystem:
    return openai(base_url=server.url, model="tiny", **{**FAST, **options})


def test_answers_in_order_with_usage_latency_and_request_body(fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "sekret")
    results = system(fake_server, api_key_env="TEST_KEY").generate([chat(i, stop=("\n\n",)) for i in range(5)])
    assert [r.id for r in results] == [f"q{i}" for i in range(5)]
    assert [r.text for r in results] == [f"echo: question {i}" for i in range(5)]
    assert all(r.prompt_tokens == 7 and r.completion_tokens == 3 and r.latency_s > 0 for r in results)
    assert results[0].extra == {"attempts": 1, "served_model": "tiny"}
    body = fake_server.seen[0]
    assert body["path"] == "/v1/chat/completions"
    assert body["model"] == "tiny" and body["max_tokens"] == 32 and body["temperature"] == 0.0 and body["stop"] == ["\n\n"]
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert fake_server.headers_seen[0]["Authorization"] == "Bearer sekret"


def test_plain_prompt_goes_to_completions_and_no_key_sends_no_auth(fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    [result] = system(fake_server).generate([GenerationRequest(id="p", prompt="2+2=")])
    assert result.text == "echo: 2+2="
    assert fake_server.seen[0]["path"] == "/v1/completions" and fake_server.seen[0]["prompt"] == "2+2="
    assert "Authorization" not in fake_server.headers_seen[0]


def test_concurrency_is_bounded(fake_server: FakeServer) -> None:
    fake_server.default_delay_s = 0.1
    system(fake_server, concurrency=3).generate([chat(i) for i in range(9)])
    assert fake_server.max_in_flight == 3


def test_retries_429_and_5xx_then_succeeds(fake_server: FakeServer) -> None:
    fake_server.script = [Reply(429, {"error": "slow down"}, headers={"Retry-After": "0"}), Reply(503, {"error": "loading"}), Reply(500, b"oops")]
    [result] = system(fake_server, concurrency=1).generate([chat(0)])
    assert result.text == "echo: question 0"
    assert result.extra["attempts"] == 4
    assert len(fake_server.seen) == 4


def test_timeout_is_retried(fake_server: FakeServer) -> None:
    fake_server.script = [Reply(delay_s=4.0)]
    [result] = system(fake_server, concurrency=1, timeout_s=1.0).generate([chat(0)])
    assert result.extra["attempts"] == 2  # the slow first reply timed out; the retry answered


def test_client_error_fails_at_once_with_the_servers_message(fake_server: FakeServer) -> None:
    fake_server.script = [Reply(404, {"error": "model 'tiny' not found"})]
    with pytest.raises(GenerationError, match="HTTP 404.*model 'tiny' not found"):
        system(fake_server, concurrency=1).generate([chat(0)])
    assert len(fake_server.seen) == 1


def test_gives_up_after_max_retries_when_nothing_listens() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _handler(FakeServer())) as probe:
        port = probe.server_address[1]  # a port that is free once the probe closes
    dead = OpenAISystem("dead", OpenAIConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=2, **FAST))
    with pytest.raises(GenerationError, match="failed after 3 attempts.*rerun when the server is up"):
        dead.generate([chat(0)])


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown option 'temprature'"):
        openai(base_url="http://127.0.0.1:1/v1", model="m", temprature=0)
    with pytest.raises(ConfigError, match="missing option 'model'"):
        openai(base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError, match="base_url.*not an http"):
        openai(base_url="127.0.0.1:8000", model="m")
    with pytest.raises(ConfigError, match="concurrency: 0"):
        openai(base_url="http://127.0.0.1:1/v1", model="m", concurrency=0)
    assert openai(base_url="http://127.0.0.1:1/v1", model="m", batch_size=4, dtype="float32").config.model == "m"


def test_defined_in_toml_and_left_out_of_all(tmp_path: Path) -> None:
    toml = tmp_path / "systems.toml"
    toml.write_text('[systems.served]\nbase = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "smol"\nconcurrency = 2\n')
    registry, options = load_system_config(toml, Registry.from_entry_points())
    created = registry.create("served", **options["served"])
    assert isinstance(created, OpenAISystem) and created.name == "served" and created.config.concurrency == 2
    assert created.fingerprint["model"] == "smol"
    assert "openai" not in Registry.from_entry_points().resolve("all")


def test_runner_commits_streamed_answers_and_survives_a_server_restart(tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server goes away after three answers and comes back on the same port: every item is
    answered once, and nothing is lost. (Grading is skipped: only the answers matter here.)"""
    monkeypatch.setattr("harness.runner.summarize", lambda *args: {})
    state = FakeServer(default_delay_s=0.05)
    server = LoopbackServer(state)
    flipper = server.restart_when(seen=3, down_s=0.3)
    registry = Registry()
    registry.register("served", lambda **o: openai(base_url=state.url, model="m", concurrency=2, max_retries=20, backoff_s=0.05, max_backoff_s=0.2, **o))
    try:
        run_dir = Runner(
            RunConfig(systems="served", benchmark=str(STARTER), output_dir=str(tmp_path / "run"), quiet=True, baseline_system="served"), registry
        ).run()
    finally:
        flipper.join()
        server.close()
    samples = read_samples(run_dir)
    assert len(samples) == 12 and len({s["id"] for s in samples}) == 12
    assert all(s["response"].startswith("echo: ") for s in samples)
    assert load_run(run_dir)["systems"]["served"]["generated"] == 12
