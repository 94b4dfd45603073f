"""python -m harness merge: shard folders become one run equal to an unsharded one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api import GenerationResult
from harness.api.errors import ConfigError, DataError
from harness.cli.main import main
from harness.merge import merge_runs
from harness.registry import Registry
from harness.runlog import load_run, read_samples
from harness.runner import RunConfig, Runner
from tests.conftest import STARTER


class Echo:
    def __init__(self, version: int = 1, **_: object) -> None:
        self.name = "echo"
        self.version = version

    @property
    def fingerprint(self) -> dict:
        return {"echo": self.version}

    def generate(self, requests):
        return [GenerationResult(id=r.id, text=f"answer {r.id}", completion_tokens=2) for r in requests]


def shard(tmp_path: Path, spec: str, version: int = 1, max_new_tokens: int = 192) -> Path:
    registry = Registry()
    registry.register("echo", lambda **o: Echo(version=version))
    config = RunConfig(
        systems="echo",
        benchmark=str(STARTER),
        output_dir=str(tmp_path / spec.replace("/", "of")),
        shard=spec,
        quiet=True,
        baseline_system="echo",
        use_cache=False,
        max_new_tokens=max_new_tokens,
    )
    return Runner(config, registry).run()


@pytest.fixture
def no_grading(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Shard runs and merges skip grading (slow, and tested elsewhere); calls are recorded."""
    calls: list[tuple] = []
    monkeypatch.setattr("harness.runner.summarize", lambda *args: calls.append(args) or {"per_system": {"echo": {"n": 0}}})
    return calls


def test_merged_shards_equal_one_unsharded_run(tmp_path: Path, no_grading: list[tuple]) -> None:
    parts = [shard(tmp_path, "0/2"), shard(tmp_path, "1/2")]
    sizes = [len(read_samples(p)) for p in parts]
    assert sum(sizes) == 12 and min(sizes) > 0
    out = merge_runs(parts, tmp_path / "merged")
    samples = read_samples(out)
    assert sorted(s["id"] for s in samples) == sorted(json.loads(line)["id"] for line in STARTER.read_text().splitlines() if line.strip())
    run = load_run(out)
    assert run["status"] == "complete" and run["missing_shards"] == []
    assert run["config"]["shard"] is None
    assert run["benchmark"]["selected_items"] == 12
    assert run["systems"]["echo"]["generated"] == 12 and run["systems"]["echo"]["shards"] == 2
    assert [m["shard"] for m in run["merged_from"]] == ["0/2", "1/2"]
    assert (out / "benchmark.jsonl").read_text().count("\n") == 12
    merged_call = no_grading[-1]
    assert merged_call[0] == out and merged_call[2] == ["echo"] and merged_call[3] == "echo"
    assert run["metrics"] == {"per_system": {"echo": {"n": 0}}}


def test_duplicates_are_dropped_and_missing_shards_make_it_partial(tmp_path: Path, no_grading: list[tuple]) -> None:
    first = shard(tmp_path, "0/3")
    out = merge_runs([first, first], tmp_path / "merged")
    run = load_run(out)
    assert run["duplicates_dropped"] == len(read_samples(first)) == len(read_samples(out))
    assert run["status"] == "partial" and run["missing_shards"] == ["1/3", "2/3"]


def test_incompatible_shards_are_refused(tmp_path: Path, no_grading: list[tuple]) -> None:
    a = shard(tmp_path, "0/2")
    with pytest.raises(DataError, match="system 'echo' has a different fingerprint"):
        merge_runs([a, shard(tmp_path / "v2", "1/2", version=2)], tmp_path / "m1")
    with pytest.raises(DataError, match="config.max_new_tokens = 64 differs"):
        merge_runs([a, shard(tmp_path / "short", "1/2", max_new_tokens=64)], tmp_path / "m2")


def test_output_dir_must_be_new(tmp_path: Path, no_grading: list[tuple]) -> None:
    a = shard(tmp_path, "0/2")
    with pytest.raises(ConfigError, match="is one of the inputs"):
        merge_runs([a], a)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        merge_runs([a], busy)
    with pytest.raises(DataError, match="not found"):
        merge_runs([tmp_path / "nope"], tmp_path / "m")


def test_cli_merge(tmp_path: Path, no_grading: list[tuple], capsys: pytest.CaptureFixture[str]) -> None:
    parts = [shard(tmp_path, "0/2"), shard(tmp_path, "1/2")]
    assert main(["merge", *map(str, parts), "--output-dir", str(tmp_path / "all")]) == 0
    out = capsys.readouterr().out
    assert "echo: generated 12" in out
    peaks = [load_run(p)["peak_rss_mb"] for p in parts]
    assert load_run(tmp_path / "all")["peak_rss_mb"] == max(peaks)
    assert f"peak RSS {max(peaks):.0f} MiB" in out and "?" not in out.splitlines()[0]
    assert main(["merge", str(parts[0]), "--output-dir", str(tmp_path / "all")]) == 2
