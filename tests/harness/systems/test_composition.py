"""Systems by composition: TOML tables declare new systems with no code, options merge over a
declared system, bad tables fail naming file and field, and any model source takes a retriever."""

from __future__ import annotations

import ast
import inspect
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest

from harness.api.errors import ArtifactError, ConfigError
from harness.api.system import ChatMessage, GenerationRequest
from harness.registry import Registry
from harness.system_config import load_system_config
from harness.systems.composed import ComposedSystem
from harness.systems.composition import SystemSpec, compose, merge
from tests.conftest import run_options

RAG_TEACHER = '[systems.rag+teacher]\nmodel = "gemma3-270m"\nadapter = "adapters/shipped/teacher"\nprompt = "plain"\nretriever = { k = 4 }\n'


def request(item_id: str, question: str) -> GenerationRequest:
    return GenerationRequest(
        id=item_id,
        messages=(ChatMessage("system", "Be precise."), ChatMessage("user", f"Question: {question}")),
        max_new_tokens=8,
        item={"id": item_id, "question": question},
    )


def test_the_issue_toml_declares_rag_teacher_with_no_code(tmp_path: Path) -> None:
    path = tmp_path / "systems.toml"
    path.write_text(RAG_TEACHER)  # "+" in a bare table header, as users write system names
    registry, options = load_system_config(path, Registry.from_entry_points())
    assert "rag+teacher" in registry and options["rag+teacher"] == {}
    factory = registry.get("rag+teacher").load_factory()
    assert factory.accepts_train_missing and factory.include_in_all
    system = registry.create("rag+teacher")
    assert isinstance(system, ComposedSystem) and system.name == "rag+teacher"
    assert (system.model_name, system.spec.prompt, system.retriever.config.k) == ("gemma3-270m", "plain", 4)
    assert system.adapter.folder.name == "teacher" and system.adapter.kind == "teacher"
    assert system.source._generator is None and system.retriever._index is None  # nothing loaded yet


def test_every_builtin_is_a_declared_composition_and_no_class_factory_is_left() -> None:
    import adapters.systems

    declared = {ep.name: ep.load() for ep in metadata.entry_points(group="harness.systems") if ep.dist is not None and ep.dist.name == "raq-harness"}
    assert {name for name, factory in declared.items() if hasattr(factory, "composition")} == {
        "vanilla",
        "lora",
        "lora-kd",
        "teacher",
        "rag",
        "rag-oracle",
        "rag+lora",
        "rag+lora-kd",
    }
    tree = ast.parse(inspect.getsource(adapters.systems))
    nested = [node.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) for node in ast.walk(fn) if isinstance(node, ast.ClassDef)]
    assert nested == [] and "functools" not in inspect.getsource(adapters.systems)


def test_options_merge_over_the_declared_table() -> None:
    registry = Registry.from_entry_points()
    oracle = registry.create("rag-oracle", retriever={"k": 2}, batch_size=3)
    assert oracle.retriever.config.oracle and oracle.retriever.config.k == 2 and oracle.source.settings.batch_size == 3
    with pytest.raises(ArtifactError, match="shipped/lora: holds a 'lora' adapter, not 'lora-kd'"):  # a folder alone keeps the expected kind
        registry.create("lora-kd", adapter="adapters/shipped/lora")
    assert merge({"retriever": {"oracle": True}, "prompt": "chat"}, {"retriever": {"k": 2}, "prompt": "plain"}) == {
        "retriever": {"oracle": True, "k": 2},
        "prompt": "plain",
    }


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('model = "m"\npromt = "plain"', "systems.x.promt: unknown key; did you mean 'prompt'?"),
        ('model = "m"\nk = 4', "systems.x.k: unknown key (retriever options go in retriever = { k = 4, ... })"),
        ('model = "m"\nprompt = "xml"', "systems.x.prompt: 'xml' is not a prompt format; use one of chat, plain"),
        ('model = "m"\nretriever = { k = 0 }', "systems.x.retriever.k: 0 passages is out of range; use 1..32"),
        ('model = "m"\nretriever = { plugin = "nope" }', "Unknown harness.retrievers plugin 'nope'"),
        ('model = "m"\nadapter = { path = "a", colour = 1 }', "systems.x.adapter.colour: unknown adapter option"),
        ('model = "m"\nendpoint = "http://127.0.0.1:9/v1"\nadapter = "a"', "systems.x.adapter: a served model cannot take a local adapter"),
        ('model = "m"\nbatch_size = 0', "systems.x.batch_size must be >= 1"),
        ("model = 3", "systems.x.model: 3 has the wrong type; expected string"),
        ('model = "m"\nquantize = "int4"', "systems.x.quantize: 'int4' is not supported; use one of 'int8' or leave it unset"),
        ('model = "m"\nendpoint = "http://127.0.0.1:9/v1"\nquantize = "int8"', "systems.x.quantize: a served model is quantised by its server"),
        ('model = "m"\nloop_stop = "no"', "systems.x.loop_stop: 'no' has the wrong type; expected bool"),
    ],
    ids=[
        "unknown-key",
        "flat-retriever-key",
        "prompt",
        "retriever-k",
        "retriever-plugin",
        "adapter-key",
        "served-adapter",
        "batch-size",
        "type",
        "quantize",
        "served-quantize",
        "loop-stop-type",
    ],
)
def test_bad_tables_name_the_file_and_field(tmp_path: Path, table: str, fragment: str) -> None:
    path = tmp_path / "systems.toml"
    path.write_text(f"[systems.x]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        load_system_config(path, Registry.from_entry_points())
    assert fragment in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


class FixedModel:
    """A resolved model whose fingerprint needs no files."""

    def fingerprint(self) -> dict[str, Any]:
        return {"model": "fixed"}


def test_loop_stop_and_quantize_come_from_toml_and_enter_the_fingerprint_only_when_on(tmp_path: Path) -> None:
    path = tmp_path / "systems.toml"
    path.write_text('[systems.vanilla]\nloop_stop = false\nquantize = "int8"\n\n[systems.rag+int8]\nmodel = "smollm2-135m-instruct"\nquantize = "int8"\n')
    registry, options = load_system_config(path, Registry.from_entry_points())
    changed, declared, default = registry.create("vanilla", **options["vanilla"]), registry.create("rag+int8"), registry.create("vanilla")
    for system in (changed, declared, default):
        system.source._resolved = FixedModel()
    assert (changed.source.settings.loop_stop, changed.source.quantize) == (False, "int8")
    assert changed.fingerprint["quantize"] == "int8" and "loop_stop" not in changed.fingerprint
    assert declared.fingerprint["quantize"] == "int8" and declared.fingerprint["loop_stop"] == {"ngram": 10, "repeats": 3}
    assert "quantize" not in default.fingerprint and default.fingerprint["loop_stop"] == {"ngram": 10, "repeats": 3}


def test_no_loop_stop_reaches_every_builtin_local_system_and_no_served_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "systems.toml"
    path.write_text('[systems.served]\nbase = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n')
    local = ["vanilla", "lora", "lora-kd", "teacher", "rag", "rag-oracle", "rag+lora", "rag+lora-kd"]
    names = ",".join([*local, "served"])
    seen = run_options(monkeypatch, ["run", "--systems", names, "--no-loop-stop", "--system-config", str(path), "--output-dir", str(tmp_path / "run")])
    assert all(seen[name]["loop_stop"] is False for name in local) and "loop_stop" not in seen["served"]


class EchoRetriever:
    """A retriever part: puts one fixed passage before the question and records it."""

    def fingerprint(self) -> Mapping[str, Any]:
        return {"mode": "echo"}

    def prepare(self, requests: Sequence[GenerationRequest]) -> tuple[list[GenerationRequest], list[dict[str, Any]]]:
        import dataclasses

        out = [dataclasses.replace(r, messages=(*r.messages[:-1], ChatMessage("user", "PASSAGE\n\n" + r.messages[-1].content))) for r in requests]
        return out, [{"retrieved": [{"anchor": "doc#a", "score": 1.0}]} for _ in requests]

    def close(self) -> None:
        pass


@pytest.mark.parametrize("prompt", ["chat", "plain"])
def test_a_retriever_in_front_of_a_served_model(fake_server: Any, prompt: str) -> None:
    spec = SystemSpec.from_options({"model": "smol", "endpoint": fake_server.url, "prompt": prompt, "temperature": 0.5}, "systems.served-rag")
    system = compose("served-rag", spec)
    system.retriever = EchoRetriever()
    results = system.generate([request("a", "What is tRFC?"), request("b", "What is slack?")])
    assert [r.id for r in results] == ["a", "b"] and all(r.extra["retrieved"][0]["anchor"] == "doc#a" for r in results)
    sent = fake_server.seen[0]
    if prompt == "chat":
        assert sent["messages"][-1]["content"].startswith("PASSAGE") and "stop" not in sent
    else:
        assert sent["prompt"].startswith("Be precise.\n\nPASSAGE") and sent["prompt"].endswith("\nAnswer:") and sent["stop"] == ["\nQuestion:", "\nAnswer:"]
    assert sent["temperature"] == 0.5
    fingerprint = system.fingerprint
    assert fingerprint["class"] == "OpenAISystem" and fingerprint["retrieval"] == {"mode": "echo"} and fingerprint["decoding"] == {"temperature": 0.5}
    assert ("prompt" in fingerprint) == (prompt == "plain")
