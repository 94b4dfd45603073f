"""The benchmark table of ``python -m harness bench``: one row per comparison, each a ratio of
two measurements taken in this process, one after the other, on the same inputs.

    python -m harness bench --items 24 --max-new-tokens 96 --json bench.json

Rows (``--only`` picks some): ``generation`` (ours vs plain generate, bf16 vs fp32),
``utilisation`` (matmul peak bf16 vs fp32; prefill and decode FLOP/s as a share of it), ``load``
(warm vs cold model load), ``faiss`` (HNSW vs exact search) and ``training`` (LoRA-KD vs LoRA
tokens/s). The last two come from plugins through the ``harness.bench`` entry points
(``retrieval_index.bench``, ``adapters.bench``); a row whose plugin is missing is skipped with a
note instead of failing the table.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

SECTIONS = ("generation", "utilisation", "load", "faiss", "training")


@dataclass
class Row:
    name: str  # what is compared
    baseline: str  # the slower/reference side, with its figure
    candidate: str  # the side being judged, with its figure
    ratio: float | None  # candidate speed / baseline speed (>1 = candidate faster)
    note: str = ""  # agreement, accuracy, setting, or why the row was skipped

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def generation_rows(items: int, max_new_tokens: int, benchmark: str | None, plain_batch: int, bf16: bool) -> tuple[list[Row], dict[str, Any]]:
    from harness.perf.generation import compare_generation

    report = compare_generation(items=items, max_new_tokens=max_new_tokens, benchmark_path=benchmark, plain_batch=plain_batch, bf16=bf16)
    p, acc = report.passes, report.accuracy

    def fig(label: str) -> str:
        return f"{label} {p[label].tokens_per_s:.1f} tok/s ({p[label].wall_s:.1f} s)"

    def accuracy_note(a: str, b: str) -> str:
        if acc.get(a) is None or acc.get(b) is None:
            return ""
        return f"; accuracy {acc[a]:.1%} -> {acc[b]:.1%}"

    setting = f"{report.items} items, max {max_new_tokens} new tokens"
    rows = [
        Row(
            "generation: ours vs plain generate, batch 1",
            fig("plain-b1"),
            fig("ours"),
            report.ratio("plain-b1", "ours"),
            f"greedy text identical on {report.agreement('ours', 'plain-b1'):.1%}{accuracy_note('plain-b1', 'ours')}; {setting}",
        )
    ]
    batched = f"plain-b{plain_batch}"
    if batched in p:
        rows.append(
            Row(
                f"generation: ours vs plain generate, batch {plain_batch}",
                fig(batched),
                fig("ours"),
                report.ratio(batched, "ours"),
                f"greedy text identical on {report.agreement('ours', batched):.1%}",
            )
        )
    if "ours-loopstop" in p:
        saved = 1 - p["ours-loopstop"].completion_tokens / p["ours"].completion_tokens if p["ours"].completion_tokens else 0.0
        prefix = sum(b.startswith(a) for a, b in zip(p["ours-loopstop"].texts, p["ours"].texts)) / max(1, len(p["ours"].texts))
        rows.append(
            Row(
                "generation: loop stop vs full answers (ours)",
                fig("ours"),
                fig("ours-loopstop"),
                report.ratio("ours", "ours-loopstop"),
                f"{saved:.0%} fewer completion tokens; cut answer a prefix of the full one on {prefix:.0%}{accuracy_note('ours', 'ours-loopstop')}",
            )
        )
    for label, what in (("ours-int8", "int8 dynamic"), ("ours-bf16", "bf16 weights"), ("ours-autocast", "bf16 autocast")):
        if label in p:
            rows.append(
                Row(
                    f"generation: {what} vs fp32 (ours)",
                    fig("ours"),
                    fig(label),
                    report.ratio("ours", label),
                    f"text identical to fp32 on {report.agreement(label, 'ours'):.1%}{accuracy_note('ours', label)}",
                )
            )
    if bf16 and report.bf16_hardware is False:
        rows.append(
            Row("generation: bf16 vs fp32 (ours)", "-", "-", None, "skipped: this CPU has no bf16 hardware (no AVX-512-BF16, no AMX); see the matmul peak row")
        )
    loads = sorted(run.load_avg for run in p.values())
    raw = {
        "items": report.items,
        "max_new_tokens": max_new_tokens,
        "passes": {
            k: {"wall_s": round(v.wall_s, 3), "completion_tokens": v.completion_tokens, "tokens_per_s": round(v.tokens_per_s, 2), "load_avg": v.load_avg}
            for k, v in p.items()
        },
        "accuracy": acc,
        "load_avg_range": [loads[0], loads[-1]] if loads else None,
    }
    return rows, raw


def utilisation_rows(items: int, max_new_tokens: int, benchmark: str | None) -> tuple[list[Row], dict[str, Any]]:
    """Matmul peak (bf16 vs fp32) and the share of the fp32 peak that prefill and decode reach."""
    from harness.perf.utilisation import cpu_features, generation_flops, matmul_peak

    cpu = cpu_features()
    fp32, bf16 = matmul_peak("float32"), matmul_peak("bfloat16")
    flops = generation_flops(items, max_new_tokens, benchmark)
    hardware = f"CPU {cpu['capability']}, avx512_bf16 {cpu['avx512_bf16']}, AMX {cpu['amx_tile']}, {cpu['threads']} threads"
    rows = [
        Row(
            "matmul peak: bf16 vs fp32",
            f"fp32 {fp32.gflops:.0f} GFLOP/s",
            f"bf16 {bf16.gflops:.0f} GFLOP/s",
            bf16.gflops / fp32.gflops if fp32.gflops else None,
            hardware,
        )
    ]
    for phase in ("prefill", "decode"):
        figure = flops[phase]
        rate = figure["tokens"] / figure["s"] if figure["s"] else 0.0
        note = f"{figure['tokens']} tokens in {figure['s']:.1f} s"
        if phase == "prefill" and figure["padded_tokens"]:
            note += f"; {1 - figure['tokens'] / figure['padded_tokens']:.0%} of the computed positions were padding"
        if phase == "decode":
            note += f"; {figure['steps']} steps, {figure['tokens'] / max(1, figure['steps']):.1f} rows per step"
        rows.append(
            Row(
                f"utilisation: {phase} (fp32) vs fp32 matmul peak",
                f"peak {fp32.gflops:.0f} GFLOP/s",
                f"{phase} {figure['gflops']:.0f} GFLOP/s ({rate:.0f} tok/s)",
                figure["gflops"] / fp32.gflops if fp32.gflops else None,
                note,
            )
        )
    return rows, {"cpu": cpu, "peak": {"float32": fp32.__dict__, "bfloat16": bf16.__dict__}, "generation": flops}


def load_rows(model: str = "smollm2-135m-instruct", repeats: int = 3) -> tuple[list[Row], dict[str, Any]]:
    """Warm: load from the converted folder (median of ``repeats``). Cold: resolve into an empty
    cache (GGUF dequantisation + safetensors write) and load."""
    from harness.models.loading import load_causal_lm
    from harness.models.sources import resolve

    def load_once() -> float:
        started = time.perf_counter()
        model_obj, _ = load_causal_lm(resolve(model), dtype="float32", device="cpu")
        del model_obj
        return time.perf_counter() - started

    load_once()  # make sure the converted folder exists before timing warm loads
    warm = sorted(load_once() for _ in range(repeats))[repeats // 2]
    previous = os.environ.get("HARNESS_CACHE")
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as empty:
        os.environ["HARNESS_CACHE"] = empty
        try:
            cold = load_once()
        finally:
            if previous is None:
                os.environ.pop("HARNESS_CACHE", None)
            else:
                os.environ["HARNESS_CACHE"] = previous
    row = Row(
        f"model load ({model}): warm vs cold",
        f"cold {cold:.1f} s (convert + load)",
        f"warm {warm:.2f} s (median of {repeats})",
        cold / warm if warm > 0 else None,
        "target: warm <= 2 s",
    )
    return [row], {"cold_s": round(cold, 3), "warm_s": round(warm, 3)}


def plugin_rows(section: str, **options: Any) -> tuple[list[Row], dict[str, Any]]:
    """Rows a plugin registers under the ``harness.bench`` entry point ``section`` (``faiss``
    from retrieval_index, ``training`` from adapters); skipped with a note when none is installed."""
    from harness import plugins
    from harness.api.errors import HarnessError

    try:
        make = plugins.load("harness.bench", section)
    except HarnessError as exc:
        return [Row(section, "-", "-", None, f"skipped: {exc}")], {}
    rows, figures = make(**options)
    return list(rows), dict(figures)


def run_suite(
    sections: tuple[str, ...] = SECTIONS,
    items: int = 24,
    max_new_tokens: int = 96,
    benchmark: str | None = None,
    plain_batch: int = 16,
    bf16: bool = True,
    training_steps: int = 2,
) -> tuple[list[Row], dict[str, Any]]:
    """All requested rows and the raw figures behind them."""
    makers: dict[str, Callable[[], tuple[list[Row], dict[str, Any]]]] = {
        "generation": lambda: generation_rows(items, max_new_tokens, benchmark, plain_batch, bf16),
        "utilisation": lambda: utilisation_rows(items, max_new_tokens, benchmark),
        "load": load_rows,
        "faiss": lambda: plugin_rows("faiss"),
        "training": lambda: plugin_rows("training", steps=training_steps),
    }
    rows: list[Row] = []
    raw: dict[str, Any] = {"cpu_threads": _threads(), "load_avg_start": os.getloadavg()[0]}
    for section in sections:
        log.info("bench: %s", section)
        section_rows, figures = makers[section]()
        rows.extend(section_rows)
        raw[section] = figures
    raw["load_avg_end"] = os.getloadavg()[0]
    return rows, raw


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def format_table(rows: list[Row]) -> str:
    """A Markdown table (pastes into docs/performance.md as is)."""
    lines = ["| comparison | baseline | candidate | speed-up | notes |", "| --- | --- | --- | ---: | --- |"]
    for row in rows:
        ratio = f"{row.ratio:.3g}x" if row.ratio is not None else "-"
        lines.append(f"| {row.name} | {row.baseline} | {row.candidate} | {ratio} | {row.note} |")
    return "\n".join(lines)


def write_json(path: Path, rows: list[Row], raw: dict[str, Any]) -> None:
    from harness.runlog import write_json_atomic

    write_json_atomic(path, {"rows": [r.to_dict() for r in rows], "raw": raw})
