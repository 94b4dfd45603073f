"""Systems defined in TOML: options for installed systems, variants of them, and new compositions.

    [systems.vanilla]            # options for an installed system
    batch_size = 8

    [systems.rag+teacher]        # a new composition (it names a model source): no code
    model = "gemma3-270m"
    adapter = "adapters/shipped/teacher"
    prompt = "plain"
    retriever = { k = 4 }

    [systems.llama2-vllm]        # a variant: 'base' names the installed system it builds on
    base = "openai"
    base_url = "http://127.0.0.1:8000/v1"
    model = "meta-llama/Llama-2-7b-chat-hf"

Names with "+" may stay bare in a table header (``[systems.rag+teacher]``); they are quoted
before parsing, since TOML itself allows only letters, digits, "-" and "_" there. A
composition's keys are :class:`~harness.systems.composition.SystemSpec` fields and are checked
here, with the file and field in any error; a variant of a composition merges its keys over the
base's. Other systems' keys are passed to their factory as keyword arguments.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from harness.api.errors import ConfigError
from harness.registry import Registry
from harness.systems.composition import check, declare, describe, merge

_PLUS_HEADER = re.compile(r"^(\s*\[\s*systems\.)([a-z0-9][a-z0-9_-]*\+[a-z0-9+_-]*)(\s*\])", re.MULTILINE)
NEW_SYSTEM_KEYS = ("model", "endpoint")  # a table for a name not installed declares a composition when it names its model source


def load_system_config(path: Path | None, registry: Registry | None = None) -> tuple[Registry, dict[str, dict[str, Any]]]:
    registry = registry or Registry.from_entry_points()
    options: dict[str, dict[str, Any]] = {}
    if path is None:
        return registry, options
    path = Path(path)
    try:
        data = tomllib.loads(quote_plus_names(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: system config not found; pass an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from None
    unknown = sorted(set(data) - {"systems"})
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown top-level key; put systems under [systems.NAME]")
    for name, table in (data.get("systems") or {}).items():
        where = f"{path}:systems.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table of options")
        table = dict(table)
        base = table.pop("base", None)
        if base is None and name in registry:
            factory = registry.get(name).load_factory()
            if hasattr(factory, "composition"):
                check(factory, table, where)
            options[name] = table
            continue
        if name in registry:
            raise ConfigError(f"{where}: name already taken by an installed system; pick another name")
        if base is None:
            if not any(key in table for key in NEW_SYSTEM_KEYS):
                registry.get(name)  # not installed and no model source: most likely a typo (suggests the name)
            factory = declare(name, f"{describe(table)} (defined in {path.name})", origin=str(path), **table)
            check(factory, {}, where)
            registry.register(name, factory, distribution=path.name)
            options[name] = {}
            continue
        base_factory = registry.get(str(base)).load_factory()
        composition = getattr(base_factory, "composition", None)
        if composition is not None:
            factory = declare(
                name, f"{getattr(base_factory, 'description', base)} (defined in {path.name} on base {base})", origin=str(path), **merge(composition, table)
            )
            check(factory, {}, where)
            registry.register(name, factory, distribution=f"{path.name} (base {base})")
            options[name] = {}
        else:
            registry.register(name, _named(base_factory, name), distribution=f"{path.name} (base {base})")
            options[name] = table
    return registry, options


def quote_plus_names(text: str) -> str:
    """``[systems.rag+teacher]`` -> ``[systems."rag+teacher"]``: "+" joins parts in our system
    names but is not allowed in a bare TOML key, so such headers are quoted before parsing."""
    return _PLUS_HEADER.sub(r'\1"\2"\3', text)


def _named(factory: Any, name: str) -> Any:
    def make(**options: Any) -> Any:
        options.setdefault("name", name)
        return factory(**options)

    make.description = getattr(factory, "description", "") + f" (defined in TOML as {name})"  # type: ignore[attr-defined]
    make.include_in_all = True  # type: ignore[attr-defined]
    return make
