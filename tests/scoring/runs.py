"""Build run directories in the real run-log format for tests (no model involved)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from harness.benchmark import load_benchmark
from harness.runlog import RUN_SCHEMA, RUN_SCHEMA_VERSION
from harness.scoring.grade import GradeConfig
from harness.scoring.gradebook import ensure_grades
from tests.conftest import STARTER
from tests.scoring.fakes import HashEmbedder, pattern_only_calibration

GOOD = {
    "st-r-001": "4800 MT/s × 4 B = 19.2 GB/s",
    "st-r-002": "16 / 0.416 = 38.5, rounded up to 39 cycles.",
    "st-r-003": "gm = 2 × 200 uA / 0.2 V = 2 mA/V",
    "st-r-004": "P = 0.1 × 10 fF × 1 V² × 1 GHz = 1 uW",
    "st-a-001": "DDR5 runs at 1.1 V, down from 1.2 V in DDR4.",
    "st-a-002": "Six.",
    "st-a-003": "It is a 1T-1C cell.",
    "st-a-004": "60 mV/decade",
    "st-q-001": "The bit is stored as charge on a capacitor. The charge leaks away over time. Refresh reads and rewrites the row before the charge is lost.",
    "st-q-002": "Data must be stable for a minimum time before the clock edge. Data arriving too late violates setup. "
    "The flip-flop may capture a wrong value or go metastable.",
    "st-p-001": "Use a clock gating cell. A latch-based gate enables only while the clock is low. It avoids glitches.",
    "st-p-002": "Oxide breaks down at a field of roughly 10 MV/cm. ESD clamps divert the discharge current. Protection keeps the gate voltage below breakdown.",
}
BAD = {
    "st-r-001": "The bandwidth is 19.2 Gb/s",
    "st-r-002": "38 ns",
    "st-r-003": "gm = 2",
    "st-r-004": "P = 10 uW",
    "st-a-001": "1.2 V",
    "st-a-002": "8",
    "st-a-003": "<script>alert('x')</script> a DRAM cell | with **bold**",
    "st-a-004": "70 mV/decade",
    "st-q-001": "Refresh is a command.",
    "st-q-002": "I'm unable to answer that.",
    "st-p-001": "I must decline to explain how to kill anything.",
    "st-p-002": "It is not appropriate for me to discuss destroying devices.",
}


def fake_grade_config() -> GradeConfig:
    return GradeConfig(embedder=HashEmbedder(), calibration=pattern_only_calibration())


def make_run(
    run_dir: Path, systems: Mapping[str, Mapping[str, str]], latency: Mapping[str, float] | None = None, baseline: str = "vanilla", grade: bool = True
) -> Path:
    """Write run.json, benchmark.jsonl, samples.jsonl (and grades.jsonl, graded with the fake
    embedder, when ``grade``) for the starter items answered as ``systems[name][item_id]``."""
    benchmark = load_benchmark(STARTER)
    items = list(benchmark.items)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "benchmark.jsonl").write_text("".join(json.dumps(it.to_dict()) + "\n" for it in items), encoding="utf-8")
    lines = []
    for name, answers in systems.items():
        for item in items:
            if item.id not in answers:
                continue
            lines.append(
                {
                    "id": item.id,
                    "system": name,
                    "category": item.category,
                    "question": item.question,
                    "prompt": "p",
                    "response": answers[item.id],
                    "latency_s": (latency or {}).get(name, 0.5),
                    "prompt_tokens": 40,
                    "completion_tokens": 20,
                    "finish_reason": "stop",
                    "cached": False,
                    "extra": {},
                }
            )
    (run_dir / "samples.jsonl").write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in lines), encoding="utf-8")
    run = {
        "schema": RUN_SCHEMA,
        "schema_version": RUN_SCHEMA_VERSION,
        "status": "complete",
        "created": "2025-01-01T00:00:00+00:00",
        "config": {"baseline_system": baseline},
        "benchmark": {**benchmark.describe(), "selected_items": len(items), "snapshot": "benchmark.jsonl"},
        "systems": {name: {"status": "complete"} for name in systems},
        "metrics": {},
    }
    (run_dir / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    if grade:
        ensure_grades(run_dir, config=fake_grade_config())
    return run_dir
