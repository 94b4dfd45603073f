"""Entry point of ``python -m harness``. Each sub-command lives in its own module exposing
``add_parser(subparsers)``; heavy libraries are imported inside the command handlers, so
``python -m harness --help`` stays instant."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from harness import __version__
from harness.api.errors import HarnessError

#: Sub-command modules under harness.cli, in --help order.
COMMANDS = (
    "run",
    "merge",
    "bench",
    "listing",
    "validate",
    "corpus",
    "index",
    "train",
    "grade",
    "report",
    "compare",
    "export",
    "calibrate",
    "rate",
    "preferences",
    "judge",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness", description="Evaluate vanilla, LoRA, LoRA-KD and RAG systems on the RAQ microelectronics benchmark."
    )
    parser.add_argument("--version", action="version", version=f"raq-harness {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log INFO (-v) or DEBUG (-vv) messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"harness.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; completed answers are kept (rerun the same command to resume)", file=sys.stderr)
        return 130
