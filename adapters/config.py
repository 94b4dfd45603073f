"""Training configuration: frozen dataclasses read from TOML plus ``--set key=value`` overrides.

    python -m harness train lora --config configs/paper.toml --set rank=16 lr=1e-4

A config file has up to three tables, each optional; keys not given keep the defaults below::

    [lora]      # the student's LoRA (``train lora`` and ``train lora-kd``)
    rank = 8
    [teacher]   # the teacher's LoRA (``train teacher``); same keys, base defaults to gemma3-270m
    base = "gemma3-270m"
    [kd]        # distillation (``train lora-kd``)
    alpha = 0.5

``--set`` keys are field names (``rank=16``, ``alpha=0.8``) or ``table.field`` (``kd.top_k=64``);
values are TOML literals, bare words are strings (``base=gemma3-270m``). Unknown keys and values
out of range raise :class:`ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.api.errors import ConfigError

KINDS = ("lora", "teacher", "lora-kd")
SCHEDULES = ("cosine", "linear", "constant")
KD_PATHS = ("auto", "same-vocab", "cross-vocab")
WEIGHT_DTYPES = ("float32", "bfloat16")
DERIVED_FORMATS = ("chat", "plain")
ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # Llama/SmolLM2 and Gemma-3 names


def bf16_hardware() -> bool:
    """Whether bf16 autocast pays here: a CUDA GPU that supports bf16, else a CPU with AVX-512-BF16
    or AMX (:func:`harness.perf.utilisation.cpu_features`). Without such hardware bf16 matmuls are
    emulated -- on an AVX2-only CPU ~1 GFLOP/s against ~77 GFLOP/s in fp32 -- so autocast would
    slow training down by more than an order of magnitude."""
    import torch

    from harness.perf.utilisation import cpu_features

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    features = cpu_features()
    return bool(features["avx512_bf16"] or features["amx_tile"])


@dataclass(frozen=True)
class LoraTrainConfig:
    """One LoRA fine-tuning run on the corpus (causal-LM loss on packed sequences)."""

    base: str = "smollm2-135m-instruct"  # model the adapter is trained on (packaged name, folder or hub id)
    rank: int = 8  # LoRA rank r, 1..1024; provisional, to be chosen on the dev split (8 on all projections: ~5 MB in fp16 for SmolLM2)
    lora_alpha: float = 16.0  # LoRA scale numerator (scale = lora_alpha / rank), > 0
    lora_dropout: float = 0.0  # dropout on the LoRA input, 0 <= p < 1; 0 keeps resume bit-exact
    target_modules: tuple[str, ...] = ALL_PROJECTIONS  # module names that get LoRA: every linear projection (facts live in the MLPs too)
    lr: float = 5e-4  # peak AdamW learning rate, 0 < lr <= 1; provisional, to be chosen on the dev split
    weight_decay: float = 0.0  # AdamW decoupled weight decay, >= 0
    schedule: str = "cosine"  # lr schedule after warm-up: cosine | linear | constant
    warmup_steps: int = 8  # optimizer steps of linear warm-up from lr 0 (the peak is reached at this step), >= 0
    epochs: int = 10  # passes over the packed corpus (+ derived data), 1..1000; a ceiling once early stopping is on
    max_steps: int = 0  # stop after this many optimizer steps; 0 = no cap (run all epochs)
    seq_len: int = 256  # tokens per packed sequence, 16..32768
    batch_size: int = 4  # sequences per micro-batch per process, >= 1
    grad_accum: int = 1  # micro-batches per optimizer step, >= 1
    max_grad_norm: float = 1.0  # gradient clipping threshold (L2); 0 = no clipping
    seed: int = 0  # seeds LoRA init and the sequence order
    dtype: str = "float32"  # frozen base weights: float32 | bfloat16 (bf16 halves memory; LoRA stays fp32)
    autocast_bf16: bool = field(default_factory=lambda: bf16_hardware())  # bf16 autocast; default: on only where torch reports bf16 hardware
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, ~30 % slower
    checkpoint_every: int = 20  # optimizer steps between resumable checkpoints; 0 = never
    derived_data: str = "corpus"  # derived Q/A beside the corpus text: none | corpus (adapters/derived.py, on the fly) | a JSONL from `corpus derive`
    derived_format: str = "chat"  # how derived Q/A are rendered: chat (the model's chat template) | plain (Question:/Answer:)
    heldout: str = "benchmarks/raq/heldout"  # folder of held-out domain text (.md/.txt, never trained on) for early stopping; "" = none
    patience: int = 2  # held-out evaluations without a new best before training stops (the best adapter is kept); 0 = never stop early
    eval_every: int = 0  # optimizer steps between held-out evaluations; 0 = at the end of every epoch

    def __post_init__(self) -> None:
        _check_range("rank", self.rank, 1, 1024)
        _check_range("lora_alpha", self.lora_alpha, 1e-9, None, shown="> 0")
        _check_range("lora_dropout", self.lora_dropout, 0.0, 0.999, shown="0 <= p < 1")
        _check_range("lr", self.lr, 1e-12, 1.0, shown="0 < lr <= 1")
        _check_range("weight_decay", self.weight_decay, 0.0, None)
        _check_range("warmup_steps", self.warmup_steps, 0, None)
        _check_range("epochs", self.epochs, 1, 1000)
        _check_range("max_steps", self.max_steps, 0, None)
        _check_range("seq_len", self.seq_len, 16, 32768)
        _check_range("batch_size", self.batch_size, 1, 4096)
        _check_range("grad_accum", self.grad_accum, 1, 4096)
        _check_range("max_grad_norm", self.max_grad_norm, 0.0, None)
        _check_range("checkpoint_every", self.checkpoint_every, 0, None)
        _check_range("patience", self.patience, 0, None)
        _check_range("eval_every", self.eval_every, 0, None)
        if self.patience > 0 and not self.heldout:
            raise ConfigError(f"patience={self.patience}: early stopping needs held-out text; set heldout=FOLDER or patience=0")
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("dtype", self.dtype, WEIGHT_DTYPES)
        _check_choice("derived_format", self.derived_format, DERIVED_FORMATS)
        if not self.derived_data:
            raise ConfigError("derived_data='': use none, corpus or the path of a file written by `python -m harness corpus derive --output FILE`")
        if not self.base:
            raise ConfigError("base='': empty model name; use a packaged name such as smollm2-135m-instruct, a folder or a hub id")
        if not self.target_modules or not all(isinstance(m, str) and m for m in self.target_modules):
            raise ConfigError(f"target_modules={list(self.target_modules)!r}: need at least one module name such as q_proj")

    @property
    def tokens_per_step(self) -> int:
        return self.seq_len * self.batch_size * self.grad_accum


@dataclass(frozen=True)
class KDConfig:
    """Distillation of a LoRA-tuned teacher into the student's LoRA (``train lora-kd``)."""

    teacher: str = "gemma3-270m"  # teacher base model (packaged name, folder or hub id)
    teacher_adapter: str = "adapters/shipped/teacher"  # teacher LoRA folder (relative to the repo); "none" = bare teacher
    alpha: float = 0.5  # weight of the distillation term; (1 - alpha) weighs the CE term, 0..1
    temperature: float = 2.0  # softmax temperature T applied to both distributions, 0 < T <= 20
    top_k: int = 32  # teacher probabilities kept per position in the cache, 1..1024
    path: str = "auto"  # auto | same-vocab (KL) | cross-vocab (aligned ULD); auto compares vocabularies
    teacher_batch_size: int = 2  # sequences per teacher forward pass when filling the cache, >= 1

    def __post_init__(self) -> None:
        _check_range("alpha", self.alpha, 0.0, 1.0)
        _check_range("temperature", self.temperature, 1e-6, 20.0, shown="0 < T <= 20")
        _check_range("top_k", self.top_k, 1, 1024)
        _check_range("teacher_batch_size", self.teacher_batch_size, 1, 4096)
        _check_choice("path", self.path, KD_PATHS)
        if not self.teacher:
            raise ConfigError("teacher='': empty model name; use a packaged name such as gemma3-270m, a folder or a hub id")


TEACHER_DEFAULTS: Mapping[str, Any] = {"base": "gemma3-270m", "batch_size": 2, "grad_accum": 2, "derived_format": "plain"}

#: Fields added after adapters were first shipped, with the value that reproduces how an adapter
#: trained before the field existed was trained (a manifest's config lacks such a field). Fields
#: left out here change nothing when these hold, and take today's default.
LEGACY_VALUES: Mapping[str, Any] = {"derived_data": "none", "heldout": "", "patience": 0}


def _check_range(name: str, value: Any, low: float | None, high: float | None, shown: str | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}={value!r}: expected a number")
    if (low is not None and value < low) or (high is not None and value > high):
        allowed = shown or (f"{low}..{high}" if high is not None else f">= {low}")
        raise ConfigError(f"{name}={value!r} is out of range; allowed {allowed}")


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: not one of {', '.join(choices)}")


def _coerce(cls: type, name: str, value: Any, where: str) -> Any:
    """Convert a TOML / --set value to the declared type of ``cls.name``."""
    declared = {f.name: f.type for f in fields(cls)}[name]
    if declared == "bool":
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"{where}{name}={value!r}: expected true or false")
        return value
    if declared == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}{name}={value!r}: expected an integer")
        return value
    if declared == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}{name}={value!r}: expected a number")
        return float(value)
    if declared.startswith("tuple"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f'{where}{name}={value!r}: expected a list of names such as ["q_proj", "v_proj"]')
        return tuple(str(x).strip() for x in items if str(x).strip())
    if not isinstance(value, str):
        raise ConfigError(f"{where}{name}={value!r}: expected a string")
    return value


def _build(cls: type, table: Mapping[str, Any], where: str, defaults: Mapping[str, Any] | None = None) -> Any:
    allowed = [f.name for f in fields(cls)]
    values: dict[str, Any] = dict(defaults or {})
    for key, raw in table.items():
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"{where}{key}: unknown key; {hint}allowed: {', '.join(allowed)}")
        values[key] = _coerce(cls, key, raw, where)
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """``"rank=16"`` -> ``("rank", 16)``; ``"base=gemma3-270m"`` -> ``("base", "gemma3-270m")``."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. --set rank=16")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


@dataclass(frozen=True)
class TrainSpec:
    """What one ``train`` command runs: the LoRA config and, for ``lora-kd``, the KD config."""

    kind: str
    lora: LoraTrainConfig
    kd: KDConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lora": _plain(asdict(self.lora))}
        if self.kd is not None:
            out["kd"] = _plain(asdict(self.kd))
        return out


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def load_spec(kind: str, path: Path | str | None = None, overrides: Sequence[str] = (), base: TrainSpec | None = None) -> TrainSpec:
    """The :class:`TrainSpec` for ``kind`` from an optional TOML file and ``--set`` overrides.

    Keys that neither sets take today's defaults, or with ``base`` (an adapter's recorded
    config) the values of ``base``: what the file and overrides give, applied to that adapter.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown training kind {kind!r}; use one of {', '.join(KINDS)}")
    data: dict[str, Any] = {}
    where = ""
    if path is not None:
        where = f"{path}: "
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found; pass an existing TOML file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from None
        for table in data:
            if table not in ("lora", "teacher", "kd"):
                raise ConfigError(f"{path}: [{table}]: unknown table; use [lora], [teacher] and [kd]")
            if not isinstance(data[table], dict):
                raise ConfigError(f"{path}: {table}: expected a table such as [{table}]")
    lora_table = "teacher" if kind == "teacher" else "lora"
    lora_values = dict(data.get(lora_table, {}))
    kd_values = dict(data.get("kd", {}))
    lora_names = [f.name for f in fields(LoraTrainConfig)]
    kd_names = [f.name for f in fields(KDConfig)]
    for text in overrides:
        key, value = parse_override(text)
        table, dot, name = key.rpartition(".")
        if dot and table not in (lora_table, "kd"):
            raise ConfigError(f"--set {text!r}: unknown table {table!r} for `train {kind}`; use {lora_table}.FIELD or kd.FIELD")
        if table == lora_table or (not dot and name in lora_names):
            lora_values[name] = value
        elif table == "kd" or name in kd_names:
            if kind != "lora-kd":
                raise ConfigError(f"--set {text!r}: `train {kind}` has no distillation settings (the LoRA scale is lora_alpha); use train lora-kd")
            kd_values[name] = value
        else:
            allowed = lora_names + (kd_names if kind == "lora-kd" else [])
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"--set {text!r}: {name}: unknown key; {hint}allowed: {', '.join(allowed)}")
    defaults = dict(TEACHER_DEFAULTS) if kind == "teacher" else {}
    kd_defaults: dict[str, Any] = {}
    if base is not None:
        defaults = asdict(base.lora)
        kd_defaults = asdict(base.kd) if base.kd is not None else {}
    lora = _build(LoraTrainConfig, lora_values, f"{where}{lora_table}." if where else "", defaults)
    kd = _build(KDConfig, kd_values, f"{where}kd." if where else "", kd_defaults) if kind == "lora-kd" else None
    return TrainSpec(kind=kind, lora=lora, kd=kd)


def spec_from_record(kind: str, record: Mapping[str, Any]) -> TrainSpec:
    """The :class:`TrainSpec` an adapter manifest's ``config`` records. Fields the record
    predates take :data:`LEGACY_VALUES` (else today's default), so an adapter keeps its meaning
    when defaults change. Raises :class:`ConfigError` for a record that no longer validates."""
    today = load_spec(kind)
    lora_values = {k: v for k, v in LEGACY_VALUES.items() if k not in record.get("lora", {})}
    lora_values.update(record.get("lora", {}))
    lora = _build(LoraTrainConfig, lora_values, "lora.", asdict(today.lora))
    kd = _build(KDConfig, dict(record.get("kd", {})), "kd.") if kind == "lora-kd" else None
    return TrainSpec(kind=kind, lora=lora, kd=kd)


def reproducing_overrides(spec: TrainSpec, path: Path | str | None = None, overrides: Sequence[str] = ()) -> tuple[str, ...]:
    """``overrides`` plus ``field=value`` for every field where ``spec`` differs from what the
    config file and ``overrides`` give under today's defaults: ``--set`` values that make
    ``python -m harness train KIND`` rebuild ``spec`` whatever the defaults are now."""
    today = load_spec(spec.kind, path, overrides)
    extra = []
    for table in ("lora", "kd"):
        wanted, current = getattr(spec, table), getattr(today, table)
        if wanted is None or current is None:
            continue
        for f in fields(wanted):
            value = getattr(wanted, f.name)
            if value != getattr(current, f.name):
                extra.append(f"{f.name}={_literal(value)}")
    return (*overrides, *extra)


def _literal(value: Any) -> str:
    """A ``--set`` value that :func:`parse_override` reads back as ``value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return ",".join(value)
    text = str(value)
    return text if parse_override(f"v={text}")[1] == text else json.dumps(text)
