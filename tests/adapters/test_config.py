"""Training config: TOML tables, --set overrides, one-line errors naming field, value and range."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config import KDConfig, LoraTrainConfig, load_spec, parse_override
from harness.api.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_per_kind() -> None:
    assert load_spec("lora").lora == LoraTrainConfig()
    assert load_spec("lora").kd is None
    teacher = load_spec("teacher").lora
    assert teacher.base == "gemma3-270m"
    assert load_spec("lora-kd").kd == KDConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rank=16", ("rank", 16)),
        ("lr=1e-4", ("lr", 1e-4)),
        ("base=gemma3-270m", ("base", "gemma3-270m")),
        ("autocast_bf16=false", ("autocast_bf16", False)),
        ("kd.alpha=0.8", ("kd.alpha", 0.8)),
    ],
)
def test_parse_override(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


def test_overrides_route_to_lora_and_kd() -> None:
    spec = load_spec("lora-kd", overrides=["rank=16", "alpha=0.8", "kd.temperature=5", "lora.seq_len=128", "target_modules=q_proj,v_proj"])
    assert spec.lora.rank == 16 and spec.lora.seq_len == 128
    assert spec.lora.target_modules == ("q_proj", "v_proj")
    assert spec.kd is not None and spec.kd.alpha == 0.8 and spec.kd.temperature == 5.0


@pytest.mark.parametrize(
    ("kind", "override", "message"),
    [
        ("lora", "rnk=4", "rnk: unknown key; did you mean 'rank'?"),
        ("lora", "rank=0", "rank=0 is out of range; allowed 1..1024"),
        ("lora", "lora_dropout=1.5", "lora_dropout=1.5 is out of range; allowed 0 <= p < 1"),
        ("lora", "schedule=step", "schedule='step': not one of cosine, linear, constant"),
        ("lora", "rank=high", "rank='high': expected an integer"),
        ("lora", "alpha=0.5", "`train lora` has no distillation settings (the LoRA scale is lora_alpha); use train lora-kd"),
        ("lora-kd", "alpha=1.5", "alpha=1.5 is out of range; allowed 0.0..1.0"),
        ("lora-kd", "temperature=0", "temperature=0.0 is out of range; allowed 0 < T <= 20"),
        ("lora-kd", "path=magic", "path='magic': not one of auto, same-vocab, cross-vocab"),
        ("lora", "foo.rank=3", "unknown table 'foo'"),
        ("lora", "rank", "expected key=value"),
    ],
)
def test_bad_values_name_field_value_and_range(kind: str, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(kind, overrides=[override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_toml_file_tables_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "train.toml"
    good.write_text("[lora]\nrank = 4\n[teacher]\nrank = 2\n[kd]\ntop_k = 8\n")
    assert load_spec("lora", good).lora.rank == 4
    assert load_spec("teacher", good).lora.rank == 2
    assert load_spec("teacher", good).lora.base == "gemma3-270m"
    spec = load_spec("lora-kd", good, ["top_k=16"])
    assert spec.kd is not None and spec.kd.top_k == 16  # --set wins over the file
    bad_key = tmp_path / "bad.toml"
    bad_key.write_text("[lora]\nranks = 4\n")
    with pytest.raises(ConfigError, match=r"bad.toml: lora.ranks: unknown key; did you mean 'rank'"):
        load_spec("lora", bad_key)
    bad_table = tmp_path / "table.toml"
    bad_table.write_text("[optim]\nlr = 1\n")
    with pytest.raises(ConfigError, match=r"\[optim\]: unknown table"):
        load_spec("lora", bad_table)
    with pytest.raises(ConfigError, match="config file not found"):
        load_spec("lora", tmp_path / "missing.toml")


def test_paper_config_is_valid_and_same_vocab() -> None:
    spec = load_spec("lora-kd", REPO / "configs" / "paper.toml")
    assert spec.lora.base == "meta-llama/Llama-2-7b-chat-hf"
    assert spec.lora.dtype == "bfloat16" and spec.lora.gradient_checkpointing
    assert spec.kd is not None and spec.kd.teacher == "meta-llama/Llama-2-70b-chat-hf" and spec.kd.path == "same-vocab"
    assert load_spec("teacher", REPO / "configs" / "paper.toml").lora.base == "meta-llama/Llama-2-70b-chat-hf"
