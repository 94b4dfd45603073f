"""The rag and rag-oracle systems on a tiny random Llama, a tiny corpus and a bag-of-words
embedder: prompts, recorded extras, fingerprints, and a full run through the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from harness.api.errors import ConfigError
from harness.api.system import ChatMessage, GenerationRequest
from harness.models.generation import BatchGenerator, GenerationSettings
from harness.models.sources import ResolvedModel
from harness.registry import Registry
from harness.runlog import read_samples
from harness.runner import RunConfig, Runner
from harness.systems.composed import ComposedSystem
from retrieval_index.prompt import HEADER
from retrieval_index.systems import RagConfig, rag, rag_oracle
from tests.conftest import tiny_llama

WORDS = ["<pad>", "<s>", "</s>", "<unk>"] + [f"w{i}" for i in range(40)]
RETRIEVER = {"chunk_size": 64, "chunk_overlap": 8}


@pytest.fixture(scope="module")
def tiny_lm() -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    core = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.padding_side = "left"
    return tiny_llama(len(WORDS), max_position_embeddings=4096), tok


def make(factory, tiny_lm, bow, docs: Path, batch_size: int = 4, **retriever) -> ComposedSystem:
    system = factory(retriever={"docs": str(docs), **RETRIEVER, **retriever}, batch_size=batch_size)
    system.retriever.embedder = bow
    system.source._resolved = ResolvedModel(name="tiny-llama", path=docs, weights_sha256="tiny", template="chat")
    system.source._generator = BatchGenerator(*tiny_lm, GenerationSettings(batch_size=4))
    return system


def request(item_id: str, question: str, gold: tuple[str, ...] = ()) -> GenerationRequest:
    return GenerationRequest(
        id=item_id,
        messages=(ChatMessage("system", "Be precise."), ChatMessage("user", f"Answer this.\n\nQuestion: {question}")),
        max_new_tokens=4,
        item={"id": item_id, "question": question, "category": "accuracy", "gold_passages": list(gold), "tags": []},
    )


def test_rag_puts_top_k_passages_in_the_prompt_and_records_ids(tiny_lm, bow, tiny_corpus: Path, isolated_cache: Path) -> None:
    system = make(rag, tiny_lm, bow, tiny_corpus, k=2, record_k=5)
    prepared, extras = system.prepare([request("a", "refresh interval tREFI at high temperature")])
    user = prepared[0].messages[-1].content
    assert user.startswith(HEADER) and "[2] " in user and "[3] " not in user
    assert user.endswith("Question: refresh interval tREFI at high temperature")
    retrieved = extras[0]["retrieved"]
    assert len(retrieved) == 5 and extras[0]["k"] == 2
    assert retrieved[0]["anchor"] == "ddr5/refresh.md#refresh-interval"
    assert retrieved[0]["chunk_id"] == "ddr5/refresh.md#refresh-interval:0"
    assert extras[0]["index_hash"] == system.retriever.index().index_hash
    results = system.generate([request("a", "refresh interval tREFI"), request("b", "drain current saturation")])
    assert [r.id for r in results] == ["a", "b"]
    assert all(r.extra["retrieved"] and r.extra["index_hash"] for r in results)
    assert results[1].extra["retrieved"][0]["anchor"] == "devices/mosfet.md#saturation-current"


def test_oracle_uses_gold_chunks_only(tiny_lm, bow, tiny_corpus: Path, isolated_cache: Path) -> None:
    system = make(rag_oracle, tiny_lm, bow, tiny_corpus, k=2)
    gold = ("ddr5/refresh.md#refresh-interval", "devices/mosfet.md#saturation-current")
    prepared, extras = system.prepare([request("a", "drain current in saturation", gold)])
    anchors = [p["anchor"] for p in extras[0]["passages"]]
    assert set(anchors) == set(gold)  # one chunk per gold passage even though k = 2 and mosfet has many
    assert "retrieved" not in extras[0] and extras[0]["missing_gold"] == []
    assert prepared[0].messages[-1].content.startswith(HEADER)


def test_oracle_fills_up_to_k_from_sub_sections_and_reports_missing_gold(tiny_lm, bow, tiny_corpus: Path, isolated_cache: Path) -> None:
    system = make(rag_oracle, tiny_lm, bow, tiny_corpus, k=3)
    _, extras = system.prepare([request("a", "tRFC refresh cycle time", ("ddr5/refresh.md#refresh-interval", "ddr5/refresh.md#gone"))])
    anchors = [p["anchor"] for p in extras[0]["passages"]]
    assert set(anchors) == {"ddr5/refresh.md#refresh-interval", "ddr5/refresh.md#refresh-cycle-time"}
    assert anchors[0] == "ddr5/refresh.md#refresh-cycle-time"  # best first
    assert extras[0]["missing_gold"] == ["ddr5/refresh.md#gone"]


def test_oracle_without_gold_keeps_the_prompt(tiny_lm, bow, tiny_corpus: Path, isolated_cache: Path) -> None:
    system = make(rag_oracle, tiny_lm, bow, tiny_corpus)
    original = request("a", "anything")
    prepared, extras = system.prepare([original])
    assert prepared[0] == original and extras[0]["passages"] == []


def test_fingerprint_has_index_hash_and_changes_with_k_and_mode(tiny_lm, bow, tiny_corpus: Path, isolated_cache: Path) -> None:
    a = make(rag, tiny_lm, bow, tiny_corpus, k=2)
    fp = dict(a.fingerprint)
    assert fp["retrieval"]["index_hash"] == a.retriever.index().index_hash  # computed before and after loading
    assert fp == dict(a.fingerprint)
    assert dict(make(rag, tiny_lm, bow, tiny_corpus, k=3).fingerprint) != fp
    assert dict(make(rag_oracle, tiny_lm, bow, tiny_corpus, k=2).fingerprint)["retrieval"]["mode"] == "oracle"
    (tiny_corpus / "notes.txt").write_text("changed notes\n")
    assert dict(make(rag, tiny_lm, bow, tiny_corpus, k=2).fingerprint)["retrieval"]["index_hash"] != fp["retrieval"]["index_hash"]


def test_explicit_stale_index_fails_at_fingerprint_time(tiny_lm, bow, tiny_corpus: Path, tmp_path: Path, isolated_cache: Path) -> None:
    from harness.api.errors import ArtifactError
    from retrieval_index.faiss_index import IndexConfig, build_index
    from retrieval_index.ingest import ChunkingConfig

    folder = build_index(tiny_corpus, tmp_path / "idx", ChunkingConfig(chunk_size=64, chunk_overlap=8), IndexConfig(), bow, progress=False).folder
    system = make(rag, tiny_lm, bow, tiny_corpus, index=str(folder), chunk_size=None, chunk_overlap=None)
    assert system.fingerprint["retrieval"]["index_hash"]
    (tiny_corpus / "notes.txt").write_text("changed\n")
    stale = make(rag, tiny_lm, bow, tiny_corpus, index=str(folder), chunk_size=None, chunk_overlap=None)
    with pytest.raises(ArtifactError, match="stale index.*python -m harness index build"):
        stale.fingerprint


@pytest.mark.parametrize(("kwargs", "fragment"), [({"k": 0}, "k: 0"), ({"k": 5, "record_k": 3}, "record_k: 3")])
def test_bad_rag_options(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        RagConfig(**kwargs)


def test_entry_points_create_systems_without_loading_anything() -> None:
    registry = Registry.from_entry_points()
    system = registry.create("rag", retriever={"k": 3})
    assert isinstance(system, ComposedSystem) and system.name == "rag" and system.retriever.config.k == 3
    assert system.source._generator is None and system.retriever._index is None
    assert registry.create("rag-oracle").retriever.oracle
    assert registry.create("rag-oracle", retriever={"k": 2}).retriever.config.oracle  # options merge over the declared table


def test_runner_records_retrieved_ids_per_sample_and_caches_them(tiny_lm, bow, tiny_corpus: Path, tmp_path: Path, isolated_cache: Path) -> None:
    items = tmp_path / "bench" / "items.jsonl"
    items.parent.mkdir()
    rows = [
        {
            "id": "i1",
            "category": "accuracy",
            "question": "What is the refresh interval tREFI?",
            "answer": {"type": "text", "accept": ["3.9 us"]},
            "gold_passages": ["ddr5/refresh.md#refresh-interval"],
        },
        {
            "id": "i2",
            "category": "accuracy",
            "question": "What is the drain current in saturation?",
            "answer": {"type": "text", "accept": ["square law"]},
            "gold_passages": ["devices/mosfet.md#saturation-current"],
        },
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    made: list[ComposedSystem] = []

    def factory(**options):
        made.append(make(rag, tiny_lm, bow, tiny_corpus, **options))
        return made[-1]

    registry = Registry()
    registry.register("rag", factory)
    config = RunConfig(
        systems="rag", benchmark=str(items), output_dir=str(tmp_path / "run1"), batch_size=2, max_new_tokens=4, quiet=True, baseline_system="rag"
    )
    samples = read_samples(Runner(config, registry).run())
    assert [s["extra"]["retrieved"][0]["anchor"] for s in samples] == ["ddr5/refresh.md#refresh-interval", "devices/mosfet.md#saturation-current"]
    # the run log shows the prompt the model really saw: passages included
    assert "3.9 microseconds" in json.dumps(samples[0]["prompt"]) and "sent_prompt" not in samples[0]["extra"]
    again = read_samples(Runner(RunConfig(**{**config.__dict__, "output_dir": str(tmp_path / "run2")}), registry).run())
    assert all(s["cached"] for s in again)
    assert [s["extra"] for s in again] == [s["extra"] for s in samples]
    assert [s["prompt"] for s in again] == [s["prompt"] for s in samples]
