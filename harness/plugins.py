"""Entry-point lookup for the plugin groups besides systems: parts (``harness.adapters``,
``harness.retrievers``) and benchmark rows (``harness.bench``).

    python -m harness list            # systems; parts are named in a system's TOML table

The core finds every plugin here, by group and name, and never imports a plugin package itself:
our own ``adapters`` and ``retrieval_index`` register through ``pyproject.toml`` exactly like a
third party. Names are only looked up, never turned into import paths.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from harness.api.errors import ConfigError, PluginLoadError
from harness.registry import unknown_message


def names(group: str) -> list[str]:
    """Installed entry-point names of ``group``, sorted."""
    return sorted({ep.name for ep in metadata.entry_points(group=group)})


def load(group: str, name: str) -> Any:
    """The object entry point ``name`` of ``group`` names (ConfigError when none is installed,
    PluginLoadError when it fails to import)."""
    found = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    if not found:
        message = unknown_message(name, names(group)).replace("Unknown system", f"Unknown {group} plugin")
        raise ConfigError(f"{message}; install the package that provides it")
    ep = found[0]
    dist = ep.dist.name if ep.dist is not None else "?"
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin is reported by name, like a broken system
        raise PluginLoadError(
            f"{group} plugin '{name}' ({ep.value} from {dist}) failed to import: {type(exc).__name__}: {exc}; fix or uninstall {dist}"
        ) from None
