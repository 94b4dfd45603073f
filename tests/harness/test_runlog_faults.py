"""Output files are replaced atomically, and a corrupt generation-cache row is dropped with a
warning and regenerated."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.api.system import GenerationRequest, GenerationResult
from harness.cache import GenerationCache, cache_key
from harness.runlog import read_samples, write_json_atomic
from harness.runner import RunConfig, Runner
from tests.conftest import REPO, STARTER

WRITER = """
import sys
from pathlib import Path
from harness.runlog import write_json_atomic
path = Path(sys.argv[1])
n = 0
while True:
    write_json_atomic(path, {"version": n, "padding": ["x" * 1000] * 200})
    n += 1
"""


def test_a_file_being_replaced_is_always_whole_after_sigkill(tmp_path: Path) -> None:
    """Kill a process that rewrites a 200 kB JSON file in a loop: what is left always parses."""
    path = tmp_path / "run.json"
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO)
        time.sleep(1.0 + 0.37 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = json.loads(path.read_text())
        assert data["version"] >= 0 and len(data["padding"]) == 200
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "run.json"]
    assert all(name.startswith(".run.json.") and name.endswith(".tmp") for name in leftovers)  # a kill mid-write may leave a temp file, never a torn run.json


def test_an_interrupted_write_leaves_the_previous_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.json"
    write_json_atomic(path, {"v": 1})

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_corrupt_cache_row_is_dropped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = GenerationCache(tmp_path / "g.sqlite")
    request = GenerationRequest(id="a", prompt="p", max_new_tokens=4)
    key = cache_key({"class": "x"}, request)
    cache.put_many("x", [(key, GenerationResult(id="a", text="answer"))])
    assert cache.get_many([key])[key].text == "answer"
    with sqlite3.connect(tmp_path / "g.sqlite") as db:
        db.execute("UPDATE generations SET result = '{not json' WHERE key = ?", (key,))
    with caplog.at_level(logging.WARNING):
        assert cache.get_many([key]) == {}
    assert "dropping corrupt cache entry" in caplog.text
    with sqlite3.connect(tmp_path / "g.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 0


def test_a_run_regenerates_exactly_the_corrupt_cached_answers(tmp_path: Path, plugin_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_LOG", str(tmp_path / "generated.log"))
    config = {"systems": "echo", "benchmark": str(STARTER), "quiet": True, "baseline_system": "echo"}
    Runner(RunConfig(output_dir=str(tmp_path / "first"), **config)).run()
    with sqlite3.connect(isolated_cache / "generations.sqlite") as db:
        keys = [row[0] for row in db.execute("SELECT key FROM generations ORDER BY key LIMIT 2")]
        db.executemany("UPDATE generations SET result = 'garbage' WHERE key = ?", [(k,) for k in keys])
    first_log = (tmp_path / "generated.log").read_text().split()
    Runner(RunConfig(output_dir=str(tmp_path / "second"), **config)).run()
    regenerated = (tmp_path / "generated.log").read_text().split()[len(first_log) :]
    assert len(regenerated) == 2
    second = read_samples(tmp_path / "second")
    assert len(second) == len(STARTER.read_text().splitlines())
    assert sorted(s["id"] for s in second if not s["cached"]) == sorted(regenerated)
    assert {s["id"]: s["response"] for s in second} == {s["id"]: s["response"] for s in read_samples(tmp_path / "first")}
