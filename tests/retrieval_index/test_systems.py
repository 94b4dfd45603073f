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


def test_oracle_is_not_applicable_to_items_without_gold(tiny_lm, bow, tiny_corpus: Path, isolated_cache: Path) -> None:
    system = make(rag_oracle, tiny_lm, bow, tiny_corpus)
    requests = [request("a", "refresh", ("ddr5/refresh.md#refresh-interval",)), request("b", "anything")]
    assert system.not_applicable(requests) == {"b": "no gold_passages"}
    assert make(rag, tiny_lm, bow, tiny_corpus).not_applicable(requests) == {}  # a search applies to every item


def test_a_users_benchmark_without_gold_passages_is_not_applicable_to_the_oracle(
    tiny_lm, bow, tiny_corpus: Path, tmp_path: Path, isolated_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A new user's 12 items carry no gold_passages: rag-oracle generates nothing, says so in one
    warning line, and is reported as not applicable instead of as the base model in disguise."""
    from harness.analysis import comparisons_df, metrics_df, samples_df
    from harness.systems.composition import vanilla
    from reports.render import render_run

    bench = tmp_path / "mine"
    bench.mkdir()
    (bench / "benchmark.toml").write_text('name = "mine"\n[report]\npairs = [["rag-oracle", "vanilla"]]\nrefusal_pairs = []\n')
    rows = [{"id": f"m{i:02d}", "category": "facts", "question": f"What is w{i}?", "answer": {"type": "text", "accept": [f"w{i}"]}} for i in range(12)]
    (bench / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    asked: list[str] = []

    def oracle(**options):
        system = make(rag_oracle, tiny_lm, bow, tiny_corpus, **options)
        generate_stream = system.generate_stream

        def counted(requests):
            asked.extend(r.id for r in requests)
            return generate_stream(requests)

        system.generate_stream = counted  # type: ignore[method-assign]
        return system

    def base(**options):
        system = vanilla(**options)
        system.source._resolved = ResolvedModel(name="tiny-llama", path=tiny_corpus, weights_sha256="tiny", template="chat")
        system.source._generator = BatchGenerator(*tiny_lm, GenerationSettings(batch_size=4))
        return system

    registry = Registry()
    registry.register("vanilla", base)
    registry.register("rag-oracle", oracle)
    config = RunConfig(systems="vanilla,rag-oracle", benchmark=str(bench / "items.jsonl"), output_dir=str(tmp_path / "run"), max_new_tokens=4, quiet=True)
    with caplog.at_level("WARNING", logger="harness.runner"):
        run_dir = Runner(config, registry).run()
    warnings = [r.getMessage() for r in caplog.records if r.name == "harness.runner"]
    assert warnings == ["rag-oracle: not applicable to 12 of 12 items (no gold_passages); reported as not applicable and left out of its scores"]
    assert asked == []  # nothing generated for them

    samples = [s for s in read_samples(run_dir) if s["system"] == "rag-oracle"]
    assert len(samples) == 12 and {s["finish_reason"] for s in samples} == {"not_applicable"}
    assert {s["response"] for s in samples} == {""} and {s["extra"]["not_applicable"] for s in samples} == {"no gold_passages"}
    run = json.loads((run_dir / "run.json").read_text())
    assert run["systems"]["rag-oracle"]["not_applicable"] == 12 and run["systems"]["rag-oracle"]["generated"] == 0
    grades = [json.loads(line) for line in (run_dir / "grades.jsonl").read_text().splitlines()]
    assert {g["applicable"] for g in grades if g["system"] == "rag-oracle"} == {False}
    assert all("applicable" not in g and g["correct"] is not None for g in grades if g["system"] == "vanilla")

    oracle_metrics, base_metrics = run["metrics"]["per_system"]["rag-oracle"], run["metrics"]["per_system"]["vanilla"]
    assert (oracle_metrics["n"], oracle_metrics["n_not_applicable"], oracle_metrics["accuracy"]) == (0, 12, None)
    assert oracle_metrics["not_applicable"] == {"no gold_passages": 12} and oracle_metrics["mean_latency_s"] is None
    assert (base_metrics["n"], base_metrics["n_not_applicable"]) == (12, 0) and base_metrics["accuracy"] is not None
    assert run["metrics"]["comparisons"]["rows"] == [] and run["metrics"]["comparisons"]["skipped"] == [
        "accuracy rag-oracle vs vanilla: no item scored for both"
    ]
    assert run["metrics"]["versus_baseline"]["rows"] == [] and "rag-oracle" not in run["metrics"]["outcomes"]

    frame = samples_df(run_dir)
    assert frame.groupby("system", observed=True)["applicable"].all().to_dict() == {"vanilla": True, "rag-oracle": False}
    assert set(metrics_df(run_dir)["system"].astype(str)) == {"vanilla"} and comparisons_df(run_dir).empty

    render_run(run_dir)
    md = (run_dir / "report.md").read_text()
    assert "| rag-oracle | 0 (12 n/a) | - |" in md and "| vanilla | 12 |" in md
    assert "- rag-oracle was not applicable to 12 of 12 items (no gold\\_passages (12)): nothing was generated for them and it has no figures" in md
    assert md.count("**not applicable**") == 12
