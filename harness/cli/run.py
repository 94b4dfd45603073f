"""``python -m harness run``: generate answers for each system, grade them, write the run log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASELINE = REPO_ROOT / "reports" / "baseline" / "run.json"  # the committed baseline (python -m harness run --systems all)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run systems on a benchmark", description="Run systems on the benchmark; answers are cached and a killed run resumes.")
    p.add_argument("--systems", default="all", help="'all' or a comma list of names (see `list`)")
    p.add_argument(
        "--mode",
        default="all",
        choices=["generate", "likelihood", "all"],
        help="generate answers, score reference answers / choices / documents by likelihood (likelihood.jsonl, docs/likelihood.md), or both (default)",
    )
    p.add_argument("--corpus", default=None, metavar="DIR|none", help="likelihood: documents scored as the training corpus (default: the bundled corpus)")
    p.add_argument("--heldout", default=None, metavar="DIR|none", help="likelihood: held-out domain documents (default: benchmarks/raq/heldout)")
    p.add_argument("--benchmark", default=None, help="items JSONL, or a folder holding items.jsonl (default: benchmarks/raq/items.jsonl)")
    p.add_argument("--limit", type=int, default=None, help="first N items only")
    p.add_argument(
        "--sample", type=int, default=None, metavar="N", help="N items drawn stratified by category and topic (seeded by --seed): a quick, representative run"
    )
    p.add_argument("--shard", default=None, metavar="I/N", help="run the I-th of N deterministic slices (0-based)")
    p.add_argument("--output-dir", default=None, help="run folder (default runs/<timestamp>-<hash>); an existing one is resumed")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="rows decoded together (default: automatic for local models from a KV-cache budget; 16 requests per call otherwise)",
    )
    p.add_argument("--max-new-tokens", type=int, default=192, help="completion budget in tokens (default 192)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (greedy decoding ignores it)")
    p.add_argument(
        "--dtype",
        default=None,
        choices=["auto", "float32", "bfloat16", "float16"],
        help="weights dtype for local models (default auto: fp32 on CPU, bf16 on CUDA)",
    )
    p.add_argument("--device", default=None, help="auto, cpu or cuda[:N] for local models")
    p.add_argument("--system-config", type=Path, default=None, help="TOML with [systems.NAME] tables of options (e.g. an openai endpoint)")
    p.add_argument("--baseline-system", default="vanilla", help="the report compares every system with this one (besides the benchmark's [report] pairs)")
    p.add_argument("--no-cache", action="store_true", help="regenerate every answer")
    p.add_argument(
        "--no-loop-stop",
        action="store_true",
        help="let local models finish repetition loops instead of ending the answer (finish_reason 'loop'); see docs/performance.md",
    )
    p.add_argument("--train-missing", action="store_true", help="train adapters that are missing or stale instead of refusing them")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    gate = p.add_argument_group("regression gate", "compare this run with a committed baseline run (paired, one-sided exact McNemar, Holm)")
    gate.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="RUN_JSON",
        help="baseline run.json (default: reports/baseline/run.json when it exists and was made on the same benchmark; 'none' skips the gate)",
    )
    gate.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a system is significantly worse than the baseline")
    gate.add_argument("--alpha", type=float, default=0.05, help="family-wise significance level (default 0.05)")
    gate.add_argument("--min-effect", type=float, default=0.02, help="smallest worsening that fails, as a rate difference (default 0.02 = 2 points)")
    gate.add_argument("--junit", type=Path, default=None, metavar="FILE", help="JUnit XML path (default RUN_DIR/junit.xml)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.runner import RunConfig, Runner
    from harness.system_config import load_system_config

    gate = _gate(args)
    registry, options = load_system_config(args.system_config)
    names = registry.resolve(args.systems)
    for name in names:
        opts: dict[str, Any] = options.setdefault(name, {})
        if args.dtype is not None:
            opts.setdefault("dtype", args.dtype)
        if args.device is not None:
            opts.setdefault("device", args.device)
        if args.no_loop_stop and getattr(registry.get(name).load_factory(), "accepts_loop_stop", False):
            opts.setdefault("loop_stop", False)
        if args.train_missing and getattr(registry.get(name).load_factory(), "accepts_train_missing", False):
            opts.setdefault("train_missing", True)
    config = RunConfig(
        systems=",".join(names),
        benchmark=args.benchmark,
        limit=args.limit,
        sample=args.sample,
        output_dir=args.output_dir,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        use_cache=not args.no_cache,
        quiet=args.quiet,
        shard=args.shard,
        system_options=options,
        baseline_system=args.baseline_system,
        mode=args.mode,
        corpus=args.corpus,
        heldout=args.heldout,
    )
    run_dir = Runner(config, registry=registry).run()
    print_summary(run_dir)
    _render_reports(run_dir)
    if gate is not None:
        from harness.scoring.gate import raise_on_regression, run_gate

        gate_config, baseline = gate
        cases, text = run_gate(run_dir, baseline, gate_config, args.junit)
        print(text)
        if args.fail_on_regression:
            raise_on_regression(cases, baseline)
    return 0


def _gate(args: argparse.Namespace) -> tuple[Any, Path] | None:
    """(gate settings, baseline run.json), checked before any generation starts; None = no gate.
    Without ``--baseline`` the committed baseline is used when it was made on the same benchmark."""
    from harness.api.errors import ConfigError

    if args.baseline is not None and str(args.baseline).lower() == "none":
        if args.fail_on_regression:
            raise ConfigError("--fail-on-regression needs a baseline; drop --baseline none")
        return None
    if args.baseline is not None:
        if not args.baseline.exists():
            raise ConfigError(f"--baseline {args.baseline}: file not found; pass a run.json written by python -m harness run")
        return _gate_settings(args), args.baseline
    if _made_on_this_benchmark(DEFAULT_BASELINE, args.benchmark):
        return _gate_settings(args), DEFAULT_BASELINE
    if args.fail_on_regression:
        raise ConfigError(f"--fail-on-regression needs --baseline RUN_JSON made on this benchmark ({DEFAULT_BASELINE} is missing or made on another)")
    return None


def _made_on_this_benchmark(baseline: Path, benchmark: str | None) -> bool:
    """Whether ``baseline`` was made on the items file ``benchmark`` (sha256 of its bytes, as
    ``Benchmark.sha256``); the file is hashed, not parsed: the runner parses it next."""
    import hashlib
    import json

    from harness.benchmark import DEFAULT_BENCHMARK

    try:
        made_on = json.loads(baseline.read_text(encoding="utf-8"))["benchmark"]["sha256"]
        items_sha = hashlib.sha256(Path(benchmark or DEFAULT_BENCHMARK).read_bytes()).hexdigest()
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(made_on == items_sha)


def _gate_settings(args: argparse.Namespace) -> Any:
    from harness.scoring.gate import GateConfig

    return GateConfig(alpha=args.alpha, min_effect=args.min_effect)


def _render_reports(run_dir: Path) -> None:
    """report.md / report.html / summary.csv in the run dir; a failure here never loses the run."""
    import logging

    from harness.api.errors import HarnessError

    try:
        from reports.render import render_run

        paths = render_run(run_dir)
        print(f"  report: {paths[1]}")
    except HarnessError as exc:
        logging.getLogger(__name__).error("report not rendered (%s); rerun: python -m harness report %s", exc, run_dir)


def print_summary(run_dir: Path) -> None:
    from harness.runlog import load_run

    run = load_run(run_dir)
    per_system = run.get("metrics", {}).get("per_system", {})
    rss = f", peak RSS {run['peak_rss_mb']:.0f} MiB" if run.get("peak_rss_mb") is not None else ""
    print(f"run written to {run_dir} ({run.get('wall_s', 0):.1f} s{rss})")
    for name, meta in run["systems"].items():
        metrics = per_system.get(name, {})
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items() if not isinstance(v, (dict, list)))
        retried = f", retries {meta['retries']}" if meta.get("retries") else ""
        print(f"  {name}: generated {meta.get('generated', 0)}, cached {meta.get('cached', 0)}{retried}; {shown}", file=sys.stdout)
        scored = run.get("metrics", {}).get("likelihood", {}).get("per_system", {}).get(name)
        if scored:
            measures = ("reference_bpb", "mc_acc", "mc_acc_norm", "corpus_bpb", "heldout_bpb")
            print(f"  {name} likelihood: " + ", ".join(f"{k}={_fmt(scored.get(k))}" for k in measures))
        elif (meta.get("likelihood") or {}).get("status") == "unsupported":
            print(f"  {name} likelihood: not supported ({meta['likelihood'].get('error')})")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
