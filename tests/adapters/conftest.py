"""Fixtures for the adapter tests: a tiny corpus, tiny tokenizers and tiny random Llama models
built in the test session (no packaged weights), saved as ordinary model folders so the real
loading, training and checking code runs on them.

* ``student`` -- byte-level BPE tokenizer (no BOS), 2-layer hidden-32 Llama.
* ``big_student`` -- the same tokenizer (same vocabulary), a wider model: the same-vocab teacher.
* ``teacher`` -- a Metaspace BPE tokenizer that adds ``<bos>`` (another vocabulary), hidden-48 model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DOCS = {
    "ddr5/refresh.md": (
        "Refresh notes",
        "ddr5",
        "# DRAM refresh\n\nCells leak charge, so every row is refreshed within the retention window. "
        "The average refresh interval tREFI is 3.9 us at normal temperature and halves above 85 C. "
        "tRFC is the time one refresh command blocks the device: 295 ns for 16 Gb parts.\n",
    ),
    "devices/mosfet.md": (
        "MOSFET basics",
        "devices",
        "# MOSFET square law\n\nIn saturation the drain current is half of mu Cox W over L times the overdrive squared. "
        "The threshold voltage rises with body bias; channel-length modulation adds a (1 + lambda VDS) factor.\n",
    ),
    "timing/setup.md": (
        "Setup and hold",
        "timing",
        "# Setup time\n\nData must be stable for the setup time before the clock edge and for the hold time after it. "
        "Slack is the required time minus the arrival time; negative slack is a violation.\n",
    ),
}


def write_corpus(root: Path, repeat: int = 3, docs: dict[str, tuple[str, str, str]] | None = None) -> Path:
    """Markdown documents with front matter; ``repeat`` copies of each body make enough tokens."""
    for rel, (title, topic, body) in (docs or DOCS).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ntitle: {title}\ntopic: {topic}\nversion: 1\n---\n\n" + body * repeat, encoding="utf-8")
    return root


def corpus_text() -> list[str]:
    return [body for _, _, body in DOCS.values()]


def byte_bpe_tokenizer(vocab_size: int = 320) -> Any:
    """GPT-2-style byte-level BPE, no BOS (like SmolLM2)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<eos>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus_text() * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")


def metaspace_tokenizer(vocab_size: int = 200) -> Any:
    """SentencePiece-style BPE over characters that prepends ``<bos>`` (like Gemma)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"])
    tok.train_from_iterator(corpus_text() * 4 + ["0123456789 ()+-.,:;"], trainer)
    bos = tok.token_to_id("<bos>")
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")


def save_tiny_model(folder: Path, tokenizer: Any, hidden: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    student_tok = byte_bpe_tokenizer()
    teacher_tok = metaspace_tokenizer()
    return {
        "student": save_tiny_model(root / "student", student_tok, hidden=32, seed=0),
        "big_student": save_tiny_model(root / "big-student", student_tok, hidden=48, seed=1),
        "teacher": save_tiny_model(root / "teacher", teacher_tok, hidden=48, seed=2),
    }


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HARNESS_CACHE (teacher caches, checkpoints, sha memo)."""
    path = tmp_path / "harness-cache"
    monkeypatch.setenv("HARNESS_CACHE", str(path))
    return path


#: Training settings small enough for a unit test (seconds on 2 CPU cores).
TINY = (
    "seq_len=32",
    "batch_size=4",
    "warmup_steps=2",
    "rank=4",
    "autocast_bf16=false",
    "checkpoint_every=0",
    "target_modules=q_proj,v_proj,down_proj,lm_head",
    "lr=0.03",
    "epochs=6",
    "derived_data=none",  # the derived examples have their own tests
    "heldout=",  # no held-out evaluation (early stopping has its own tests)
    "patience=0",
)


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny models run fastest on one thread (and a busy shared CPU makes 2-thread sync costly)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def assert_same_adapter_weights(first: Path, second: Path, atol: float = 1e-3) -> None:
    """The two adapter folders hold the same tensors (names and values within ``atol``)."""
    import torch
    from safetensors.torch import load_file

    a = load_file(str(first / "adapter_model.safetensors"))
    b = load_file(str(second / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=atol), name
