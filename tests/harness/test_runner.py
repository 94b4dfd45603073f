from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api import GenerationResult
from harness.api.errors import ConfigError, DataError, GenerationError
from harness.benchmark import load_benchmark
from harness.registry import Registry
from harness.runlog import load_run, read_samples
from harness.runner import RunConfig, Runner, item_topic, select_items, stratified_sample
from tests.conftest import STARTER


class Recorder:
    """In-test system: answers deterministically and records what it was asked."""

    def __init__(self, name: str = "rec", fail_after: int | None = None, **_: object) -> None:
        self.name = name
        self.calls: list[list[str]] = []
        self.fail_after = fail_after

    @property
    def fingerprint(self) -> dict:
        return {"rec": 1}

    def generate(self, requests):
        if self.fail_after is not None and sum(len(c) for c in self.calls) >= self.fail_after:
            raise RuntimeError("device lost")
        self.calls.append([r.id for r in requests])
        return [GenerationResult(id=r.id, text=f"answer to {r.id}", completion_tokens=3) for r in requests]


def make_registry(system: Recorder) -> Registry:
    registry = Registry()
    registry.register("rec", lambda **options: system)
    return registry


def test_run_writes_log_and_second_run_is_all_cached(tmp_path: Path, isolated_cache: Path) -> None:
    system = Recorder()
    config = RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(tmp_path / "a"), batch_size=4, quiet=True, baseline_system="rec")
    run_dir = Runner(config, make_registry(system)).run()
    samples = read_samples(run_dir)
    assert len(samples) == 12 and {s["cached"] for s in samples} == {False}
    assert [len(c) for c in system.calls] == [4, 4, 4]
    run = load_run(run_dir)
    assert run["status"] == "complete"
    assert run["systems"]["rec"]["generated"] == 12
    assert run["benchmark"]["name"] == "raq-starter"
    assert (run_dir / "benchmark.jsonl").read_text().count("\n") == 12

    again = Recorder()
    run_dir2 = Runner(
        RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(tmp_path / "b"), quiet=True, baseline_system="rec"), make_registry(again)
    ).run()
    assert again.calls == []
    samples2 = read_samples(run_dir2)
    assert {s["cached"] for s in samples2} == {True}
    assert sorted(s["response"] for s in samples2) == sorted(s["response"] for s in samples)


def test_no_cache_regenerates(tmp_path: Path, isolated_cache: Path) -> None:
    Runner(
        RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(tmp_path / "a"), limit=3, quiet=True, baseline_system="rec"), make_registry(Recorder())
    ).run()
    system = Recorder()
    Runner(
        RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(tmp_path / "b"), limit=3, quiet=True, use_cache=False, baseline_system="rec"),
        make_registry(system),
    ).run()
    assert sum(len(c) for c in system.calls) == 3


def test_failed_system_keeps_completed_batches_and_resume_finishes(tmp_path: Path, isolated_cache: Path) -> None:
    out = tmp_path / "run"
    broken = Recorder(fail_after=4)
    config = RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(out), batch_size=2, quiet=True, baseline_system="rec")
    with pytest.raises(GenerationError, match="1 system\\(s\\) failed.*completed answers are kept"):
        Runner(config, make_registry(broken)).run()
    assert len(read_samples(out)) == 4
    assert load_run(out)["status"] == "partial"
    healthy = Recorder()
    Runner(config, make_registry(healthy)).run()
    assert sum(len(c) for c in healthy.calls) == 8  # only the missing ones
    assert len({s["id"] for s in read_samples(out)}) == 12


def test_truncated_samples_tail_is_repaired_on_resume(tmp_path: Path, isolated_cache: Path) -> None:
    out = tmp_path / "run"
    config = RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(out), limit=4, quiet=True, use_cache=False, baseline_system="rec")
    Runner(config, make_registry(Recorder())).run()
    lines = (out / "samples.jsonl").read_text().splitlines(keepends=True)
    (out / "samples.jsonl").write_text("".join(lines[:3]) + lines[3][:20])  # a kill mid-write
    system = Recorder()
    Runner(config, make_registry(system)).run()
    assert system.calls == [[json.loads(lines[3])["id"]]]
    assert len(read_samples(out)) == 4


def test_shards_partition_items() -> None:
    items = load_benchmark(STARTER).items
    parts = [select_items(items, f"{i}/3", None) for i in range(3)]
    ids = [it.id for part in parts for it in part]
    assert sorted(ids) == sorted(it.id for it in items)
    assert len(set(ids)) == len(ids)


def test_stratified_sample_covers_every_category_and_is_proportional() -> None:
    from collections import Counter

    from harness.benchmark import DEFAULT_BENCHMARK

    items = load_benchmark(DEFAULT_BENCHMARK).items
    sample = stratified_sample(items, 40, seed=0)
    assert len(sample) == 40 and len({it.id for it in sample}) == 40
    assert {it.category for it in sample} == {it.category for it in items}
    assert {item_topic(it) for it in sample} == {item_topic(it) for it in items}
    whole, part = Counter((it.category, item_topic(it)) for it in items), Counter((it.category, item_topic(it)) for it in sample)
    for stratum, size in whole.items():  # largest remainder: within one item of the exact share
        assert abs(part[stratum] - 40 * size / len(items)) < 1, stratum
    assert [it.id for it in sample] == [it.id for it in items if it in sample]  # benchmark order kept
    assert [it.id for it in stratified_sample(items, 40, seed=0)] == [it.id for it in sample]
    assert [it.id for it in stratified_sample(items, 40, seed=1)] != [it.id for it in sample]
    assert select_items(items, None, None, sample=1000) == list(items)


def test_a_tiny_sample_still_reaches_every_category() -> None:
    items = load_benchmark(STARTER).items
    categories = {it.category for it in items}
    sample = stratified_sample(items, len(categories), seed=3)
    assert {it.category for it in sample} == categories


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"limit": 0}, "--limit"), ({"sample": 0}, "--sample"), ({"batch_size": 0}, "--batch-size"), ({"shard": "3/3"}, "--shard"), ({"shard": "x"}, "--shard")],
)
def test_bad_run_config(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        RunConfig(**kwargs)


def test_unwritable_output_dir(tmp_path: Path, isolated_cache: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="not writable.*--output-dir"):
        Runner(RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(blocker / "sub"), quiet=True), make_registry(Recorder())).run()


def test_run_json_records_the_source_revision(tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import subprocess

    from harness.runner import source_revision
    from tests.conftest import REPO

    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    run_dir = Runner(
        RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(tmp_path / "a"), quiet=True, baseline_system="rec"), make_registry(Recorder())
    ).run()
    source = load_run(run_dir)["source"]
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and source["commit"] == head
    assert isinstance(source["dirty"], bool)

    def no_git(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert source_revision() is None


class Looper(Recorder):
    """Every other answer ends as a loop 10 tokens into a 192-token budget."""

    def generate(self, requests):
        results = super().generate(requests)
        for index, result in enumerate(results):
            result.prompt_tokens = 7
            if index % 2 == 0:
                result.finish_reason, result.completion_tokens = "loop", 10
        return results


def test_run_json_records_tokens_wall_time_and_loop_stops_per_system(tmp_path: Path, isolated_cache: Path) -> None:
    system = Looper()
    out = Runner(
        RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(tmp_path / "run"), batch_size=4, quiet=True), registry=make_registry(system)
    ).run()
    meta = load_run(out)["systems"]["rec"]
    samples = read_samples(out)
    loops = [s for s in samples if s["finish_reason"] == "loop"]
    assert loops and meta["loop_stops"] == len(loops)
    assert meta["loop_budget_unspent"] == len(loops) * (192 - 10)
    assert meta["completion_tokens"] == sum(s["completion_tokens"] for s in samples)
    assert meta["prompt_tokens"] == 7 * len(samples)
    assert meta["wall_s"] >= meta["generation_wall_s"] > 0


class Renamed(Recorder):
    """The same answers under another version of the system."""

    @property
    def fingerprint(self) -> dict:
        return {"rec": 2}


def test_resume_refuses_answers_from_another_system_version(tmp_path: Path, isolated_cache: Path) -> None:
    out = tmp_path / "run"
    config = RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(out), limit=3, quiet=True, baseline_system="rec")
    Runner(config, make_registry(Recorder())).run()
    resumed = RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(out), limit=6, quiet=True, baseline_system="rec")
    with pytest.raises(DataError, match=r"run\.json: system 'rec' has 3 answers from a different version \(rec changed\)"):
        Runner(resumed, make_registry(Renamed())).run()
    assert len(read_samples(out)) == 3  # nothing already there is lost


def test_resume_refuses_other_decoding_settings(tmp_path: Path, isolated_cache: Path) -> None:
    out = tmp_path / "run"
    Runner(RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(out), limit=3, quiet=True, baseline_system="rec"), make_registry(Recorder())).run()
    longer = RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(out), limit=6, max_new_tokens=99, quiet=True, baseline_system="rec")
    with pytest.raises(DataError, match=r"config\.max_new_tokens was 192 for the answers already there, now 99"):
        Runner(longer, make_registry(Recorder())).run()


def test_resume_refuses_an_edited_benchmark(tmp_path: Path, isolated_cache: Path) -> None:
    out, bench = tmp_path / "run", tmp_path / "bench"
    import shutil

    shutil.copytree(STARTER.parent, bench)
    copy = bench / STARTER.name
    Runner(RunConfig(systems="rec", benchmark=str(copy), output_dir=str(out), limit=3, quiet=True, baseline_system="rec"), make_registry(Recorder())).run()
    items = bench / "items.jsonl"
    items.write_text(items.read_text().replace("?", " ?", 1))
    with pytest.raises(DataError, match=r"its answers are for benchmark sha256 .*pass a new --output-dir"):
        Runner(RunConfig(systems="rec", benchmark=str(copy), output_dir=str(out), limit=3, quiet=True, baseline_system="rec"), make_registry(Recorder())).run()


def test_a_run_killed_mid_system_records_its_fingerprint_for_the_resume_check(tmp_path: Path, isolated_cache: Path) -> None:
    out = tmp_path / "run"
    config = RunConfig(systems="rec", benchmark=str(STARTER), output_dir=str(out), batch_size=2, quiet=True, baseline_system="rec")
    with pytest.raises(GenerationError):
        Runner(config, make_registry(Recorder(fail_after=2))).run()
    assert load_run(out)["systems"]["rec"]["fingerprint"] == {"rec": 1}
    with pytest.raises(DataError, match="different version"):
        Runner(config, make_registry(Renamed())).run()
