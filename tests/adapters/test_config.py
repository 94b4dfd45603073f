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


def test_recipe_defaults() -> None:
    lora = load_spec("lora").lora
    assert lora.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert lora.epochs > 1 and lora.derived_data == "corpus" and lora.derived_format == "chat"
    assert load_spec("teacher").lora.derived_format == "plain"  # the teacher answers from a plain Question/Answer prompt


@pytest.mark.parametrize(
    ("cuda", "cuda_bf16", "avx512_bf16", "amx", "expected"),
    [
        (False, False, False, False, False),
        (False, False, True, False, True),
        (False, False, False, True, True),
        (True, True, False, False, True),
        (True, False, True, True, False),
    ],
)
def test_bf16_autocast_defaults_to_the_hardware(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, cuda_bf16: bool, avx512_bf16: bool, amx: bool, expected: bool
) -> None:
    import torch

    import harness.perf.utilisation as utilisation

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: cuda_bf16)
    monkeypatch.setattr(utilisation, "cpu_features", lambda: {"avx512_bf16": avx512_bf16, "amx_tile": amx})
    assert LoraTrainConfig().autocast_bf16 is expected
    assert load_spec("lora", overrides=["autocast_bf16=true"]).lora.autocast_bf16 is True  # an explicit choice wins


@pytest.mark.parametrize("kind", ["lora", "teacher", "lora-kd"])
def test_shipped_manifests_keep_their_recorded_config(kind: str) -> None:
    """The shipped adapters were trained before the recipe changed: their manifests, not today's
    defaults, say what they are, and the rebuild command spells the old settings out."""
    import json

    from adapters.config import reproducing_overrides, spec_from_record

    manifest = json.loads((REPO / "adapters" / "shipped" / kind / "manifest.json").read_text())
    spec = spec_from_record(kind, manifest["config"])
    assert spec.lora.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj") and spec.lora.epochs == 1
    assert spec.lora.derived_data == "none"  # a field the manifest predates takes its legacy value
    recorded = {k: v for k, v in spec.to_dict()["lora"].items() if k in manifest["config"]["lora"]}
    assert recorded == manifest["config"]["lora"]
    overrides = reproducing_overrides(spec)
    assert "epochs=1" in overrides and "derived_data=none" in overrides and "target_modules=q_proj,k_proj,v_proj,o_proj" in overrides
    assert load_spec(kind, overrides=overrides) == spec  # the rebuild command gives the recorded config back


def test_recorded_config_with_file_and_overrides_applied_again(tmp_path: Path) -> None:
    from adapters.config import reproducing_overrides, spec_from_record

    config = tmp_path / "train.toml"
    config.write_text("[lora]\nrank = 4\n")
    spec = load_spec("lora-kd", config, ["alpha=0.8", "epochs=2"])
    record = spec.to_dict()
    assert spec_from_record("lora-kd", record) == spec
    assert load_spec("lora-kd", config, ["alpha=0.8", "epochs=2"], base=spec) == spec
    config.write_text("[lora]\nrank = 16\n")  # the file changed since: the rank it now gives differs
    assert load_spec("lora-kd", config, ["alpha=0.8", "epochs=2"], base=spec).lora.rank == 16
    weird = load_spec("lora", overrides=['base="true"', "derived_data=some dir/derived.jsonl"])
    assert load_spec("lora", overrides=reproducing_overrides(weird)) == weird  # strings that TOML would read otherwise are quoted
    with pytest.raises(ConfigError, match="lora.rank=0 is out of range"):
        spec_from_record("lora", {"lora": {**record["lora"], "rank": 0}})
