"""Continuous batching vs plain ``generate`` on any device, with a SmolLM2-shaped model whose
weights are random (no download, no packaged weights needed: only the architecture).

    python benchmarks/perf/generation_device.py --device cuda --prompts 128 --max-new-tokens 128
    python benchmarks/perf/generation_device.py --device cpu --prompts 8 --max-new-tokens 16

Prints one JSON object: wall times of plain ``generate`` one prompt at a time, plain ``generate``
in padded batches, and our :class:`ContinuousBatcher`, for fp32 and bf16, plus the fraction of
prompts whose greedy tokens equal the one-at-a-time reference. Budgets vary per prompt (16 to
``max_new_tokens``) so rows finish at different steps, as real answers do. No speed is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# SmolLM2-135M's architecture (config.json of HuggingFaceTB/SmolLM2-135M-Instruct)
SMOLLM2 = dict(
    vocab_size=49152,
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    max_position_embeddings=8192,
    rope_theta=100000.0,
    rms_norm_eps=1e-5,
    tie_word_embeddings=True,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=2,
)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain(model, prompts, budgets, device: str, batch: int) -> tuple[list[list[int]], float]:
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[int]] = [[] for _ in prompts]
    sync(device)
    started = time.perf_counter()
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        width = max(len(prompts[i]) for i in chunk)
        ids = torch.full((len(chunk), width), 2, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(chunk):
            ids[row, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[row, width - len(prompts[i]) :] = 1
        budget = max(budgets[i] for i in chunk)
        with torch.inference_mode():
            gen = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=budget, do_sample=False, pad_token_id=2, eos_token_id=2
            )
        for row, i in enumerate(chunk):
            tokens = gen[row, width:].tolist()[: budgets[i]]
            out[i] = tokens[: tokens.index(2)] if 2 in tokens else tokens
    sync(device)
    return out, time.perf_counter() - started


def ours(model, prompts, budgets, device: str, rows: int) -> tuple[list[list[int]], float]:
    from harness.models.continuous_batching import ContinuousBatcher, DecodeTask

    tasks = [DecodeTask(i, p, b) for i, (p, b) in enumerate(zip(prompts, budgets))]
    out: list[list[int]] = [[] for _ in prompts]
    sync(device)
    started = time.perf_counter()
    for batch in ContinuousBatcher(model, eos_ids={2}, pad_id=2, max_rows=rows).run(tasks):
        for result in batch:
            out[result.index] = result.tokens
    sync(device)
    return out, time.perf_counter() - started


def main() -> int:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--rows", type=int, default=64, help="continuous batch width")
    parser.add_argument("--plain-batch", type=int, default=32)
    parser.add_argument("--b1-prompts", type=int, default=32, help="prompts timed one at a time (the slow reference)")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    prompts = [torch.randint(3, 49152, (int(n),), generator=generator).tolist() for n in torch.randint(32, 400, (args.prompts,), generator=generator)]
    budgets = [int(b) for b in torch.randint(16, args.max_new_tokens + 1, (args.prompts,), generator=generator)]
    report: dict = {
        "device": args.device,
        "name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "prompts": args.prompts,
        "max_new_tokens": args.max_new_tokens,
        "tokens_requested": sum(budgets),
    }
    import transformers

    report["transformers"] = transformers.__version__
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        model = LlamaForCausalLM(LlamaConfig(**SMOLLM2)).to(device=args.device, dtype=dtype).eval()
        ours(model, prompts[:4], [4] * 4, args.device, args.rows)  # warm-up (kernels, allocator)
        plain(model, prompts[:2], [4] * 2, args.device, 2)
        sub = args.b1_prompts
        ref, b1_s = plain(model, prompts[:sub], budgets[:sub], args.device, 1)
        batched, batched_s = plain(model, prompts, budgets, args.device, args.plain_batch)
        mine, ours_s = ours(model, prompts, budgets, args.device, args.rows)
        mine_sub, ours_sub_s = ours(model, prompts[:sub], budgets[:sub], args.device, args.rows)
        report[dtype_name] = {
            "plain_b1_s_subset": round(b1_s, 3),
            "ours_s_subset": round(ours_sub_s, 3),
            "speedup_vs_b1_subset": round(b1_s / ours_sub_s, 2),
            "agreement_vs_b1_subset": sum(a == b for a, b in zip(mine_sub, ref)) / sub,
            f"plain_b{args.plain_batch}_s": round(batched_s, 3),
            "ours_s": round(ours_s, 3),
            f"speedup_vs_b{args.plain_batch}": round(batched_s / ours_s, 2),
            f"agreement_vs_b{args.plain_batch}": sum(a == b for a, b in zip(mine, batched)) / len(prompts),
            "ours_tokens_per_s": round(sum(len(t) for t in mine) / ours_s, 1),
        }
        print(json.dumps({dtype_name: report[dtype_name]}), flush=True)
        del model
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
