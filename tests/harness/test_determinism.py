"""Two identical runs give identical answers and metrics; a killed-and-resumed run ends where an
uninterrupted one does. Timestamps, latencies, wall times and memory are the only fields allowed
to differ."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, STARTER

VOLATILE = re.compile(r"(latency|wall|_s$|created|finished|started|rss|tokens_per_s|per_s$|output_dir|command|elapsed|when|time)")


def comparable(value: Any, key: str = "") -> Any:
    """``value`` without the fields that measure time or place rather than results."""
    if isinstance(value, dict):
        return {k: comparable(v, k) for k, v in value.items() if not VOLATILE.search(k)}
    if isinstance(value, list):
        return [comparable(v, key) for v in value]
    return value


def answers(run_dir: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]
    keyed = {f"{r['system']}/{r['id']}": comparable(r) for r in rows}
    assert len(keyed) == len(rows), "an item was answered twice"
    return keyed


def run_once(out: Path, cache: Path, *args: str) -> None:
    env = {**os.environ, "HARNESS_CACHE": str(cache), "HARNESS_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--output-dir", str(out), "--quiet", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama with a byte-level tokenizer and a chat template, saved as a folder."""
    from tests.adapters.conftest import byte_bpe_tokenizer, save_tiny_model

    tokenizer = byte_bpe_tokenizer()
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    return save_tiny_model(tmp_path_factory.mktemp("tiny-chat") / "model", tokenizer, hidden=32, seed=3)


def test_two_identical_runs_give_identical_answers_and_metrics(tiny_chat_model: Path, tmp_path: Path) -> None:
    config = tmp_path / "systems.toml"
    config.write_text(
        f'[systems.tiny]\nbase = "vanilla"\nmodel = "{tiny_chat_model}"\n\n[systems.tiny-b4]\nbase = "vanilla"\nmodel = "{tiny_chat_model}"\nbatch_size = 4\n'
    )
    args = (
        "--systems",
        "tiny,tiny-b4",
        "--system-config",
        str(config),
        "--benchmark",
        str(STARTER),
        "--max-new-tokens",
        "24",
        "--baseline-system",
        "tiny",
        "--no-cache",
        "--corpus",
        "none",  # the likelihood pass (default --mode all) scores the items only: its metrics must repeat too
        "--heldout",
        "none",
    )
    run_once(tmp_path / "a", tmp_path / "cache-a", *args)
    run_once(tmp_path / "b", tmp_path / "cache-b", *args)  # --no-cache: every answer of both systems is generated, twice

    first, second = answers(tmp_path / "a"), answers(tmp_path / "b")
    assert len(first) == 2 * len(STARTER.read_text().splitlines())
    assert first == second
    assert any(row["response"] for row in first.values()), "the model produced no text at all"
    run_a = comparable(json.loads((tmp_path / "a" / "run.json").read_text()))
    run_b = comparable(json.loads((tmp_path / "b" / "run.json").read_text()))
    assert run_a["systems"]["tiny"]["generated"] == run_a["systems"]["tiny-b4"]["generated"] == 12
    assert run_a["metrics"]["per_system"] == run_b["metrics"]["per_system"]
    assert run_a == run_b
    # the batch size changes how rows are grouped, not what greedy decoding produces
    for key, row in first.items():
        if key.startswith("tiny/"):
            assert first[key.replace("tiny/", "tiny-b4/", 1)]["response"] == row["response"], key
