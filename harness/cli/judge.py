"""``python -m harness judge RUN_DIR --judge SYSTEM``: let a registered system cast blind pairwise
votes on the run's answers (both orders), stored in RUN_DIR/judge_preferences.jsonl."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "judge",
        help="pairwise preferences from an automatic judge",
        description="Ask a judge system which of two anonymous answers is better, in both orders; votes go to RUN_DIR/judge_preferences.jsonl.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder written by `run`")
    p.add_argument("--judge", required=True, help="registered system that judges (see `list`), e.g. teacher or an openai endpoint")
    p.add_argument("--systems", default=None, help="comma list of systems to compare (default: every system in the run)")
    p.add_argument("--limit", type=int, default=None, help="judge at most N new comparisons")
    p.add_argument("--batch-size", type=int, default=8, help="prompts per generate call (default 8 = 4 comparisons x 2 orders)")
    p.add_argument("--max-new-tokens", type=int, default=16, help="reply budget in tokens (default 16)")
    p.add_argument("--system-config", type=Path, default=None, help="TOML with [systems.NAME] options (e.g. an openai endpoint)")
    p.add_argument("--dtype", default=None, choices=["auto", "float32", "bfloat16", "float16"], help="weights dtype for a local judge model")
    p.add_argument("--device", default=None, help="auto, cpu or cuda[:N] for a local judge model")
    p.add_argument("--no-cache", action="store_true", help="ask again even when a reply is cached")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.preferences.analysis import preference_summary, render_preferences_markdown
    from harness.preferences.judge import JudgeConfig, judge_run
    from harness.system_config import load_system_config

    config = JudgeConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, limit=args.limit, use_cache=not args.no_cache)
    registry, options = load_system_config(args.system_config)
    opts: dict[str, Any] = dict(options.get(args.judge, {}))
    if args.dtype is not None:
        opts.setdefault("dtype", args.dtype)
    if args.device is not None:
        opts.setdefault("device", args.device)
    registry.get(args.judge)  # unknown names fail before any model loads
    systems = [s.strip() for s in args.systems.split(",") if s.strip()] if args.systems else None
    judge = registry.create(args.judge, **opts)
    counts = judge_run(args.run_dir, judge, config, systems=systems, quiet=args.quiet)
    print(
        f"judge {args.judge}: {counts['judged']} comparisons judged ({counts['cached_replies']} replies from cache), "
        f"{counts['reused']} already in {args.run_dir / 'judge_preferences.jsonl'}"
    )
    summary = preference_summary(args.run_dir)
    if summary is not None:
        print(render_preferences_markdown(summary), end="")
    return 0
