"""Every bad input a user can give the CLI: exit 2, one line on stderr naming the file/line/field
and the fix, no traceback. Model-free cases run in the unit suite; the index cases build a tiny
real FAISS index (integration)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, STARTER

GOOD = json.loads(STARTER.read_text().splitlines()[0])


def harness(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("WARNING", "INFO"))]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write_items(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.mark.parametrize(
    ("lines", "fragments"),
    [
        ([json.dumps(GOOD), "{oops"], [":2: json:", "each line must be one JSON object"]),
        ([json.dumps({**GOOD, "question": 5})], [":1: question: expected a non-empty string"]),
        ([json.dumps({**GOOD, "answer": {"type": "essay"}})], [":1: answer.type: unknown answer type 'essay'", "use one of numeric, text, keypoints, none"]),
        ([json.dumps({**GOOD, "answer": {"type": "numeric", "value": 1, "unit": "flurbs"}})], [":1: answer.unit: cannot parse unit 'flurbs'", "such as 'ns'"]),
        ([""], ["benchmark is empty", "add at least one item"]),
    ],
    ids=["malformed-jsonl", "wrong-type", "unknown-answer-type", "unparsable-unit", "empty"],
)
def test_bad_benchmark(tmp_path: Path, plugin_path: Path, lines: list[str], fragments: list[str]) -> None:
    path = write_items(tmp_path / "items.jsonl", lines)
    line = assert_clean_error(harness("run", "--systems", "echo", "--benchmark", str(path), "--output-dir", str(tmp_path / "out")), *fragments)
    assert str(path) in line
    assert not (tmp_path / "out").exists()  # nothing half-written for a run that could not start


def test_benchmark_folder(tmp_path: Path, plugin_path: Path) -> None:
    """``--benchmark`` takes a folder holding items.jsonl; a folder without one is a one-line error."""
    empty = tmp_path / "empty"
    empty.mkdir()
    line = assert_clean_error(harness("run", "--systems", "echo", "--benchmark", str(empty), "--output-dir", str(tmp_path / "out")), "file not found")
    assert str(empty / "items.jsonl") in line
    write_items(empty / "items.jsonl", [json.dumps(GOOD)])
    ok = harness(
        "run", "--systems", "echo", "--benchmark", str(empty), "--output-dir", str(tmp_path / "out"), "--mode", "generate", "--baseline", "none", "--quiet"
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out" / "samples.jsonl").read_text().count("\n") == 1


def test_unknown_system() -> None:
    assert_clean_error(harness("run", "--systems", "vanila"), "Unknown system 'vanila'. Did you mean 'vanilla'?")


def test_plugin_that_raises_on_import(plugin_path: Path, tmp_path: Path) -> None:
    assert_clean_error(
        harness("run", "--systems", "broken", "--benchmark", str(STARTER), "--output-dir", str(tmp_path)),
        "system 'broken'",
        "RuntimeError",
        "fix or uninstall fake-harness-plugin",
    )


def test_output_directory_not_writable(plugin_path: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_clean_error(
        harness("run", "--systems", "echo", "--benchmark", str(STARTER), "--output-dir", str(blocker / "run")),
        f"{blocker / 'run'}: output directory is not writable",
        "--output-dir",
    )


@pytest.mark.parametrize(
    ("toml", "fragments"),
    [
        ("[system]\nx = 1\n", ["system: unknown top-level key", "[systems.NAME]"]),
        ("[systems.vanila]\nbatch_size = 2\n", ["Unknown system 'vanila'. Did you mean 'vanilla'?"]),
        ("[systems\n", ["systems.toml", "fix the TOML syntax"]),
        ("[systems.vanilla]\nbatchsize = 2\n", ["systems.toml:systems.vanilla.batchsize: unknown key; did you mean 'batch_size'?"]),
        ("[systems.rag]\nretriever = { k = 0 }\n", ["systems.toml:systems.rag.retriever.k: 0 passages is out of range; use 1..32"]),
        (
            '[systems.rag+mine]\nmodel = "smollm2-135m-instruct"\nretriever = { k = 4, colour = "red" }\n',
            ["systems.toml:systems.rag+mine.retriever.colour: unknown retriever option; allowed:"],
        ),
    ],
    ids=["unknown-key", "unknown-system-in-config", "syntax", "unknown-system-key", "bad-retriever-k", "unknown-retriever-key"],
)
def test_bad_system_config(tmp_path: Path, toml: str, fragments: list[str]) -> None:
    path = tmp_path / "systems.toml"
    path.write_text(toml)
    assert_clean_error(harness("run", "--systems", "vanilla", "--system-config", str(path), "--benchmark", str(STARTER)), *fragments)


@pytest.mark.parametrize(
    ("flag", "fragment"),
    [
        (["--limit", "0"], "--limit must be >= 1"),
        (["--shard", "5/2"], "--shard: need 0 <= I < N"),
        (["--max-new-tokens", "0"], "--max-new-tokens must be in 1..8192"),
    ],
)
def test_bad_value_range(plugin_path: Path, tmp_path: Path, flag: list[str], fragment: str) -> None:
    assert_clean_error(harness("run", "--systems", "echo", "--benchmark", str(STARTER), "--output-dir", str(tmp_path), *flag), fragment)


def test_bad_benchmark_toml(tmp_path: Path, plugin_path: Path) -> None:
    write_items(tmp_path / "items.jsonl", [json.dumps(GOOD)])
    (tmp_path / "benchmark.toml").write_text('name = "x"\ndefault_rel_tol = 3\n')
    assert_clean_error(
        harness("run", "--systems", "echo", "--benchmark", str(tmp_path / "items.jsonl"), "--output-dir", str(tmp_path / "o")),
        "benchmark.toml: default_rel_tol: must be a fraction in (0, 1), got 3",
    )
    (tmp_path / "benchmark.toml").write_text('name = "x"\ncolour = "red"\n')
    assert_clean_error(
        harness("run", "--systems", "echo", "--benchmark", str(tmp_path / "items.jsonl"), "--output-dir", str(tmp_path / "o")),
        "benchmark.toml: colour: unknown key",
    )


def test_missing_and_empty_corpus(tmp_path: Path) -> None:
    assert_clean_error(
        harness("index", "build", "--docs", str(tmp_path / "nope"), "--out", str(tmp_path / "idx"), "--quiet"),
        f"{tmp_path / 'nope'}: docs folder not found",
        "--docs DIR",
    )
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.bin").write_bytes(b"\0\1")
    assert_clean_error(
        harness("index", "build", "--docs", str(tmp_path / "empty"), "--out", str(tmp_path / "idx"), "--quiet"), "no .md, .txt or .pdf documents found"
    )
    assert_clean_error(harness("corpus", "stats", "--no-tokens", "--corpus", str(tmp_path / "nope")), "corpus folder not found")


@pytest.mark.integration
def test_corrupt_and_stale_faiss_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(
        "---\ntitle: A\ntopic: t\nversion: 1\n---\n# Refresh\n\nDRAM cells leak and are refreshed every 64 ms.\n\n"
        "## Banks\n\nDDR5 has 32 banks in 8 bank groups.\n"
    )
    index = tmp_path / "idx"
    built = harness("index", "build", "--docs", str(docs), "--out", str(index), "--quiet")
    assert built.returncode == 0, built.stderr
    query = ["index", "query", "banks", "--docs", str(docs), "--index", str(index), "--quiet"]
    assert harness(*query).returncode == 0
    (docs / "a.md").write_text((docs / "a.md").read_text() + "\nMore text.\n")
    assert_clean_error(harness(*query), f"{index}: stale index", "rebuild with: python -m harness index build")
    harness("index", "build", "--docs", str(docs), "--out", str(index), "--quiet")
    faiss_file = next(index.glob("*.faiss"))
    faiss_file.write_bytes(faiss_file.read_bytes()[:40])
    assert_clean_error(harness(*query), f"{faiss_file}: corrupt or truncated index file", "rebuild with")


@pytest.fixture
def lora_copy(tmp_path: Path) -> Path:
    """A copy of the shipped LoRA adapter that a test may damage."""
    import shutil

    return Path(shutil.copytree(REPO / "adapters" / "shipped" / "lora", tmp_path / "lora"))


def test_corrupt_adapter_safetensors(tmp_path: Path, lora_copy: Path) -> None:
    (lora_copy / "adapter_model.safetensors").write_bytes(b"\0\0\0")
    config = tmp_path / "systems.toml"
    config.write_text(f'[systems.lora]\nadapter = "{lora_copy}"\n')
    assert_clean_error(
        harness("run", "--systems", "lora,vanilla", "--system-config", str(config), "--benchmark", str(STARTER), "--output-dir", str(tmp_path / "out")),
        f"{lora_copy / 'adapter_model.safetensors'}: corrupt safetensors",
        "retrain with: python -m harness train lora",
        f"--output {lora_copy}",
    )
    assert not (tmp_path / "out").exists()  # refused before any answer was generated


def test_missing_adapter_manifest(tmp_path: Path) -> None:
    config = tmp_path / "systems.toml"
    config.write_text(f'[systems.my-lora]\nmodel = "smollm2-135m-instruct"\nadapter = "{tmp_path / "nowhere"}"\n')
    assert_clean_error(
        harness("run", "--systems", "my-lora", "--system-config", str(config), "--benchmark", str(STARTER), "--output-dir", str(tmp_path / "out")),
        f"{config}:systems.my-lora.adapter: {tmp_path / 'nowhere'}: no adapter here (manifest.json missing)",
        "python -m harness train",
    )
    assert not (tmp_path / "out").exists()


def test_adapter_for_another_base_model(tmp_path: Path, lora_copy: Path) -> None:
    config = tmp_path / "systems.toml"
    config.write_text(f'[systems.lora]\nadapter = "{lora_copy}"\nmodel = "gemma3-270m"\n')
    assert_clean_error(
        harness("run", "--systems", "lora", "--system-config", str(config), "--benchmark", str(STARTER), "--output-dir", str(tmp_path / "out")),
        f"{lora_copy}: adapter was trained for base model 'smollm2-135m-instruct', not 'gemma3-270m'",
        "use model='smollm2-135m-instruct'",
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--set", "bogus=1"], ["--set 'bogus=1': bogus: unknown key", "allowed: base, rank"]),
        (["--set", "rank=0"], ["rank=0 is out of range; allowed 1..1024"]),
        (["--set", "lr=fast"], ["lr='fast'"]),
        (["--config", "{tmp}/train.toml"], ["train.toml: lora.rnak: unknown key; did you mean 'rank'?"]),
    ],
    ids=["unknown-key", "out-of-range", "wrong-type", "unknown-key-in-toml"],
)
def test_bad_training_config(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    (tmp_path / "train.toml").write_text("[lora]\nrnak = 4\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_clean_error(harness("train", "lora", "--output", str(tmp_path / "adapter"), *args), *fragments)
    assert not (tmp_path / "adapter").exists()
