"""``python -m harness run``: generate answers for each system, grade them, write the run log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run systems on a benchmark", description="Run systems on the benchmark; answers are cached and a killed run resumes.")
    p.add_argument("--systems", default="all", help="'all' or a comma list of names (see `list`)")
    p.add_argument("--benchmark", default=None, help="items JSONL (default: benchmarks/raq/items.jsonl)")
    p.add_argument("--limit", type=int, default=None, help="first N items only")
    p.add_argument("--shard", default=None, metavar="I/N", help="run the I-th of N deterministic slices (0-based)")
    p.add_argument("--output-dir", default=None, help="run folder (default runs/<timestamp>-<hash>); an existing one is resumed")
    p.add_argument("--batch-size", type=int, default=16, help="prompts per forward pass (default 16)")
    p.add_argument("--max-new-tokens", type=int, default=192, help="completion budget in tokens (default 192)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (greedy decoding ignores it)")
    p.add_argument("--dtype", default=None, choices=["auto", "float32", "bfloat16", "float16"], help="weights dtype for local models (default auto: fp32 on CPU, bf16 on CUDA)")
    p.add_argument("--device", default=None, help="auto, cpu or cuda[:N] for local models")
    p.add_argument("--system-config", type=Path, default=None, help="TOML with [systems.NAME] tables of options (e.g. an openai endpoint)")
    p.add_argument("--baseline-system", default="vanilla", help="paired comparisons are against this system")
    p.add_argument("--no-cache", action="store_true", help="regenerate every answer")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.runner import RunConfig, Runner
    from harness.system_config import load_system_config

    registry, options = load_system_config(args.system_config)
    names = registry.resolve(args.systems)
    for name in names:
        opts: dict[str, Any] = options.setdefault(name, {})
        if args.dtype is not None:
            opts.setdefault("dtype", args.dtype)
        if args.device is not None:
            opts.setdefault("device", args.device)
    config = RunConfig(
        systems=",".join(names),
        benchmark=args.benchmark,
        limit=args.limit,
        output_dir=args.output_dir,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        use_cache=not args.no_cache,
        quiet=args.quiet,
        shard=args.shard,
        system_options=options,
        baseline_system=args.baseline_system,
    )
    run_dir = Runner(config, registry=registry).run()
    print_summary(run_dir)
    return 0


def print_summary(run_dir: Path) -> None:
    from harness.runlog import load_run

    run = load_run(run_dir)
    per_system = run.get("metrics", {}).get("per_system", {})
    print(f"run written to {run_dir}")
    for name, meta in run["systems"].items():
        metrics = per_system.get(name, {})
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items() if not isinstance(v, (dict, list)))
        print(f"  {name}: generated {meta.get('generated', 0)}, cached {meta.get('cached', 0)}; {shown}", file=sys.stdout)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
