"""Safe loading and containment: weights only from safetensors, nothing unpickled, no remote code
unless asked, typed system names never imported, every output inside the output directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, STARTER

SOURCE_DIRS = ("harness", "adapters", "retrieval_index", "reports", "benchmarks", "scripts")
UNSAFE = re.compile(r"torch\.load\(|pickle\.loads?\(|joblib\.load\(|allow_pickle\s*=\s*True|trust_remote_code\s*=\s*True|dill\.load|cloudpickle")


def test_no_pickle_loading_or_remote_code_in_project_source() -> None:
    hits = []
    for folder in SOURCE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if UNSAFE.search(line):
                    hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)
    assert UNSAFE.search("state = torch.load(path)") and UNSAFE.search("trust_remote_code=True")  # the scan can fire


@pytest.fixture
def tiny_bin_model(tmp_path: Path) -> Path:
    """A tiny Llama folder saved the legacy way (pytorch_model.bin, a pickle) and no safetensors."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.adapters.conftest import byte_bpe_tokenizer

    tokenizer = byte_bpe_tokenizer()
    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    )
    folder = tmp_path / "legacy"
    folder.mkdir()
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    tokenizer.save_pretrained(str(folder))
    return folder


def test_a_model_with_only_pickled_weights_is_refused(tiny_bin_model: Path) -> None:
    from harness.api.errors import ArtifactError
    from harness.models.loading import load_causal_lm
    from harness.models.sources import resolve

    with pytest.raises(ArtifactError, match="cannot load safetensors weights"):
        load_causal_lm(resolve(str(tiny_bin_model)), device="cpu")


def test_remote_code_is_off_unless_the_user_turns_it_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from harness.models import loading
    from harness.models.sources import ResolvedModel
    from harness.systems.composition import SystemSpec
    from harness.systems.local_model import LocalModel

    seen: list[Any] = []

    def fake_from_pretrained(path: str, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise OSError("stop here")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", fake_from_pretrained)
    resolved = ResolvedModel("x", tmp_path, "0" * 64, "plain")
    for flag in (False, True):
        with pytest.raises(Exception, match="stop here"):
            loading.load_causal_lm(resolved, device="cpu", trust_remote_code=flag)
    assert [kw["trust_remote_code"] for kw in seen] == [False, True]
    assert all(kw["use_safetensors"] is True for kw in seen)
    import inspect

    assert inspect.signature(LocalModel.__init__).parameters["trust_remote_code"].default is False
    assert SystemSpec().trust_remote_code is False


@pytest.mark.parametrize("typed", ["os.system", "harness.cli.main:main", "subprocess:run", "../../evil"])
def test_typed_system_names_are_looked_up_never_imported(typed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import importlib

    from harness.api.errors import UnknownSystemError
    from harness.registry import Registry

    registry = Registry.from_entry_points()
    real_import_module, real_import = importlib.import_module, builtins.__import__
    imported: list[str] = []

    def spy_import_module(name: str, *args: Any, **kwargs: Any) -> Any:
        imported.append(name)
        return real_import_module(name, *args, **kwargs)

    def spy_import(name: str, *args: Any, **kwargs: Any) -> Any:  # `import x`, `__import__("x")`
        imported.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", spy_import_module)
    monkeypatch.setattr(builtins, "__import__", spy_import)
    __import__("json")  # the spies see both import paths
    importlib.import_module("json")
    assert imported == ["json", "json"]
    imported.clear()
    with pytest.raises(UnknownSystemError, match="Unknown system"):
        registry.resolve(typed)
    monkeypatch.undo()
    wanted = typed.split(":")[0]
    assert not any(name == wanted or name.startswith(wanted + ".") for name in imported), imported


def test_cli_refuses_an_import_path_as_a_system_name() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--systems", "os:system", "--benchmark", str(STARTER)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "Unknown system 'os:system'" in result.stderr and "Traceback" not in result.stderr


def test_every_output_stays_inside_the_output_directory(tmp_path: Path, plugin_path: Path, isolated_cache: Path) -> None:
    """Item ids and text shaped like paths never steer where files are written."""
    items = tmp_path / "bench" / "items.jsonl"
    items.parent.mkdir()
    rows = [json.loads(line) for line in STARTER.read_text().splitlines()]
    rows[0]["id"] = "../../escaped"
    rows[1]["id"] = "/tmp/absolute-escape"
    rows[2]["question"] = "../../../etc/passwd ~/.ssh/id_rsa"
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = {p for p in tmp_path.rglob("*")}
    out = tmp_path / "work" / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--systems",
            "echo",
            "--benchmark",
            str(items),
            "--output-dir",
            str(out),
            "--quiet",
            "--baseline-system",
            "echo",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    created = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in created if not (p.is_relative_to(out) or p.is_relative_to(isolated_cache) or p in (out.parent,))]
    assert not outside, outside
    assert (out / "report.html").exists() and (out / "samples.jsonl").exists()
    assert not Path("/tmp/absolute-escape").exists()
