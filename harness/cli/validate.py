"""``python -m harness validate FILE``: check a benchmark file and list every bad line.

Problems fail the check (exit 2). Warnings do not: a text item whose accepted variant occurs in
its own question (the text grader does not credit words echoed from the question, so such a
variant can only count where the answer uses it in its own words).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "validate",
        help="validate a benchmark JSONL file",
        description=(
            "Check every line of a benchmark file: schema, unique ids, units, multiple-choice options "
            "(the key grades correct, no distractor does) and (with a corpus) gold passages; numeric solutions are recomputed."
        ),
    )
    parser.add_argument("file", type=Path, help="items JSONL file, or a benchmark folder (its items.jsonl)")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="corpus folder to resolve gold_passages against (default: the bundled corpus when validating a bundled benchmark)",
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.api.errors import ConfigError
    from harness.benchmark import BENCHMARKS_DIR, DEFAULT_CORPUS, items_file, load_config, read_items, validate_choices, validate_solutions

    path = items_file(args.file)
    if not path.is_file():
        raise ConfigError(f"{path}: no such benchmark file; pass an items JSONL file or a folder holding items.jsonl")
    config = load_config(path.parent / "benchmark.toml")
    items, problems = read_items(path, categories=tuple(config.categories) or None)
    problems += validate_solutions(items, path, config.default_rel_tol)
    problems += validate_choices(items, path, config.default_rel_tol, config.generation_pattern)
    corpus_dir = args.corpus
    if corpus_dir is None and path.resolve().is_relative_to(BENCHMARKS_DIR.resolve()) and DEFAULT_CORPUS.is_dir():
        corpus_dir = DEFAULT_CORPUS
    if corpus_dir is not None:
        from harness.corpus import load_corpus

        anchors = load_corpus(corpus_dir).anchors
        for item in items:
            for anchor in item.gold_passages:
                if anchor not in anchors:
                    problems.append(f"{path}: {item.id}: gold_passages: {anchor!r} is not a section of {corpus_dir}; use doc-path#heading-slug")
    if not items and not problems:
        problems.append(f"{path}: benchmark is empty; add at least one item")
    for warning in echo_warnings(items, path):
        print(warning)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {path}")
        return 2
    print(f"{path}: {len(items)} items OK")
    return 0


def echo_warnings(items: Sequence[Any], path: Path) -> list[str]:
    """``warning:`` lines for text items whose accepted variants occur in the question itself."""
    from harness.scoring.text import find_variant

    out = []
    for item in items:
        if item.answer.type != "text":
            continue
        for variant in item.answer.accept:
            if find_variant(item.question, variant) is not None:
                out.append(
                    f"warning: {path}: {item.id}: answer.accept: {variant!r} occurs in the question; "
                    "an answer that only echoes the question is not credited, so reword the question or the variant"
                )
    return out
