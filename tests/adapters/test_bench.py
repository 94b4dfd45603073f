"""The throughput benchmark's plumbing on tiny models (figures are not asserted: speed targets
are checked in benchmarks/perf/test_training_perf.py)."""

from __future__ import annotations

from pathlib import Path

from adapters.bench import measure_training_throughput


def test_bench_measures_both_paths_and_precisions(tiny_models: dict[str, Path], corpus: Path, cache: Path) -> None:
    figures = measure_training_throughput(
        base=str(tiny_models["student"]),
        corpus=corpus,
        seq_len=32,
        batch_size=2,
        steps=1,
        warmup=1,
        overrides=[f"teacher={tiny_models['teacher']}", "teacher_adapter=none", "target_modules=q_proj,v_proj"],
    )
    assert figures["kd_path"] == "cross-vocab" and 0 < figures["aligned_fraction"] < 1
    assert set(figures["tokens_per_s"]) == {"fp32", "bf16-autocast"}
    for rates in figures["tokens_per_s"].values():
        assert rates["lora"] > 0 and rates["lora-kd"] > 0
    assert set(figures["bf16_speedup"]) == {"lora", "lora-kd"}
    assert figures["kd_over_lora"]["fp32"] > 0
    assert len(list((cache / "teacher-cache").glob("*.safetensors"))) == 1  # built once, kept for the next run
