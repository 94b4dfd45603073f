"""Training throughput, side by side: LoRA vs LoRA-KD (cached teacher), fp32 vs bf16 autocast.

    python -m adapters.bench                                   # JSON on stdout
    python -m adapters.bench --steps 5 --batch-size 4 --seq-len 512
    python -m pytest benchmarks/perf/test_training_perf.py -s  # the same, with the 0.85 target checked

One process, one student model: for each precision, LoRA and KD optimizer steps alternate on the
same batches, so machine load hits both alike; the figures are tokens per second from the median
step time after ``warmup`` steps. The KD steps read the teacher's targets from the on-disk cache
(built once for the measured sequences with the real teacher and its shipped adapter when present
-- a KD epoch is meant to cost what a LoRA epoch costs *because* of that cache). Set
``HARNESS_THREADS`` to pin the CPU thread count (1 is fastest on a busy 2-core machine).
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from harness.perf.suite import Row

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16-autocast")


def bf16_supported() -> bool:
    """True where bf16 matmuls run natively (AVX-512-BF16 / AMX CPUs, any CUDA GPU)."""
    import torch

    if torch.cuda.is_available():
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: unknown, report False
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def subset(blocks: Any, count: int) -> Any:
    """The first ``count`` sequences of ``blocks`` (same text, same offsets)."""
    count = min(count, blocks.n_blocks)
    return replace(blocks, input_ids=blocks.input_ids[:count], starts=blocks.starts[:count], ends=blocks.ends[:count])


def _timed_step(model: Any, optimizer: Any, loss_fn: Callable[..., Any], batch: dict[str, Any], autocast: bool) -> float:
    import torch

    started = time.perf_counter()
    with torch.autocast(batch["input_ids"].device.type, dtype=torch.bfloat16, enabled=autocast):
        parts = loss_fn(model, batch)
    parts.total.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - started


def measure_training_throughput(
    base: str = "smollm2-135m-instruct",
    corpus: Path | None = None,
    seq_len: int = 256,
    batch_size: int = 4,
    steps: int = 8,
    warmup: int = 1,
    precisions: Sequence[str] = PRECISIONS,
    overrides: Sequence[str] = (),
    device: str = "cpu",
) -> dict[str, Any]:
    """Tokens/s of LoRA and LoRA-KD training steps, measured alternately in one process.

    ``overrides`` are ``--set`` values for ``train lora-kd`` (teacher, teacher_adapter, top_k...).
    Returns a dict with ``tokens_per_s[precision][lora|lora-kd]``, ``kd_over_lora[precision]``,
    ``bf16_speedup[lora|lora-kd]`` (bf16 autocast over fp32) and the setting measured.
    """
    import torch

    from adapters.config import load_spec
    from adapters.data import bos_id, corpus_texts, pack, tokenize_documents
    from adapters.recipes import TrainRequest, _attach_lora, _load_model, ce_loss_fn, kd_loss_fn, teacher_cache_for
    from harness.benchmark import DEFAULT_CORPUS
    from harness.corpus import content_hash
    from harness.models.loading import load_tokenizer
    from harness.models.sources import resolve

    unknown = set(precisions) - set(PRECISIONS)
    if unknown:
        raise ValueError(f"unknown precision {sorted(unknown)[0]!r}; use {', '.join(PRECISIONS)}")
    corpus = Path(corpus or DEFAULT_CORPUS)
    spec = load_spec("lora-kd", None, [f"base={base}", f"seq_len={seq_len}", f"batch_size={batch_size}", *overrides])
    resolved = resolve(base)
    tokenizer = load_tokenizer(resolved)
    texts = corpus_texts(corpus)
    blocks = subset(pack(tokenize_documents(texts, tokenizer), seq_len, bos_id(tokenizer)), (warmup + steps) * batch_size)
    request = TrainRequest(spec=spec, output=Path("bench-unused"), corpus=corpus, quiet=True, device=device)
    cache_started = time.perf_counter()
    cache, teacher = teacher_cache_for(request, blocks, tokenizer, texts, content_hash(corpus))
    cache_s = time.perf_counter() - cache_started
    model, _ = _load_model(resolved, "float32", device)
    model = _attach_lora(model, spec)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=spec.lora.lr)
    losses = {"lora": ce_loss_fn, "lora-kd": kd_loss_fn(cache, spec.kd.alpha, spec.kd.temperature)}  # type: ignore[union-attr]
    tokens = batch_size * seq_len
    rates: dict[str, dict[str, float]] = {}
    for precision in precisions:
        times: dict[str, list[float]] = {"lora": [], "lora-kd": []}
        for step in range(warmup + steps):
            index = torch.arange(step * batch_size, (step + 1) * batch_size)
            batch = {"index": index, "input_ids": blocks.input_ids[index].to(model.device)}
            order = list(losses.items()) if step % 2 == 0 else list(losses.items())[::-1]  # alternate who goes first
            for name, loss_fn in order:
                seconds = _timed_step(model, optimizer, loss_fn, batch, precision == "bf16-autocast")
                if step >= warmup:
                    times[name].append(seconds)
        rates[precision] = {name: round(tokens / statistics.median(t), 1) for name, t in times.items()}
        log.info("%s: %s", precision, rates[precision])
    result: dict[str, Any] = {
        "base": base,
        "teacher": teacher,
        "kd_path": cache.kd_path,
        "aligned_fraction": round(cache.aligned_fraction, 4),
        "teacher_cache_s": round(cache_s, 1),
        "seq_len": seq_len,
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "threads": torch.get_num_threads(),
        "device": device,
        "cpu": platform.processor() or platform.machine(),
        "bf16_native": bf16_supported(),
        "tokens_per_s": rates,
        "kd_over_lora": {p: round(r["lora-kd"] / r["lora"], 3) for p, r in rates.items()},
    }
    if "fp32" in rates and "bf16-autocast" in rates:
        result["bf16_speedup"] = {name: round(rates["bf16-autocast"][name] / rates["fp32"][name], 2) for name in ("lora", "lora-kd")}
    return result


def training_rows(steps: int = 2) -> tuple[list[Row], dict[str, Any]]:
    """The ``training`` row of ``python -m harness bench`` (the ``harness.bench`` entry point):
    LoRA-KD vs LoRA training tokens/s, alternating steps."""
    from harness.perf.suite import Row

    result = measure_training_throughput(steps=steps, warmup=1)
    rows = []
    for precision, rates in result["tokens_per_s"].items():
        rows.append(
            Row(
                f"training ({precision}): LoRA-KD vs LoRA",
                f"lora {rates['lora']:.0f} tok/s",
                f"lora-kd {rates['lora-kd']:.0f} tok/s",
                rates["lora-kd"] / rates["lora"] if rates["lora"] else None,
                f"seq {result['seq_len']} x batch {result['batch_size']}, {steps} steps; teacher targets from the cache",
            )
        )
    if "bf16_speedup" in result:
        speed = result["bf16_speedup"]
        rows.append(Row("training: bf16 autocast vs fp32 (LoRA)", "fp32", "bf16 autocast", speed["lora"], f"LoRA-KD: x{speed['lora-kd']}"))
    return rows, result


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m adapters.bench", description="LoRA vs LoRA-KD training tokens/s, fp32 vs bf16 autocast")
    parser.add_argument("--base", default="smollm2-135m-instruct")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per path and precision")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument(
        "--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE", help="train lora-kd overrides (teacher, teacher_adapter, top_k...)"
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    threads = os.environ.get("HARNESS_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    figures = measure_training_throughput(
        args.base, None, args.seq_len, args.batch_size, args.steps, args.warmup, args.precisions.split(","), args.overrides, args.device
    )
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
