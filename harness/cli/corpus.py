"""``python -m harness corpus stats``: documents, words, sections and SmolLM2 tokens."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corpus", help="corpus statistics", description="Inspect the domain corpus.")
    csub = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    stats = csub.add_parser("stats", help="documents, words, sections and tokens per topic")
    stats.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: benchmarks/corpus)")
    stats.add_argument("--no-tokens", action="store_true", help="skip tokenisation (no model needed)")
    stats.set_defaults(func=handle_stats)


def handle_stats(args: argparse.Namespace) -> int:
    from collections import defaultdict

    from harness.benchmark import DEFAULT_CORPUS
    from harness.corpus import load_corpus

    corpus = load_corpus(args.corpus or DEFAULT_CORPUS)
    tokenizer = None
    if not args.no_tokens:
        from harness.models.loading import load_tokenizer
        from harness.models.sources import DEFAULT_STUDENT, resolve

        tokenizer = load_tokenizer(resolve(DEFAULT_STUDENT))
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for doc in corpus.documents:
        row = rows[doc.meta.get("topic", "?")]
        row[0] += 1
        row[1] += doc.words
        row[2] += len(doc.sections)
        if tokenizer is not None:
            row[3] += len(tokenizer(doc.body, add_special_tokens=False)["input_ids"])
    print(f"{'topic':<16}{'docs':>6}{'words':>9}{'sections':>10}{'tokens':>10}")
    for topic in sorted(rows):
        d, w, s, t = rows[topic]
        print(f"{topic:<16}{d:>6}{w:>9}{s:>10}{(t if tokenizer else '-'):>10}")
    total = [sum(r[i] for r in rows.values()) for i in range(4)]
    print(f"{'total':<16}{total[0]:>6}{total[1]:>9}{total[2]:>10}{(total[3] if tokenizer else '-'):>10}")
    return 0
