"""run --mode likelihood|all: rows per item and document, cache, resume after a failure or a
SIGKILL, systems without the capability, and the metrics stored in run.json."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.api import GenerationResult, LoglikelihoodResult
from harness.api.errors import GenerationError
from harness.benchmark import load_benchmark
from harness.likelihood_runner import ANSWER_PREFIX
from harness.registry import Registry
from harness.runlog import load_run, read_samples
from harness.runner import RunConfig, Runner
from harness.scoring.likelihood import report_pairs
from tests.conftest import REPO, STARTER, kill_when


def make_choices_module():
    spec = importlib.util.spec_from_file_location("make_choices", REPO / "scripts" / "make_choices.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter benchmark with multiple-choice options built by scripts/make_choices.py, and
    two small document folders."""
    folder = tmp_path_factory.mktemp("bench")
    (folder / "benchmark.toml").write_text((STARTER.parent / "benchmark.toml").read_text())
    make = make_choices_module()
    lines = []
    for item, line in zip(load_benchmark(STARTER).items, STARTER.read_text().splitlines()):
        obj = json.loads(line)
        choices = make.choices_for(item, 0.02, None)
        if choices:
            obj["choices"] = [c.to_dict() for c in choices]
        lines.append(json.dumps(obj))
    (folder / "items.jsonl").write_text("\n".join(lines) + "\n")
    for sub, names in (("corpus", ("a.md", "b.md")), ("heldout", ("c.md",))):
        (folder / sub).mkdir()
        for name in names:
            (folder / sub / name).write_text(f"---\ntitle: {name}\ntopic: t\nversion: 1\n---\nSome text about {name} and DDR5 refresh.\n")
    return folder


class Scorer:
    """In-test system with the likelihood capability: shorter continuations are likelier."""

    def __init__(self, name: str = "rec", fail_after: int | None = None, **_: object) -> None:
        self.name = name
        self.fail_after = fail_after
        self.generated: list[str] = []
        self.scored: list[str] = []
        self.rolled: list[str] = []
        self.closed = 0

    @property
    def fingerprint(self) -> dict:
        return {"scorer": self.name}

    def generate(self, requests):
        self.generated += [r.id for r in requests]
        return [GenerationResult(id=r.id, text="Final answer: 42") for r in requests]

    def loglikelihood(self, requests):
        if self.fail_after is not None and len(self.scored) >= self.fail_after:
            raise RuntimeError("device lost")
        self.scored += [r.id for r in requests]
        return [
            LoglikelihoodResult(r.id, -0.1 * len(r.continuation) - (0.2 if self.name == "b" else 0.0), 3, False, 17, {"seen": r.answer_prefix})
            for r in requests
        ]

    def loglikelihood_rolling(self, texts):
        self.rolled += list(texts)
        return [LoglikelihoodResult(str(i), -0.05 * len(t), len(t.split()), False) for i, t in enumerate(texts)]

    def close(self) -> None:
        self.closed += 1


def registry_of(**systems: object) -> Registry:
    registry = Registry()
    for name, system in systems.items():
        registry.register(name, lambda _s=system, **options: _s)
    return registry


def config(bench: Path, out: Path, **kwargs: object) -> RunConfig:
    base = dict(benchmark=str(bench / "items.jsonl"), output_dir=str(out), quiet=True, corpus=str(bench / "corpus"), heldout=str(bench / "heldout"))
    return RunConfig(**{"systems": "rec", "baseline_system": "rec", "mode": "likelihood", **base, **kwargs})  # type: ignore[arg-type]


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "likelihood.jsonl").read_text().splitlines()]


def test_likelihood_mode_writes_item_and_document_rows_and_metrics(bench: Path, tmp_path: Path, isolated_cache: Path) -> None:
    system = Scorer()
    run_dir = Runner(config(bench, tmp_path / "a"), registry_of(rec=system)).run()
    assert read_samples(run_dir) == [] and system.generated == [] and system.closed == 1
    found = rows(run_dir)
    items = {r["id"]: r for r in found if r["kind"] == "item"}
    assert len(items) == 12 and sorted(r["id"] for r in found if r["kind"] != "item") == ["a.md", "b.md", "c.md"]
    bandwidth = items["st-r-001"]
    assert bandwidth["reference"]["text"] == "19.2 GB/s" and bandwidth["reference"]["bytes"] == 9
    assert bandwidth["reference"]["bits_per_byte"] == pytest.approx(0.1 * 9 / 9 / 0.6931471805599453, rel=1e-5)
    assert bandwidth["extra"] == {"seen": ANSWER_PREFIX} and bandwidth["context_tokens"] == 17
    texts = [c.text for c in load_benchmark(bench / "items.jsonl").items[0].choices]
    assert bandwidth["mc"]["pick"] == min(range(len(texts)), key=lambda i: (len(texts[i]), i))  # the shortest text is likeliest
    quality = next(r for r in items.values() if r["answer_type"] == "keypoints")
    assert quality["mc"] is None and quality["reference"]["text"].count("; ") >= 1 and quality["extra"] == {"seen": ""}
    measures = load_run(run_dir)["metrics"]["likelihood"]["per_system"]["rec"]
    assert measures["reference_n"] == 12 and measures["mc_n"] == sum(1 for r in items.values() if r["mc"])
    assert measures["corpus_documents"] == 2 and measures["heldout_documents"] == 1 and measures["corpus_bpb"] > 0
    assert load_run(run_dir)["systems"]["rec"]["likelihood"]["status"] == "complete"

    again = Scorer()
    run_dir2 = Runner(config(bench, tmp_path / "b"), registry_of(rec=again)).run()
    assert again.scored == [] and again.rolled == []  # all from the likelihood cache
    assert [r["cached"] for r in rows(run_dir2)] == [True] * 15
    strip = lambda rs: sorted(json.dumps({k: v for k, v in r.items() if k != "cached"}, sort_keys=True) for r in rs)  # noqa: E731
    assert strip(rows(run_dir2)) == strip(found)


def test_all_mode_generates_then_scores_with_one_system_object(bench: Path, tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.runner.summarize", lambda *args: {"per_system": {}})
    system = Scorer()
    run_dir = Runner(config(bench, tmp_path / "run", mode="all"), registry_of(rec=system)).run()
    assert len(read_samples(run_dir)) == 12 and len(system.generated) == 12 and system.closed == 1
    assert len([r for r in rows(run_dir) if r["kind"] == "item"]) == 12


def test_a_failure_keeps_finished_items_and_the_rerun_scores_only_the_rest(bench: Path, tmp_path: Path, isolated_cache: Path) -> None:
    out = tmp_path / "run"
    broken = Scorer(fail_after=20)
    with pytest.raises(GenerationError, match="failed while scoring likelihoods"):
        Runner(config(bench, out, batch_size=3), registry_of(rec=broken)).run()
    before = {r["id"] for r in rows(out)}
    assert 3 <= len(before) < 12 and load_run(out)["status"] == "partial"
    healthy = Scorer()
    Runner(config(bench, out, batch_size=3), registry_of(rec=healthy)).run()
    rescored = {i.split("/")[0] for i in healthy.scored}
    assert not rescored & before
    assert sorted(r["id"] for r in rows(out) if r["kind"] == "item") == sorted({it.id for it in load_benchmark(bench / "items.jsonl").items})


def test_a_system_without_the_capability_is_skipped_in_one_line(bench: Path, tmp_path: Path, isolated_cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    class GenerateOnly:
        name = "rec"
        fingerprint = {"g": 1}

        def generate(self, requests):
            return [GenerationResult(id=r.id, text="x") for r in requests]

    run_dir = Runner(config(bench, tmp_path / "run", mode="likelihood"), registry_of(rec=GenerateOnly())).run()
    meta = load_run(run_dir)["systems"]["rec"]
    assert meta["status"] == "complete" and meta["likelihood"]["status"] == "unsupported"
    warnings = [r for r in caplog.records if "likelihood" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()


def test_pairs_are_compared_on_shared_items(bench: Path, tmp_path: Path, isolated_cache: Path) -> None:
    run_dir = Runner(
        config(bench, tmp_path / "run", systems="lora,vanilla", baseline_system="vanilla"), registry_of(lora=Scorer("a"), vanilla=Scorer("b"))
    ).run()
    comparisons = load_run(run_dir)["metrics"]["likelihood"]["comparisons"]
    assert [(c["a"], c["b"]) for c in comparisons] == [("lora", "vanilla")]
    ref = comparisons[0]["reference_bpb"]
    assert ref["n"] == 12 and ref["a_lower"] == 12 and ref["mean_difference"] < 0 and ref["ci"][1] < 0  # b's scores are 0.2 nats lower everywhere
    assert ref["wilcoxon_p"] < 0.01 and ref["t_p"] < 0.05
    assert comparisons[0]["mc_acc"]["n"] > 0 and comparisons[0]["mc_acc"]["p"] == 1.0  # ...which moves no choice


def test_report_pairs_come_from_benchmark_toml_or_the_default(tmp_path: Path) -> None:
    (tmp_path / "benchmark.toml").write_text('name = "x"\n[report]\npairs = [["a", "b"], ["c", "d"]]\n')
    assert report_pairs(tmp_path / "items.jsonl") == [["a", "b"], ["c", "d"]]
    assert report_pairs(STARTER)[0] == ["lora-kd", "lora"]


def test_sigkill_mid_likelihood_run_loses_nothing(plugin_path: Path, bench: Path, tmp_path: Path, isolated_cache: Path) -> None:
    """Kill a real likelihood run with SIGKILL, rerun it: finished items are never scored again."""
    log = tmp_path / "scored.log"
    out = tmp_path / "run"
    env = {**os.environ, "FAKE_PLUGIN_SCORE_LOG": str(log), "FAKE_PLUGIN_DELAY": "0.3"}
    args = [sys.executable, "-m", "harness", "run", "--systems", "slow-echo", "--mode", "likelihood", "--benchmark", str(bench / "items.jsonl")]
    args += ["--output-dir", str(out), "--batch-size", "2", "--quiet", "--baseline-system", "slow-echo", "--corpus", "none", "--heldout", "none"]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / "likelihood.jsonl"
    kill_when(proc, lambda: path.read_text().count("\n") if path.exists() else 0, at_least=4, timeout_s=600)
    before = {json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()}
    assert 4 <= len(before) < 12, "the kill should land mid-run"
    scored_first = log.read_text().split()
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)  # a loaded machine starts Python slowly
    assert result.returncode == 0, result.stderr
    again = {line.split("/")[0] for line in log.read_text().split()[len(scored_first) :]}
    assert not again & before, "an item scored before the kill was scored again"
    after = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert len(after) == 12 and len(set(after)) == 12


def test_sharded_likelihood_runs_merge_into_the_unsharded_rows(bench: Path, tmp_path: Path, isolated_cache: Path) -> None:
    from harness.merge import merge_runs

    shards = [Runner(config(bench, tmp_path / f"s{i}", shard=f"{i}/2"), registry_of(rec=Scorer())).run() for i in range(2)]
    merged = merge_runs(shards, tmp_path / "merged")
    whole = Runner(config(bench, tmp_path / "whole", use_cache=False), registry_of(rec=Scorer())).run()
    strip = lambda rs: sorted(json.dumps({k: v for k, v in r.items() if k != "cached"}, sort_keys=True) for r in rs)  # noqa: E731
    assert strip(rows(merged)) == strip(rows(whole))
    assert load_run(merged)["metrics"]["likelihood"]["per_system"]["rec"] == load_run(whole)["metrics"]["likelihood"]["per_system"]["rec"]
