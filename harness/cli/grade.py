"""``python -m harness grade FILE.jsonl``: grade precomputed answers, no model involved.

    python -m harness grade answers.jsonl > grades.jsonl
    some-producer | python -m harness grade - > grades.jsonl

Each input line is a benchmark item (the ``items.jsonl`` schema) plus ``"response": "<text>"``.
Each output line is ``{"id", "correct", "refused", "value_correct", "unit_correct", "extracted"}``
(``correct`` is null for items without an answer key; ``value_correct``/``unit_correct`` are null
for non-numeric items). This contract is public interface. Any malformed line -> every problem is
printed to stderr as ``FILE:LINE: problem`` and the command exits 2 without grading.
Tolerance defaults come from ``--config`` (default: ``benchmark.toml`` beside FILE, else the RAQ
benchmark's).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grade",
        help="grade precomputed answers (JSONL of item + response)",
        description="Grade precomputed answers without any model. Each line: a benchmark item plus a 'response' string.",
    )
    p.add_argument("file", type=Path, help="JSONL: one benchmark item with a 'response' field per line ('-' reads standard input)")
    p.add_argument(
        "--config", type=Path, default=None, help="benchmark.toml with default_rel_tol/default_min_fraction (default: beside FILE, else the RAQ benchmark's)"
    )
    p.set_defaults(func=handle)


def parse_lines(path: Path, categories: Sequence[str] | None = None) -> tuple[list[tuple[Any, str]], list[str]]:
    """``[(item, response)]`` and problems as ``FILE:LINE: problem``; ``categories`` are the
    benchmark's declared names (None = any)."""
    from harness.api.errors import DataError
    from harness.benchmark import parse_checked_item
    from harness.jsonl import numbered_lines, parse_json_line

    rows: list[tuple[Any, str]] = []
    problems: list[str] = []
    for number, line in numbered_lines(path, missing="pass a JSONL file of items with a 'response' field"):
        where = f"{path}:{number}"
        try:
            obj = parse_json_line(line, where)
            if not isinstance(obj, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            if "response" not in obj:
                raise DataError(f'{where}: response: missing; add the answer text as "response": "..."')
            response = obj.pop("response")
            if not isinstance(response, str):
                raise DataError(f"{where}: response: expected a string, got {type(response).__name__}")
            rows.append((parse_checked_item(obj, where, categories=categories), response))
        except DataError as exc:
            problems.append(str(exc))
    return rows, problems


def _benchmark_config(args: argparse.Namespace) -> Any:
    """The benchmark.toml the answers are graded under: --config, else beside FILE, else RAQ's."""
    from harness.benchmark import DEFAULT_BENCHMARK, load_config

    toml = args.config or (args.file.parent / "benchmark.toml")
    if not toml.exists():
        toml = DEFAULT_BENCHMARK.parent / "benchmark.toml"
    return load_config(toml)


def handle(args: argparse.Namespace) -> int:
    from harness.api.errors import DataError
    from harness.scoring.grade import GradeConfig, grade
    from harness.scoring.gradebook import prefetch

    if args.config is not None and not args.config.exists():
        raise DataError(f"{args.config}: --config file not found; pass a benchmark.toml")
    benchmark_config = _benchmark_config(args)
    rows, problems = parse_lines(args.file, tuple(benchmark_config.categories) or None)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    config = GradeConfig.from_benchmark(benchmark_config)
    prefetch(rows, config)
    out = sys.stdout
    for item, response in rows:
        out.write(json.dumps(grade(item, response, config).public(item.id), ensure_ascii=False) + "\n")
    out.flush()
    return 0
