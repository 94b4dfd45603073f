from __future__ import annotations

from pathlib import Path

import pytest

from harness.api.errors import PluginLoadError, UnknownSystemError
from harness.registry import Registry, unknown_message


def test_builtin_systems_come_from_our_own_entry_points() -> None:
    registry = Registry.from_entry_points()
    entry = registry.get("vanilla")
    assert entry.distribution == "raq-harness"
    assert entry.target == "harness.systems.composition:vanilla"


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [("lorakd", "lora-kd"), ("vanila", "vanilla"), ("rag-orcle", "rag-oracle"), ("ragoracle", "rag-oracle")],
)
def test_unknown_name_suggests_the_closest(typed: str, suggestion: str) -> None:
    message = unknown_message(typed, ["lora", "lora-kd", "rag", "rag-oracle", "teacher", "vanilla"])
    assert message.startswith(f"Unknown system '{typed}'. Did you mean '{suggestion}'? Available: ")


def test_unknown_name_without_close_match_lists_available() -> None:
    assert unknown_message("zzz", ["rag", "vanilla"]) == "Unknown system 'zzz'. Available: rag, vanilla"


def test_third_party_distribution_adds_a_system(plugin_path: Path) -> None:
    registry = Registry.from_entry_points()
    entry = registry.get("echo")
    assert entry.distribution == "fake-harness-plugin"
    system = registry.create("echo")
    assert system.name == "echo"
    assert "vanilla" in registry  # ours still there


def test_broken_plugin_is_reported_by_name_and_others_keep_working(plugin_path: Path) -> None:
    registry = Registry.from_entry_points()
    with pytest.raises(PluginLoadError, match=r"system 'broken' .*fake_broken_plugin:make.*fake-harness-plugin.*RuntimeError"):
        registry.create("broken")
    assert "[broken]" in registry.get("broken").description()
    assert registry.create("echo").name == "echo"
    assert "broken" not in registry.resolve("all")
    assert "echo" in registry.resolve("all")


def test_resolve_comma_list_keeps_order_and_drops_duplicates(plugin_path: Path) -> None:
    registry = Registry.from_entry_points()
    assert registry.resolve("echo, vanilla,echo") == ["echo", "vanilla"]
    with pytest.raises(UnknownSystemError, match="Did you mean 'echo'"):
        registry.resolve("echo,ecoh")


def test_register_rejects_duplicates_and_bad_names() -> None:
    registry = Registry()
    registry.register("mine", lambda **_: None)
    with pytest.raises(PluginLoadError, match="already registered"):
        registry.register("mine", lambda **_: None)
    with pytest.raises(PluginLoadError, match="invalid system name"):
        registry.register("Bad Name", lambda **_: None)


def test_factory_returning_a_non_system_is_rejected() -> None:
    registry = Registry()
    registry.register("odd", lambda **_: object())
    with pytest.raises(PluginLoadError, match="lacks name/fingerprint/generate"):
        registry.create("odd")
