"""Systems defined in TOML: options for installed systems and new named variants.

    [systems.vanilla]            # options for an installed system
    batch_size = 8

    [systems.llama2-vllm]        # a new name: 'base' names the installed system it builds on
    base = "openai"
    base_url = "http://127.0.0.1:8000/v1"
    model = "meta-llama/Llama-2-7b-chat-hf"

Keys other than ``base`` are passed to the system's factory as keyword arguments.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from harness.api.errors import ConfigError
from harness.registry import Registry


def load_system_config(path: Path | None, registry: Registry | None = None) -> tuple[Registry, dict[str, dict[str, Any]]]:
    registry = registry or Registry.from_entry_points()
    options: dict[str, dict[str, Any]] = {}
    if path is None:
        return registry, options
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: system config not found; pass an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from None
    unknown = sorted(set(data) - {"systems"})
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown top-level key; put systems under [systems.NAME]")
    for name, table in (data.get("systems") or {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: systems.{name}: expected a table of options")
        table = dict(table)
        base = table.pop("base", None)
        if base is None:
            registry.get(name)  # must already exist: raises Unknown system with suggestions
        else:
            entry = registry.get(str(base))
            if name in registry:
                raise ConfigError(f"{path}: systems.{name}: name already taken by an installed system; pick another name")
            factory = entry.load_factory()
            registry.register(name, _named(factory, name), distribution=f"{path.name} (base {base})")
        options[name] = table
    return registry, options


def _named(factory: Any, name: str) -> Any:
    def make(**options: Any) -> Any:
        options.setdefault("name", name)
        return factory(**options)

    make.description = getattr(factory, "description", "") + f" (defined in TOML as {name})"  # type: ignore[attr-defined]
    make.include_in_all = True  # type: ignore[attr-defined]
    return make
