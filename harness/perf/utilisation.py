"""How close generation comes to this CPU's limit: achieved FLOP/s beside the measured matmul peak.

    python -m harness bench --only utilisation --items 24 --max-new-tokens 96

Peak: the best of ``torch.matmul`` on square matrices (1024, 2048) and a ``linear`` shaped like a
SmolLM2 MLP projection in prefill (2048 x 576 -> 1536), in fp32 and in bf16, on this process's
torch threads. Achieved: the ``vanilla`` model answering the runner's own prompts through the
continuous batcher, its prefill forwards and its decode steps timed apart
(:class:`harness.models.continuous_batching.ForwardTimings`), counted as 2 x parameters x tokens
per second -- the usual estimate, which leaves out attention's own products and, for prefill,
counts the real prompt tokens rather than the padding the forwards also computed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

PEAK_SHAPES = ((1024, 1024, 1024), (2048, 2048, 2048), (2048, 576, 1536))  # (m, k, n) per product


@dataclass
class Peak:
    dtype: str
    gflops: float  # best over PEAK_SHAPES
    by_shape: dict[str, float]


def matmul_peak(dtype_name: str, repeats: int = 3, budget_s: float = 20.0, shapes: tuple[tuple[int, int, int], ...] = PEAK_SHAPES) -> Peak:
    """Best GFLOP/s of dense products of ``shapes`` in ``dtype_name`` ("float32" or "bfloat16").
    A shape whose first product takes over ``budget_s`` / 4 is timed once (slow dtypes on CPUs
    without hardware support)."""
    import torch

    dtype = getattr(torch, dtype_name)
    by_shape: dict[str, float] = {}
    for m, k, n in shapes:
        a = torch.randn(m, k, dtype=dtype)
        b = torch.randn(k, n, dtype=dtype)
        started = time.perf_counter()
        torch.matmul(a, b)  # warm-up (and a timing of its own for slow cases)
        first = time.perf_counter() - started
        runs = 1 if first > budget_s / 4 else repeats
        best = first
        for _ in range(runs):
            started = time.perf_counter()
            torch.matmul(a, b)
            best = min(best, time.perf_counter() - started)
        by_shape[f"{m}x{k}x{n}"] = 2 * m * k * n / best / 1e9
    return Peak(dtype_name, max(by_shape.values()), by_shape)


def generation_flops(items: int, max_new_tokens: int, benchmark: str | None, dtype: str = "float32") -> dict[str, Any]:
    """Prefill and decode figures of the ``vanilla`` model on the runner's first ``items`` prompts."""
    from harness.models.generation import BatchGenerator, GenerationSettings
    from harness.models.loading import load_causal_lm
    from harness.models.sources import resolve
    from harness.perf.generation import bench_requests

    _, requests = bench_requests(benchmark, items, max_new_tokens)
    model, tokenizer = load_causal_lm(resolve("smollm2-135m-instruct"), dtype=dtype, device="cpu")
    params = sum(p.numel() for p in model.parameters())
    generator = BatchGenerator(model, tokenizer, GenerationSettings())
    started = time.perf_counter()
    generator.generate(requests)
    wall = time.perf_counter() - started
    t = generator.timings
    prefill = 2 * params * t.prefill_tokens / t.prefill_s / 1e9 if t.prefill_s else 0.0
    decode = 2 * params * t.decode_tokens / t.decode_s / 1e9 if t.decode_s else 0.0
    return {
        "dtype": dtype,
        "params": params,
        "wall_s": round(wall, 3),
        "prefill": {"s": round(t.prefill_s, 3), "tokens": t.prefill_tokens, "padded_tokens": t.prefill_padded_tokens, "gflops": round(prefill, 1)},
        "decode": {"s": round(t.decode_s, 3), "tokens": t.decode_tokens, "steps": t.decode_steps, "gflops": round(decode, 1)},
        "other_s": round(wall - t.prefill_s - t.decode_s, 3),  # tokenising, detokenising, stop checks, cache merges
    }


def cpu_features() -> dict[str, Any]:
    """What torch sees of this CPU: its vector capability and the bf16 hardware paths."""
    import torch

    def probe(name: str) -> bool | None:
        check = getattr(torch.cpu, name, None)
        return bool(check()) if callable(check) else None

    return {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "avx512_bf16": probe("_is_avx512_bf16_supported"),
        "amx_tile": probe("_is_amx_tile_supported"),
        "threads": int(torch.get_num_threads()),
    }
