"""``python -m harness corpus stats|contamination|derive``: the corpus's size, its n-gram overlap
with the benchmark questions (corpus and derived training data), and the derived training data."""

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
    cont = csub.add_parser("contamination", help="n-gram overlap between benchmark questions and the training data (corpus and derived)")
    cont.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: benchmarks/corpus)")
    cont.add_argument("--benchmark", type=Path, action="append", default=None, help="items JSONL (repeatable; default: the RAQ test and dev splits)")
    cont.add_argument("--n", type=int, default=8, help="n-gram length in words (default 8)")
    cont.add_argument("--derived", type=Path, default=None, help="derived-examples JSONL to check (default: derive them from the corpus, as training does)")
    cont.set_defaults(func=handle_contamination)
    derive = csub.add_parser("derive", help="question/answer training data derived from the corpus (counts per kind; --output writes them)")
    derive.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: benchmarks/corpus)")
    derive.add_argument("--output", type=Path, default=None, help="write the examples here as JSONL (a header line, then one example a line)")
    derive.add_argument("--seed", type=int, default=0, help="picks each fact's question templates (default 0)")
    derive.add_argument("--variants", type=int, default=None, help="question forms per fact (default 3)")
    derive.set_defaults(func=handle_derive)


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


def handle_contamination(args: argparse.Namespace) -> int:
    from adapters.derived import DERIVED_VERSION, counts, derive_corpus, read_derived
    from harness.benchmark import BENCHMARKS_DIR, DEFAULT_CORPUS, load_benchmark
    from harness.contamination import question_overlaps
    from harness.corpus import load_corpus

    root = args.corpus or DEFAULT_CORPUS
    corpus = load_corpus(root)
    if args.derived is not None:
        examples = read_derived(args.derived)[1]
        origin = str(args.derived)
    else:
        examples = derive_corpus(root)
        origin = f"derived from {root} by adapters/derived.py v{DERIVED_VERSION}, seed 0"
    kinds = ", ".join(f"{kind} {n}" for kind, n in counts(examples).items())
    print(f"derived data ({origin}): {len(examples)} examples ({kinds})")
    sources = {"corpus": [d.body for d in corpus.documents], "derived data": [f"{e.question}\n{e.answer}" for e in examples]}
    paths = args.benchmark or [BENCHMARKS_DIR / "raq" / "items.jsonl", BENCHMARKS_DIR / "raq" / "dev.jsonl"]
    for path in paths:
        items = load_benchmark(path).items
        for name, documents in sources.items():
            overlaps = question_overlaps(((it.id, it.question) for it in items), documents, n=args.n)
            hit = [o for o in overlaps if o.shared]
            mean = sum(o.fraction for o in overlaps) / len(overlaps)
            print(
                f"{path}: {len(items)} questions, {len(hit)} share a {args.n}-gram with the {name}, "
                f"mean overlap {mean:.4f}, max {max(o.fraction for o in overlaps):.4f}"
            )
            for o in sorted(hit, key=lambda o: -o.fraction)[:10]:
                print(f"  {o.id}: {o.fraction:.3f} ({o.shared} shared {args.n}-grams)")
    return 0


def handle_derive(args: argparse.Namespace) -> int:
    from adapters.derived import VARIANTS, corpus_documents, counts, derive, write_derived
    from harness.api.errors import ConfigError
    from harness.benchmark import DEFAULT_CORPUS
    from harness.corpus import content_hash

    variants = VARIANTS if args.variants is None else args.variants
    if not 1 <= variants <= 5:
        raise ConfigError(f"--variants {variants}: out of range; allowed 1..5 (question templates per kind)")
    root = args.corpus or DEFAULT_CORPUS
    examples = derive(corpus_documents(root), seed=args.seed, variants=variants)
    for kind, n in counts(examples).items():
        print(f"{kind:<10}{n:>7}")
    print(f"{'total':<10}{len(examples):>7}")
    if args.output is not None:
        write_derived(args.output, examples, content_hash(root), args.seed)
        print(f"wrote {args.output}")
    return 0
