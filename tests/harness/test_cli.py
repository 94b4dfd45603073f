"""The CLI as a user meets it: subprocesses, exit codes, one-line errors, kill and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, STARTER, kill_when
from tests.harness.test_determinism import answers, comparable


def harness(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def test_help_is_instant_and_lists_commands() -> None:
    started = time.perf_counter()
    result = harness("--help")
    assert result.returncode == 0
    for command in ("run", "list", "validate", "export"):
        assert command in result.stdout
    # --help must not import torch or pandas; asserted through the module table rather than a timing.
    code = "import sys; from harness.cli.main import build_parser; build_parser(); print('torch' in sys.modules, 'pandas' in sys.modules)"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert probe.stdout.strip() == "False False"
    assert time.perf_counter() - started < 60


def test_list_shows_ours_and_a_third_party_plugin(plugin_path: Path) -> None:
    result = harness("list")
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "[raq-harness]" in lines["vanilla"]
    assert "[fake-harness-plugin]" in lines["echo"]
    assert "[broken]" in lines["broken"] and "RuntimeError" in lines["broken"]


def test_unknown_system_exits_2_with_suggestion() -> None:
    result = harness("run", "--systems", "lorakd", "--benchmark", str(STARTER))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: Unknown system 'lorakd'. Did you mean 'lora-kd'? Available: ")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_with_third_party_system_and_broken_neighbour(plugin_path: Path, tmp_path: Path, isolated_cache: Path) -> None:
    out = tmp_path / "run"
    result = harness("run", "--systems", "echo", "--benchmark", str(STARTER), "--limit", "3", "--output-dir", str(out), "--quiet", "--baseline-system", "echo")
    assert result.returncode == 0, result.stderr
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["system"] for s in samples] == ["echo"] * 3
    assert all(s["response"].endswith("Final answer: 42") for s in samples)


def test_validate_reports_every_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "items.jsonl"
    good = STARTER.read_text().splitlines()[0]
    bad.write_text(good + "\n" + "{oops\n" + json.dumps({**json.loads(good), "id": "z", "category": "trivia"}) + "\n")
    (tmp_path / "benchmark.toml").write_text((STARTER.parent / "benchmark.toml").read_text())  # declares the categories
    result = harness("validate", str(bad))
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:2: json: ")
    assert lines[1].startswith(f"{bad}:3: category: unknown category 'trivia'")
    assert harness("validate", str(STARTER)).returncode == 0


def test_validate_takes_a_folder_and_names_a_missing_file(tmp_path: Path) -> None:
    assert harness("validate", str(STARTER.parent)).returncode == 0
    missing = harness("validate", str(tmp_path / "nope"))
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope'}: no such benchmark file; pass an items JSONL file or a folder holding items.jsonl"
    ]


def test_sigkill_mid_run_loses_nothing(plugin_path: Path, tmp_path: Path, isolated_cache: Path) -> None:
    """Kill a real run with SIGKILL, rerun it: finished items are reused, never regenerated."""
    log = tmp_path / "generated.log"
    out = tmp_path / "run"
    env = {"FAKE_PLUGIN_LOG": str(log), "FAKE_PLUGIN_DELAY": "0.3"}
    args = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--systems",
        "slow-echo",
        "--benchmark",
        str(STARTER),
        "--output-dir",
        str(out),
        "--batch-size",
        "2",
        "--quiet",
        "--baseline-system",
        "slow-echo",
    ]
    proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when(proc, lambda: (out / "samples.jsonl").read_text().count("\n") if (out / "samples.jsonl").exists() else 0, at_least=4, timeout_s=60)
    before = {json.loads(line)["id"] for line in (out / "samples.jsonl").read_text().splitlines() if line.strip()}
    assert 4 <= len(before) < 12, "the kill should land mid-run"
    generated_first = log.read_text().split()
    result = subprocess.run(args, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    generated_second = log.read_text().split()[len(generated_first) :]
    assert not set(generated_second) & before, "an item finished before the kill was generated again"
    assert set(generated_second) | before == {json.loads(line)["id"] for line in STARTER.read_text().splitlines()}
    after = [json.loads(line)["id"] for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(after) == 12 and len(set(after)) == 12
    # the resumed run ends exactly where an uninterrupted run (own cache, no kill) ends
    straight = tmp_path / "straight"
    args_straight = [a if a != str(out) else str(straight) for a in args]
    result = subprocess.run(
        args_straight, cwd=REPO, env={**os.environ, **env, "HARNESS_CACHE": str(tmp_path / "cache-straight")}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert answers(out) == answers(straight)
    assert comparable(json.loads((out / "run.json").read_text()))["metrics"] == comparable(json.loads((straight / "run.json").read_text()))["metrics"]
