"""A system is a composition: model source + optional adapter + optional retriever + prompt
format + decoding settings. Built-in systems are declared as data with :func:`declare` (``vanilla``
below; the plugins declare theirs beside their parts) and registered through the
``harness.systems`` entry points; a TOML table declares a new one with no code.

    python -m harness run --system-config rag-teacher.toml --systems rag+teacher --limit 2

    # rag-teacher.toml
    [systems.rag+teacher]
    model = "gemma3-270m"                  # packaged name, local folder or hub id
    adapter = "adapters/shipped/teacher"   # PEFT folder + manifest.json, checked before use
    prompt = "plain"                       # chat (default) | plain (Question/Answer transcript)
    retriever = { k = 4 }                  # top-k passages before the question

Keys (unknown keys are errors) are the fields of :class:`SystemSpec`. ``adapter`` is a folder or a
table ``{path, kind, plugin}``; ``retriever`` is a table of the retriever plugin's options (the
default plugin ``faiss``: ``k``, ``record_k``, ``oracle``, ``docs``, ``index``...); ``endpoint`` is a
served model instead of local weights: a base URL or a table of the ``openai`` system's options,
with ``model`` the name the server knows. Parts come from entry points
(:mod:`harness.plugins`), so the core imports no plugin package.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping

from harness.api.errors import ConfigError, HarnessError
from harness.api.parts import ADAPTER_GROUP, DEFAULT_ADAPTER, DEFAULT_RETRIEVER, RETRIEVER_GROUP
from harness.models.prompt_format import PROMPT_FORMATS

DTYPES = ("auto", "float32", "bfloat16", "float16")
TABLES = ("adapter", "retriever", "endpoint")  # keys whose TOML tables merge key by key over a base system's


@dataclass(frozen=True)
class SystemSpec:
    """What a composed system is made of; every field is a TOML key of ``[systems.NAME]``."""

    model: str | None = None  # packaged name, local folder or hub id (the served name with endpoint); None = the adapter's base, else smollm2-135m-instruct
    endpoint: Mapping[str, Any] | None = None  # OpenAI-compatible server options (base_url, concurrency...); None = local weights
    adapter: Mapping[str, Any] | None = None  # {path, kind (expected training method), plugin (default peft)}; None = bare model
    retriever: Mapping[str, Any] | None = None  # retriever plugin options ({} = its defaults); None = no retrieval
    prompt: str = "chat"  # chat: the model's chat template; plain: Question/Answer transcript stopping at the next turn
    temperature: float | None = None  # None = what the run asks (greedy); > 0 samples with the run's seed
    dtype: str = "auto"  # weights dtype: auto (fp32 on CPU, bf16 on CUDA), float32, bfloat16, float16
    device: str = "auto"  # auto, cpu or cuda[:N]
    batch_size: int | None = None  # rows decoded together; None = automatic from kv_cache_mb
    autocast_bf16: bool = False  # bf16 autocast on CPU (faster on AVX-512-BF16/AMX; text can change)
    kv_cache_mb: int = 1024  # MiB the KV cache of all rows may take (automatic batch size)
    continuous: bool = True  # continuous batching for greedy requests
    loop_stop: bool = True  # end a greedy answer once it repeats itself (finish_reason "loop"); local weights only, run --no-loop-stop turns it off
    quantize: str | None = None  # "int8": dynamic int8 linear layers after the adapter is merged (CPU only; text can change); None = as loaded
    trust_remote_code: bool = False  # run a hub model's own Python code (off: safetensors + known architectures only)
    train_missing: bool = False  # train a missing or stale adapter instead of refusing it
    where: str = field(default="systems.?", compare=False)  # "FILE:systems.NAME" for messages

    def __post_init__(self) -> None:
        if self.prompt not in PROMPT_FORMATS:
            raise ConfigError(f"{self.where}.prompt: {self.prompt!r} is not a prompt format; use one of {', '.join(PROMPT_FORMATS)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"{self.where}.dtype: {self.dtype!r} is not a dtype; use one of {', '.join(DTYPES)}")
        from harness.models.loading import QUANTIZATIONS

        if self.quantize not in QUANTIZATIONS:
            allowed = ", ".join(repr(q) for q in QUANTIZATIONS if q is not None)
            raise ConfigError(f"{self.where}.quantize: {self.quantize!r} is not supported; use one of {allowed} or leave it unset")
        if self.endpoint is not None and self.quantize is not None:
            raise ConfigError(f"{self.where}.quantize: a served model is quantised by its server; drop quantize")
        if self.temperature is not None and not 0 <= self.temperature <= 5:
            raise ConfigError(f"{self.where}.temperature: {self.temperature} is out of range; use 0..5 (0 = greedy)")
        if self.endpoint is not None and self.adapter is not None:
            raise ConfigError(
                f"{self.where}.adapter: a served model cannot take a local adapter; serve it with the adapter (vLLM --lora-modules) and drop adapter"
            )
        if self.endpoint is not None and not self.model:
            raise ConfigError(f"{self.where}.model: missing; with endpoint, model is the name the server serves")
        if self.adapter is not None and not self.adapter.get("path"):
            raise ConfigError(f'{self.where}.adapter.path: missing; give the adapter folder (adapter = "adapters/shipped/lora")')

    @classmethod
    def from_options(cls, options: Mapping[str, Any], where: str) -> SystemSpec:
        """Validate a TOML table (or factory keyword arguments) into a spec."""
        known = {f.name for f in fields(cls)} - {"where"}
        for key, value in options.items():
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                nested = (
                    " (retriever options go in retriever = { k = 4, ... })"
                    if options.get("retriever") is not None or key in {"k", "record_k", "docs", "index"}
                    else ""
                )
                raise ConfigError(f"{where}.{key}: unknown key{nested}; {hint}allowed: {', '.join(sorted(known))}")
            wrong_type = value is not None and not isinstance(value, _TYPES[key])
            if wrong_type or (isinstance(value, bool) and key in {"batch_size", "kv_cache_mb", "temperature"}):
                raise ConfigError(f"{where}.{key}: {value!r} has the wrong type; expected {_TYPE_NAMES[key]}")
        table: dict[str, Any] = {k: _as_table(k, v) if k in TABLES else v for k, v in options.items()}
        return cls(**table, where=where)


_TYPES: dict[str, Any] = {
    "model": str,
    "prompt": str,
    "dtype": str,
    "device": str,
    "endpoint": (str, dict),
    "adapter": (str, dict),
    "retriever": (dict, bool),
    "temperature": (int, float),
    "batch_size": int,
    "kv_cache_mb": int,
    "autocast_bf16": bool,
    "continuous": bool,
    "loop_stop": bool,
    "quantize": str,
    "trust_remote_code": bool,
    "train_missing": bool,
}
_TYPE_NAMES = {
    k: " or ".join(t.__name__.replace("dict", "table").replace("str", "string") for t in (v if isinstance(v, tuple) else (v,))) for k, v in _TYPES.items()
}


def _as_table(key: str, value: Any) -> dict[str, Any] | None:
    """``adapter = "DIR"`` -> ``{path = "DIR"}``, ``endpoint = "URL"`` -> ``{base_url = "URL"}``,
    ``retriever = true`` -> ``{}``; ``false`` drops the part."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, str):
        return {"path": value} if key == "adapter" else {"base_url": value}
    return dict(value)


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``; adapter/retriever/endpoint tables merge key by key."""
    out = dict(base)
    for key, value in over.items():
        if key in TABLES and isinstance(out.get(key), Mapping) and (isinstance(value, Mapping) or key != "retriever" and isinstance(value, str)):
            out[key] = {**out[key], **(_as_table(key, value) or {})}
        else:
            out[key] = value
    return out


def _part(group: str, default: str, options: Mapping[str, Any], where: str) -> Any:
    from harness import plugins

    options = dict(options)
    plugin = str(options.pop("plugin", default))
    try:
        factory = plugins.load(group, plugin)
    except HarnessError as exc:
        raise type(exc)(f"{where}.plugin: {exc}") from None
    try:
        return factory(**options)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}; check the option names") from None


def compose(name: str, spec: SystemSpec) -> Any:
    """Build the :class:`~harness.systems.composed.ComposedSystem` ``spec`` describes (cheap:
    nothing is loaded, checked or converted until the fingerprint or the first request)."""
    from harness.models.generation import GenerationSettings
    from harness.models.sources import DEFAULT_STUDENT
    from harness.systems.composed import ComposedSystem

    retriever = _part(RETRIEVER_GROUP, DEFAULT_RETRIEVER, spec.retriever, f"{spec.where}.retriever") if spec.retriever is not None else None
    if spec.endpoint is not None:
        from harness.systems.openai_system import OpenAIConfig, OpenAISystem

        try:
            config = OpenAIConfig.from_options({**spec.endpoint, "model": spec.model})
        except ConfigError as exc:
            raise ConfigError(f"{spec.where}.endpoint: {exc}") from None
        return ComposedSystem(name, spec, OpenAISystem(name, config), retriever=retriever)
    from harness.systems.local_model import LocalModel

    adapter_options = {**spec.adapter, "train_missing": spec.train_missing} if spec.adapter is not None else None
    adapter = _part(ADAPTER_GROUP, DEFAULT_ADAPTER, adapter_options, f"{spec.where}.adapter") if adapter_options is not None else None
    model = spec.model or (adapter.base_model if adapter is not None else None) or DEFAULT_STUDENT
    try:
        settings = GenerationSettings(
            batch_size=spec.batch_size, autocast_bf16=spec.autocast_bf16, kv_cache_mb=spec.kv_cache_mb, continuous=spec.continuous, loop_stop=spec.loop_stop
        )
    except ConfigError as exc:
        raise ConfigError(f"{spec.where}.{exc}") from None
    source = LocalModel(
        model, dtype=spec.dtype, device=spec.device, settings=settings, trust_remote_code=spec.trust_remote_code, adapter=adapter, quantize=spec.quantize
    )
    return ComposedSystem(name, spec, source, adapter=adapter, retriever=retriever)


def declare(name: str, description: str, origin: str | None = None, **table: Any) -> Callable[..., Any]:
    """A system factory for the composition ``table`` (TOML keys): ``factory(**options)`` builds
    it with ``options`` merged over ``table``. ``origin`` is the TOML file that declared it."""
    where = f"{origin}:systems.{name}" if origin else f"systems.{name}"
    SystemSpec.from_options(table, where)  # a bad declaration fails when it is made

    def factory(**options: Any) -> Any:
        system_name = str(options.pop("name", name))
        return compose(system_name, SystemSpec.from_options(merge(table, options), where))

    factory.__doc__ = description
    factory.description = description  # type: ignore[attr-defined]
    factory.composition = dict(table)  # type: ignore[attr-defined]  # what a TOML `base = NAME` builds on
    factory.where = where  # type: ignore[attr-defined]
    factory.accepts_train_missing = "adapter" in table  # type: ignore[attr-defined]
    factory.accepts_loop_stop = True  # type: ignore[attr-defined]  # run --no-loop-stop sets loop_stop = false
    factory.include_in_all = True  # type: ignore[attr-defined]
    return factory


def check(factory: Callable[..., Any], options: Mapping[str, Any], where: str) -> None:
    """Validate ``options`` for a composed system now, naming ``where`` (FILE:systems.NAME) in
    any error: keys, values and the parts' own options. Nothing is loaded."""
    compose("check", SystemSpec.from_options(merge(factory.composition, options), where))  # type: ignore[attr-defined]


def describe(table: Mapping[str, Any]) -> str:
    """One line for ``python -m harness list``: the parts of a composition."""
    parts = [str(table.get("model") or "the adapter's base model")]
    if table.get("endpoint"):
        parts[0] += " (served)"
    adapter = _as_table("adapter", table.get("adapter"))
    if adapter:
        parts.append(f"adapter {adapter.get('path')}")
    retriever = _as_table("retriever", table.get("retriever"))
    if retriever is not None:
        parts.append("retriever " + (", ".join(f"{k}={v}" for k, v in retriever.items()) or "(defaults)"))
    parts.append(f"{table.get('prompt', 'chat')} prompt")
    return " + ".join(parts)


vanilla = declare("vanilla", "SmolLM2-135M-Instruct as shipped, chat template, greedy", model="smollm2-135m-instruct")
