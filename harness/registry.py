"""System registry: every system, built-in or third-party, comes from an installed entry point.

Our own systems are declared in ``pyproject.toml`` under ``[project.entry-points."harness.systems"]``
exactly as a plugin distribution declares its own, so both take one code path. An entry point's
object is a factory ``factory(**options) -> System``; it is imported only when the system is used
(``python -m harness list`` reads descriptions without importing heavy modules when the factory
module keeps its imports lazy).

Names typed on the command line are only ever looked up in this table -- never turned into an
import path.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Iterable

from harness.api.errors import PluginLoadError, UnknownSystemError
from harness.api.system import System

log = logging.getLogger(__name__)

GROUP = "harness.systems"
_NAME = re.compile(r"^[a-z0-9][a-z0-9+._-]*$")


@dataclass(frozen=True)
class SystemEntry:
    name: str  # as users type it: lowercase, hyphens, "+" for combinations ("rag+lora")
    target: str  # "module:attr" of the factory
    distribution: str  # the installed distribution that declares it
    entry_point: metadata.EntryPoint | None = None
    factory: Callable[..., System] | None = None  # set for systems registered in-process

    def load_factory(self) -> Callable[..., System]:
        if self.factory is not None:
            return self.factory
        assert self.entry_point is not None
        try:
            obj = self.entry_point.load()
        except Exception as exc:  # a broken plugin must not take the others down
            raise PluginLoadError(
                f"system '{self.name}' (entry point {self.target} from {self.distribution}) failed to import: "
                f"{type(exc).__name__}: {exc}; fix or uninstall {self.distribution}"
            ) from None
        if not callable(obj):
            raise PluginLoadError(f"system '{self.name}' ({self.target}) is not callable; the entry point must name a factory function or class")
        return obj

    def description(self) -> str:
        """One line: the factory's ``description`` attribute or its docstring's first line."""
        try:
            factory = self.load_factory()
        except PluginLoadError as exc:
            return f"[broken] {exc}"
        text = getattr(factory, "description", None) or (factory.__doc__ or "").strip().splitlines()[0:1]
        if isinstance(text, list):
            text = text[0] if text else ""
        return str(text).strip()


class Registry:
    """Name -> :class:`SystemEntry`. Built from entry points; tests may :meth:`register` extra
    factories in-process (the same checks apply)."""

    def __init__(self, entries: Iterable[SystemEntry] = ()) -> None:
        self._entries: dict[str, SystemEntry] = {}
        for entry in entries:
            self._add(entry)

    @classmethod
    def from_entry_points(cls) -> "Registry":
        registry = cls()
        for ep in metadata.entry_points(group=GROUP):
            dist = ep.dist.name if ep.dist is not None else "?"
            if not _NAME.match(ep.name):
                log.warning("ignoring system entry point %r from %s: names are lowercase letters, digits and - + . _", ep.name, dist)
                continue
            if ep.name in registry._entries:
                other = registry._entries[ep.name]
                if other.distribution == dist and other.target == ep.value:
                    continue  # the same distribution seen twice on sys.path
                log.warning("system %r is declared by both %s and %s; keeping %s", ep.name, other.distribution, dist, other.distribution)
                continue
            registry._entries[ep.name] = SystemEntry(name=ep.name, target=ep.value, distribution=dist, entry_point=ep)
        return registry

    def _add(self, entry: SystemEntry) -> None:
        if not _NAME.match(entry.name):
            raise PluginLoadError(f"invalid system name {entry.name!r}; use lowercase letters, digits and - + . _ (e.g. 'lora-kd')")
        if entry.name in self._entries:
            raise PluginLoadError(f"system {entry.name!r} is already registered by {self._entries[entry.name].distribution}; pick another name")
        self._entries[entry.name] = entry

    def register(self, name: str, factory: Callable[..., System], distribution: str = "<in-process>") -> None:
        self._add(
            SystemEntry(name=name, target=f"{factory.__module__}:{getattr(factory, '__qualname__', factory)}", distribution=distribution, factory=factory)
        )

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[SystemEntry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> SystemEntry:
        if name not in self._entries:
            raise UnknownSystemError(unknown_message(name, self.names()))
        return self._entries[name]

    def create(self, name: str, **options: Any) -> System:
        factory = self.get(name).load_factory()
        try:
            system = factory(**options)
        except TypeError as exc:
            raise PluginLoadError(f"system '{name}': bad options {sorted(options)}: {exc}") from None
        if not isinstance(system, System):
            raise PluginLoadError(f"system '{name}': factory returned {type(system).__name__}, which lacks name/fingerprint/generate")
        return system

    def resolve(self, spec: str) -> list[str]:
        """``all`` or a comma list -> validated names (order kept, duplicates dropped). ``all``
        means every system whose plugin imports, minus those that need options to work (a factory
        with ``include_in_all = False``)."""
        if spec.strip() == "all":
            selected = []
            for entry in self.entries():
                try:
                    factory = entry.load_factory()
                except PluginLoadError as exc:
                    log.warning("%s", exc)
                    continue
                if getattr(factory, "include_in_all", True):
                    selected.append(entry.name)
            return selected
        names: list[str] = []
        for raw in spec.split(","):
            name = raw.strip()
            if not name:
                continue
            self.get(name).load_factory()  # a named plugin that cannot import fails before any work starts
            if name not in names:
                names.append(name)
        if not names:
            raise UnknownSystemError(f"no system named in {spec!r}; pass --systems all or a comma list such as vanilla,rag")
        return names


def unknown_message(name: str, available: list[str]) -> str:
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.6)
    if not close:  # "lorakd" vs "lora-kd": compare with punctuation removed too
        squashed = {re.sub(r"[^a-z0-9]", "", a): a for a in available}
        hit = difflib.get_close_matches(re.sub(r"[^a-z0-9]", "", name.lower()), list(squashed), n=1, cutoff=0.75)
        close = [squashed[h] for h in hit]
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown system '{name}'.{hint} Available: {', '.join(available) or '(none installed)'}"
