"""Training throughput: LoRA vs LoRA-KD (cached teacher) on SmolLM2, fp32 vs bf16 autocast.

    HARNESS_THREADS=1 .venv/bin/python -m pytest benchmarks/perf/test_training_perf.py -s --benchmark-json /tmp/training-perf.json

Not part of the default test run (``testpaths = tests``). The figures come from
:func:`adapters.bench.measure_training_throughput`: in one process, LoRA and KD optimizer steps
alternate on the same batches of the bundled corpus (seq 256, batch 4), first in fp32, then under
bf16 autocast. Printed as one ``PERF`` line and stored in the benchmark JSON's ``extra_info``.

Target checked here (a ratio measured side by side, so machine load cancels out): with the cached
teacher a KD step runs at >= 0.85 of a LoRA step's tokens/s. The bf16 speed-up is reported, not
asserted (it depends on AVX-512-BF16/AMX support).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from adapters.bench import measure_training_throughput  # noqa: E402

KD_OVER_LORA_TARGET = 0.85  # issue target: KD tokens/s >= 0.85 x LoRA tokens/s with the cached teacher
STEPS = int(os.environ.get("TRAINING_PERF_STEPS", "8"))  # timed steps per path and precision (fewer = noisier on a shared CPU)


@pytest.mark.integration
def test_kd_step_costs_about_a_lora_step(benchmark: Any) -> None:
    threads = os.environ.get("HARNESS_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    figures = benchmark.pedantic(measure_training_throughput, kwargs={"seq_len": 256, "batch_size": 4, "steps": STEPS, "warmup": 1}, rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    print(
        f"\nPERF training: {figures['tokens_per_s']} kd/lora={figures['kd_over_lora']} bf16_speedup={figures.get('bf16_speedup')} "
        f"kd_path={figures['kd_path']} aligned={figures['aligned_fraction']} threads={figures['threads']} bf16_native={figures['bf16_native']}"
    )
    for precision, ratio in figures["kd_over_lora"].items():
        assert ratio >= KD_OVER_LORA_TARGET, f"{precision}: KD/LoRA tokens/s {ratio} < {KD_OVER_LORA_TARGET}"
