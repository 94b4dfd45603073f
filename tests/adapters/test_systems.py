"""The adapter systems on tiny in-test models: generation, fingerprints, stale refusal,
--train-missing, the teacher's plain prompt, rag+lora composition, the runner and the CLI."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
import torch

from adapters.config import load_spec
from adapters.recipes import TrainRequest, train_adapter
from adapters.systems import PeftAdapter, lora, lora_kd, rag_lora, teacher
from harness.api.errors import ArtifactError
from harness.api.system import ChatMessage, GenerationRequest
from harness.models.prompt_format import plain_request
from harness.systems.composed import ComposedSystem
from tests.adapters.conftest import TINY
from tests.conftest import run_options

STARTER = Path(__file__).resolve().parents[2] / "benchmarks" / "starter" / "items.jsonl"


def train(kind: str, output: Path, corpus: Path, base: Path, *extra: str) -> dict[str, Any]:
    overrides = TINY + (f"base={base}", "epochs=2") + extra
    return train_adapter(TrainRequest(spec=load_spec(kind, None, overrides), output=output, corpus=corpus, overrides=overrides, quiet=True))


def chat(item_id: str, question: str, max_new_tokens: int = 4) -> GenerationRequest:
    return GenerationRequest(
        id=item_id,
        messages=(ChatMessage("system", "Be precise."), ChatMessage("user", f"Answer briefly.\n\nQuestion: {question}")),
        max_new_tokens=max_new_tokens,
        item={"id": item_id, "question": question, "category": "accuracy", "gold_passages": [], "tags": []},
    )


class BagOfWords:
    """Deterministic stand-in for MiniLM: hashed word counts, L2-normalised."""

    dim = 384

    def encode(self, texts: Sequence[str], progress: bool = False, desc: str = "") -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_lora_system_applies_the_adapter_and_fingerprints_it(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    manifest = train("lora", tmp_path / "lora", corpus, tiny_models["student"])
    system = lora(adapter=str(tmp_path / "lora"), model=str(tiny_models["student"]), batch_size=2)
    assert isinstance(system, ComposedSystem) and isinstance(system.adapter, PeftAdapter) and system.name == "lora"
    assert system.fingerprint["adapter"]["sha256"] == manifest["adapter_sha256"]
    results = system.generate([chat("a", "What is tRFC?"), chat("b", "What is slack?")])
    assert [r.id for r in results] == ["a", "b"]
    # the merged model equals plain PEFT on the same base
    ids = torch.tensor([[5, 6, 7, 8]])
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_models["student"])), str(tmp_path / "lora")).eval()
    with torch.no_grad():
        assert torch.allclose(system.load().model(input_ids=ids).logits, reference(input_ids=ids).logits, atol=1e-4)
    # another adapter, another fingerprint
    train("lora", tmp_path / "lora2", corpus, tiny_models["student"], "seed=1")
    other = lora(adapter=str(tmp_path / "lora2"))  # the base model defaults to the one in the manifest
    assert other.model_name == str(tiny_models["student"])
    assert other.fingerprint_hash() != system.fingerprint_hash()


def test_stale_adapter_is_refused_before_generation_or_retrained_with_train_missing(
    tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path
) -> None:
    first = train("lora", tmp_path / "lora", corpus, tiny_models["student"])
    refresh = corpus / "ddr5" / "refresh.md"  # the first document: every later block shifts
    refresh.write_text(refresh.read_text() + "\nRefresh management (RFM) adds refreshes for hammered rows.\n")
    refused = lora(adapter=str(tmp_path / "lora"), model=str(tiny_models["student"]))
    with pytest.raises(ArtifactError, match="stale adapter: corpus .* retrain with: python -m harness train lora"):
        refused.fingerprint
    retrained = lora(adapter=str(tmp_path / "lora"), model=str(tiny_models["student"]), train_missing=True)
    sha = retrained.fingerprint["adapter"]["sha256"]
    assert sha != first["adapter_sha256"]
    assert json.loads((tmp_path / "lora" / "manifest.json").read_text())["overrides"] == first["overrides"]
    assert len(retrained.generate([chat("a", "What is hold time?")])) == 1


def test_adapter_for_another_base_model_is_refused(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    train("lora", tmp_path / "lora", corpus, tiny_models["student"])
    with pytest.raises(ArtifactError, match="trained for base model"):
        lora(adapter=str(tmp_path / "lora"), model=str(tiny_models["big_student"])).fingerprint
    with pytest.raises(ArtifactError, match="holds a 'lora' adapter, not 'lora-kd'"):
        lora_kd(adapter=str(tmp_path / "lora"), model=str(tiny_models["student"])).fingerprint


def test_teacher_gets_a_plain_question_answer_prompt(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    request = chat("a", "What is tREFI?")
    plain = plain_request(request)
    assert plain.messages is None
    assert plain.prompt == "Be precise.\n\nAnswer briefly.\n\nQuestion: What is tREFI?\nAnswer:"
    assert plain.stop == ("\nQuestion:", "\nAnswer:")
    bare = plain_request(GenerationRequest(id="b", messages=(ChatMessage("user", "Define slack."),)))
    assert bare.prompt == "Question: Define slack.\nAnswer:"
    assert plain_request(bare) is bare  # plain prompts pass through
    opened = plain_request(GenerationRequest(id="c", messages=(ChatMessage("user", "Question: Define slack.\nAnswer:"),)))
    assert opened.prompt == "Question: Define slack.\nAnswer:"  # a template that opens the answer gets no second "Answer:"
    train("teacher", tmp_path / "teacher", corpus, tiny_models["teacher"])
    system = teacher(adapter=str(tmp_path / "teacher"), model=str(tiny_models["teacher"]), batch_size=2)
    assert system.spec.prompt == "plain" and system.fingerprint["class"] == "TeacherSystem"
    assert system.fingerprint["prompt"]["format"] == "plain-question-answer"
    (result,) = system.generate([request])
    assert result.id == "a" and result.prompt_tokens == len(system.load().tokenizer(plain.prompt)["input_ids"])


def test_rag_lora_composes_retrieval_with_the_adapter(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    manifest = train("lora", tmp_path / "lora", corpus, tiny_models["student"])
    system = rag_lora(
        adapter=str(tmp_path / "lora"),
        model=str(tiny_models["student"]),
        retriever={"docs": str(corpus), "chunk_size": 64, "chunk_overlap": 8, "k": 2},
        batch_size=2,
    )
    assert system.retriever is not None and system.adapter is not None and system.name == "rag+lora"
    system.retriever.embedder = BagOfWords()
    fingerprint = system.fingerprint
    assert fingerprint["adapter"]["sha256"] == manifest["adapter_sha256"] and "index_hash" in fingerprint["retrieval"]
    (result,) = system.generate([chat("a", "What is the refresh interval tREFI?")])
    assert result.extra["k"] == 2 and result.extra["retrieved"]


def test_lora_through_the_runner(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    from harness.runlog import read_samples
    from harness.runner import RunConfig, Runner

    train("lora", tmp_path / "lora", corpus, tiny_models["student"])
    options = {"lora": {"adapter": str(tmp_path / "lora"), "model": str(tiny_models["student"])}}
    config = RunConfig(
        systems="lora",
        benchmark=str(STARTER),
        limit=2,
        output_dir=str(tmp_path / "run"),
        max_new_tokens=4,
        quiet=True,
        system_options=options,
        baseline_system="lora",
        mode="generate",
    )
    run_dir = Runner(config).run()
    samples = list(read_samples(run_dir))
    assert len(samples) == 2 and {s["system"] for s in samples} == {"lora"}
    run = json.loads((run_dir / "run.json").read_text())
    assert run["systems"]["lora"]["fingerprint"]["adapter"]["kind"] == "lora"


def test_train_cli(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.main import main

    out = tmp_path / "cli-lora"
    code = main(["train", "lora", "--quiet", "--corpus", str(corpus), "--output", str(out), "--base", str(tiny_models["student"]), "--set", *TINY, "epochs=1"])
    printed = capsys.readouterr().out
    assert code == 0 and "lora: " in printed and "tok/s" in printed and "rebuild with: python -m harness train lora --corpus" in printed
    assert (out / "manifest.json").exists()
    assert main(["train", "lora", "--corpus", str(corpus), "--set", "rnk=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "did you mean 'rank'" in err and err.count("\n") == 1
    assert main(["train", "lora", "--teacher", "x"]) == 2


def test_run_train_missing_flag_reaches_only_adapter_systems(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = run_options(monkeypatch, ["run", "--systems", "vanilla,lora,lora-kd,teacher", "--train-missing", "--output-dir", str(tmp_path / "run")])
    assert seen["lora"]["train_missing"] and seen["lora-kd"]["train_missing"] and seen["teacher"]["train_missing"]
    assert "train_missing" not in seen.get("vanilla", {})
