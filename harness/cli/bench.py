"""``python -m harness bench``: a table of speed ratios measured side by side in this process.

python -m harness bench --items 24 --max-new-tokens 96           # all rows
python -m harness bench --only generation,load --items 8         # a quick subset
python -m harness bench --peer lm-eval --items 40                # vs lm-evaluation-harness
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure speed ratios side by side (generation, load, FAISS, training)",
        description=(
            "Print a Markdown table of ratios, each measured in this process on the same inputs: "
            "our generation vs plain transformers generate, bf16 vs fp32, warm vs cold load, FAISS HNSW vs flat, LoRA-KD vs LoRA training."
        ),
    )
    p.add_argument("--only", default=None, help="comma list of rows: generation, utilisation, load, faiss, training (default: all)")
    p.add_argument("--items", type=int, default=24, help="benchmark items for the generation rows (default 24; the first N)")
    p.add_argument("--max-new-tokens", type=int, default=96, help="completion budget per item in tokens (default 96)")
    p.add_argument("--benchmark", default=None, help="items JSONL (default: the bundled benchmark)")
    p.add_argument("--plain-batch", type=int, default=16, help="also time plain generate in padded batches of N (0 skips; default 16)")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16 rows")
    p.add_argument("--training-steps", type=int, default=2, help="timed optimizer steps per method for the training row (default 2)")
    p.add_argument("--peer", choices=["lm-eval"], default=None, help="instead of the table, compare with lm-evaluation-harness's hf backend on the same items")
    p.add_argument("--peer-batch-size", type=int, default=16, help="lm-eval batch size (default 16)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads for every measurement (default: torch's choice; 1 is steadier on a busy machine)"
    )
    p.add_argument("--json", type=Path, default=None, help="also write the rows and raw figures here")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.api.errors import ConfigError

    if args.items < 1 or args.max_new_tokens < 1:
        raise ConfigError(f"--items and --max-new-tokens must be >= 1, got {args.items} and {args.max_new_tokens}")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import os

        import torch

        torch.set_num_threads(args.threads)
        os.environ["HARNESS_THREADS"] = str(args.threads)  # model loads keep it
    if args.peer == "lm-eval":
        from harness.perf.peer import compare_with_lm_eval, format_peer

        report = compare_with_lm_eval(items=args.items, max_new_tokens=args.max_new_tokens, benchmark_path=args.benchmark, batch_size=args.peer_batch_size)
        print(format_peer(report))
        for example in report.disagreements:
            print(f"  differs on {example['id']}:\n    ours:    {example['ours']!r}\n    lm-eval: {example['lm_eval']!r}")
        if args.json:
            from harness.runlog import write_json_atomic

            write_json_atomic(args.json, report.to_dict())
        return 0
    from harness.perf.suite import SECTIONS, format_table, run_suite, write_json

    sections = tuple(s.strip() for s in args.only.split(",") if s.strip()) if args.only else SECTIONS
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ConfigError(f"--only: unknown row {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
    rows, raw = run_suite(
        sections,
        items=args.items,
        max_new_tokens=args.max_new_tokens,
        benchmark=args.benchmark,
        plain_batch=args.plain_batch,
        bf16=not args.no_bf16,
        training_steps=args.training_steps,
    )
    print(format_table(rows))
    print(
        f"\n{raw['cpu_threads']} torch threads; 1-min load average {raw['load_avg_start']:.1f} at start, "
        f"{raw['load_avg_end']:.1f} at end (above the core count means other work shared the CPU: trust the ratios, not the absolute figures)"
    )
    if args.json:
        write_json(args.json, rows, raw)
    return 0
