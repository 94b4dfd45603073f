"""The same items, the same model, through lm-evaluation-harness's ``hf`` backend and through ours.

    pip install -e '.[bench]'                       # lm_eval is only in the bench extra
    python -m harness bench --peer lm-eval --items 40

lm-eval gets a custom ``generate_until`` task built in memory over a JSONL of our rendered user
turns, with our system prompt as ``system_instruction`` and ``apply_chat_template`` on, so both
tools feed the model the same chat-templated text (checked: ``prompt_identical``). Both decode
greedily with the same token budget, in fp32 on the CPU; lm-eval stops at the end-of-turn token
as we do. Reported: end-to-end wall time (model load + generation + lm-eval's own bookkeeping),
generation-only time (lm-eval's ``generate_until`` vs our ``generate``), and the fraction of
items whose stripped text is identical. Our pass runs before and after lm-eval's and the two
timings are averaged, so a change in machine load during the comparison hits both sides.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.errors import ConfigError

log = logging.getLogger(__name__)

TASK = "raq-peer"


@dataclass
class PeerReport:
    items: int
    max_new_tokens: int
    peer_batch_size: int
    ours_wall_s: float  # our model load + generation (mean of the passes before and after lm-eval)
    ours_generate_s: float  # generation only (mean of the two passes)
    peer_wall_s: float  # lm_eval.simple_evaluate, all of it
    peer_generate_s: float  # lm-eval's generate_until only
    agreement: float  # fraction of items with identical greedy text
    prompt_identical: float  # fraction of items where lm-eval's context equals our rendered prompt
    disagreements: list[dict[str, str]]  # up to 5 examples

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _lm_eval() -> Any:
    try:
        import lm_eval
    except ImportError:
        raise ConfigError("--peer lm-eval needs lm-evaluation-harness: pip install -e '.[bench]' (or pip install lm_eval)") from None
    return lm_eval


def compare_with_lm_eval(
    items: int = 40, max_new_tokens: int = 96, benchmark_path: str | None = None, model: str = "smollm2-135m-instruct", batch_size: int = 16
) -> PeerReport:
    lm_eval = _lm_eval()
    from lm_eval.models.huggingface import HFLM

    from harness.models.generation import render_prompt
    from harness.models.sources import resolve
    from harness.perf.generation import bench_requests
    from harness.systems.composition import vanilla

    benchmark, requests = bench_requests(benchmark_path, items, max_new_tokens)
    prompt = benchmark.config.prompt
    resolved = resolve(model)

    def run_ours() -> tuple[dict[str, str], float, float, Any]:
        started = time.perf_counter()
        system = vanilla(model=model, dtype="float32", device="cpu")
        generator = system.load()
        generate_started = time.perf_counter()
        texts = {r.id: r.text for r in system.generate(requests)}
        generate_s = time.perf_counter() - generate_started
        wall = time.perf_counter() - started
        tokenizer = generator.tokenizer
        system.close()
        return texts, wall, generate_s, tokenizer

    ours, first_wall, first_generate, tokenizer = run_ours()
    rendered = {r.id: render_prompt(tokenizer, r) for r in requests}
    eos_text = tokenizer.eos_token

    peer_generate = [0.0]
    original = HFLM.generate_until

    def timed_generate_until(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            peer_generate[0] += time.perf_counter() - t

    with tempfile.TemporaryDirectory(prefix="raq-peer-") as folder:
        data = Path(folder) / "items.jsonl"
        data.write_text("".join(json.dumps({"id": r.id, "user": r.question}) + "\n" for r in requests), encoding="utf-8")  # the rendered user turn
        task = {
            "task": TASK,
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(data)}},
            "test_split": "test",
            "output_type": "generate_until",
            "doc_to_text": lambda doc: doc["user"],
            "doc_to_target": lambda doc: "",
            "target_delimiter": "",
            "generation_kwargs": {"until": [eos_text], "max_gen_toks": max_new_tokens, "do_sample": False, "temperature": 0.0},
            "metric_list": [{"metric": "exact_match"}],
        }
        HFLM.generate_until = timed_generate_until  # type: ignore[method-assign]
        started = time.perf_counter()
        try:
            results = lm_eval.simple_evaluate(
                model="hf",
                model_args={"pretrained": str(resolved.path), "dtype": "float32", "device": "cpu"},
                tasks=[task],
                batch_size=batch_size,
                apply_chat_template=True,
                system_instruction=prompt.system or None,
                log_samples=True,
                bootstrap_iters=0,
            )
        finally:
            HFLM.generate_until = original  # type: ignore[method-assign]
        peer_wall = time.perf_counter() - started
    again, second_wall, second_generate, _ = run_ours()  # after lm-eval too: a load change hits both sides
    if again != ours:
        log.warning("our two passes disagree on %d items", sum(again[i] != ours[i] for i in ours))
    ours_wall, ours_generate = (first_wall + second_wall) / 2, (first_generate + second_generate) / 2
    samples = (results or {}).get("samples", {}).get(TASK, [])
    peer = {
        s["doc"]["id"]: (
            str(s["resps"][0][0]).strip(),
            str(s["arguments"][0][0] if isinstance(s["arguments"][0], (list, tuple)) else s["arguments"]["gen_args_0"]["arg_0"]),
        )
        for s in samples
    }
    same = [i for i in ours if i in peer and peer[i][0] == ours[i]]
    prompts_same = [i for i in ours if i in peer and peer[i][1] == rendered[i]]
    examples = [{"id": i, "ours": ours[i][:160], "lm_eval": peer.get(i, ("<missing>", ""))[0][:160]} for i in ours if i not in same][:5]
    return PeerReport(
        items=len(requests),
        max_new_tokens=max_new_tokens,
        peer_batch_size=batch_size,
        ours_wall_s=round(ours_wall, 3),
        ours_generate_s=round(ours_generate, 3),
        peer_wall_s=round(peer_wall, 3),
        peer_generate_s=round(peer_generate[0], 3),
        agreement=len(same) / len(requests),
        prompt_identical=len(prompts_same) / len(requests),
        disagreements=examples,
    )


def format_peer(report: PeerReport) -> str:
    r = report
    lines = [
        f"| measure | lm-eval hf (batch {r.peer_batch_size}) | ours | ours faster |",
        "| --- | ---: | ---: | ---: |",
        f"| end to end (load + generate) | {r.peer_wall_s:.1f} s | {r.ours_wall_s:.1f} s | {r.peer_wall_s / r.ours_wall_s:.2f}x |",
        f"| generation only | {r.peer_generate_s:.1f} s | {r.ours_generate_s:.1f} s | {r.peer_generate_s / r.ours_generate_s:.2f}x |",
        "",
        f"{r.items} items, max {r.max_new_tokens} new tokens, greedy fp32: "
        f"identical text on {r.agreement:.1%} of items; identical prompt on {r.prompt_identical:.1%}.",
    ]
    return "\n".join(lines)
