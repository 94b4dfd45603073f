"""Our generation path against plain ``transformers`` ``generate`` on the same prompts.

    python -m harness bench --items 24 --max-new-tokens 96

The prompts are the runner's own (:func:`harness.runner.build_request` on the first ``items``
benchmark items). "Ours" is the ``vanilla`` system exactly as the runner drives it
(continuous batching, automatic batch size); "plain" is ``model.generate`` on the same loaded
model, one prompt at a time (and optionally in length-sorted padded batches). Our fp32 pass runs
before and after the plain pass and the two are averaged, so a load change during the run hits
both sides. Text agreement is exact equality of the stripped completions.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from harness.api.system import GenerationRequest

log = logging.getLogger(__name__)


@dataclass
class Pass:
    """One timed pass over all prompts."""

    label: str
    wall_s: float
    texts: list[str]
    completion_tokens: int
    load_avg: float  # 1-minute load average when the pass ended (2 = both cores busy)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class GenerationReport:
    items: int
    max_new_tokens: int
    passes: dict[str, Pass] = field(default_factory=dict)
    bf16_hardware: bool | None = None  # whether this CPU has AVX-512-BF16 or AMX (None: not checked)
    accuracy: dict[str, float | None] = field(default_factory=dict)  # label -> fraction correct (items with a key)

    def ratio(self, slow: str, fast: str) -> float | None:
        """How many times faster ``fast`` was than ``slow`` (wall time ratio)."""
        a, b = self.passes.get(slow), self.passes.get(fast)
        return a.wall_s / b.wall_s if a and b and b.wall_s > 0 else None

    def agreement(self, a: str, b: str) -> float | None:
        """Fraction of items whose greedy text is identical in passes ``a`` and ``b``."""
        x, y = self.passes.get(a), self.passes.get(b)
        if not x or not y or not x.texts:
            return None
        return sum(p == q for p, q in zip(x.texts, y.texts)) / len(x.texts)


def bench_requests(benchmark_path: str | None, items: int, max_new_tokens: int) -> tuple[Any, list[GenerationRequest]]:
    """(benchmark, the runner's requests for its first ``items`` items)."""
    from harness.benchmark import load_benchmark
    from harness.runner import RunConfig, build_request

    benchmark = load_benchmark(benchmark_path)
    config = RunConfig(max_new_tokens=max_new_tokens)
    return benchmark, [build_request(item, benchmark, config) for item in benchmark.items[:items]]


def plain_generate(model: Any, tokenizer: Any, requests: Sequence[GenerationRequest], batch_size: int = 1) -> tuple[list[str], int]:
    """Greedy ``model.generate`` the way its documentation shows it: (texts, completion tokens).
    Batches are sorted by prompt length and left-padded."""
    import torch

    from harness.models.generation import render_prompt

    texts = [render_prompt(tokenizer, r) for r in requests]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    eos = tokenizer.eos_token_id
    total = 0
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        encoded = tokenizer([texts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            generated = model.generate(**encoded, max_new_tokens=requests[chunk[0]].max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        for row, index in enumerate(chunk):
            tokens = generated[row, encoded["input_ids"].shape[1] :].tolist()
            if eos in tokens:
                tokens = tokens[: tokens.index(eos)]
            total += len(tokens)
            out[index] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
    return out, total


def timed(label: str, run: Callable[[], tuple[list[str], int]]) -> Pass:
    started = time.perf_counter()
    texts, tokens = run()
    wall = time.perf_counter() - started
    result = Pass(label, wall, texts, tokens, os.getloadavg()[0])
    log.info("%s: %.1f s, %d tokens, %.1f tok/s, load %.1f", label, wall, tokens, result.tokens_per_s, result.load_avg)
    return result


def ours(system: Any, requests: Sequence[GenerationRequest]) -> tuple[list[str], int]:
    results = system.generate(list(requests))
    return [r.text for r in results], sum(r.completion_tokens for r in results)


def compare_generation(
    items: int = 24,
    max_new_tokens: int = 96,
    benchmark_path: str | None = None,
    model: str = "smollm2-135m-instruct",
    plain_batch: int = 16,
    bf16: bool = True,
    grade: bool = True,
) -> GenerationReport:
    """Passes: ``ours``, ``plain-b1``, ``ours`` again, ``plain-b{plain_batch}`` (0 skips it),
    ``ours-loopstop`` (loop stopping on), ``ours-int8`` (dynamic int8 linear layers), and, on
    CPUs with bf16 hardware (AVX-512-BF16 or AMX), ``ours-bf16`` (bf16 weights) and
    ``ours-autocast`` (fp32 weights, bf16 autocast). ``ours`` runs without loop stopping so that it
    generates exactly what plain ``generate`` does."""
    from harness.perf.utilisation import cpu_features
    from harness.systems.composition import vanilla

    benchmark, requests = bench_requests(benchmark_path, items, max_new_tokens)
    report = GenerationReport(items=len(requests), max_new_tokens=max_new_tokens)
    system = vanilla(model=model, dtype="float32", device="cpu", loop_stop=False)
    generator = system.load()  # the load is measured separately (warm vs cold)
    first = timed("ours", lambda: ours(system, requests))
    report.passes["plain-b1"] = timed("plain-b1", lambda: plain_generate(generator.model, generator.tokenizer, requests, 1))
    second = timed("ours", lambda: ours(system, requests))
    if first.texts != second.texts:
        log.warning("our two fp32 passes disagree on %d items", sum(a != b for a, b in zip(first.texts, second.texts)))
    report.passes["ours"] = Pass("ours", (first.wall_s + second.wall_s) / 2, first.texts, first.completion_tokens, second.load_avg)
    if plain_batch > 1:
        report.passes[f"plain-b{plain_batch}"] = timed(
            f"plain-b{plain_batch}", lambda: plain_generate(generator.model, generator.tokenizer, requests, plain_batch)
        )
    system.close()
    variants: list[tuple[str, dict[str, Any]]] = [("ours-loopstop", {"loop_stop": True}), ("ours-int8", {"quantize": "int8", "loop_stop": False})]
    cpu = cpu_features()
    report.bf16_hardware = bool(cpu["avx512_bf16"] or cpu["amx_tile"])
    if bf16 and report.bf16_hardware:
        variants += [("ours-bf16", {"dtype": "bfloat16", "loop_stop": False}), ("ours-autocast", {"autocast_bf16": True, "loop_stop": False})]
    elif bf16:
        log.info("bf16 passes skipped: this CPU (%s) has no bf16 hardware; the utilisation rows measure its bf16 matmul", cpu["capability"])
    for label, options in variants:
        variant = vanilla(model=model, device="cpu", **options)
        variant.load()
        report.passes[label] = timed(label, lambda: ours(variant, requests))
        variant.close()
    if grade:
        report.accuracy = accuracy(benchmark, requests, report)
    return report


def accuracy(benchmark: Any, requests: Sequence[GenerationRequest], report: GenerationReport) -> dict[str, float | None]:
    """Fraction of items with an answer key graded correct, per pass (the harness's graders)."""
    from harness.scoring.grade import GradeConfig, grade_answer

    config = GradeConfig.from_benchmark(benchmark.config)
    by_id = {item.id: item for item in benchmark.items}
    out: dict[str, float | None] = {}
    for label, run in report.passes.items():
        flags = [grade_answer(by_id[r.id], text, config).correct for r, text in zip(requests, run.texts)]
        keyed = [f for f in flags if f is not None]
        out[label] = sum(keyed) / len(keyed) if keyed else None
    return out
