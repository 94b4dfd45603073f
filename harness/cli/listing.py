"""``python -m harness list``: every installed system with its description and provider."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("list", help="list installed systems", description="List every system provided through the harness.systems entry-point group.")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    registry = Registry.from_entry_points()
    entries = registry.entries()
    if not entries:
        print("no systems installed; pip install -e . registers the built-in ones")
        return 1
    width = max(len(e.name) for e in entries)
    for entry in entries:
        print(f"{entry.name:<{width}}  {entry.description()}  [{entry.distribution}]")
    return 0
