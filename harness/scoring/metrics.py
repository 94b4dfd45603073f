"""Run-level metrics computed from the run log only (never from models)."""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any, Sequence

from harness.benchmark import Benchmark
from harness.runlog import read_samples


def run_metrics(run_dir: Path, benchmark: Benchmark, names: Sequence[str], baseline: str) -> dict[str, Any]:
    samples = read_samples(run_dir)
    out: dict[str, Any] = {"per_system": {}}
    for name in names:
        rows = [s for s in samples if s.get("system") == name]
        out["per_system"][name] = {
            "n": len(rows),
            "cached": sum(1 for s in rows if s.get("cached")),
            "mean_latency_s": mean(s["latency_s"] for s in rows) if rows else None,
            "mean_completion_tokens": mean(s["completion_tokens"] for s in rows) if rows else None,
        }
    return out
