"""Batched greedy (or seeded sampling) generation with a Hugging Face causal LM.

Requests are rendered to token ids (chat template for ``messages``, raw text for ``prompt``),
grouped by decoding settings, sorted by prompt length so each batch pads little, padded on the
left, and generated together. Output order matches input order.

Edge cases: stop strings cut the completion before the stop; ``completion_tokens`` counts tokens
up to (not including) the first EOS; ``finish_reason`` is ``length`` when the budget ran out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from harness.api.system import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)


@dataclass
class GenerationSettings:
    batch_size: int = 16  # prompts per forward pass; 16 is the 2-core CPU sweet spot for 135M
    autocast_bf16: bool = False  # CPU bf16 autocast: faster on AVX-512-BF16, greedy text may change


def render_prompt(tokenizer: Any, request: GenerationRequest) -> str:
    """The exact text fed to the model for ``request``."""
    if request.prompt is not None:
        return request.prompt
    messages = [m.to_dict() for m in request.messages or ()]
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    # Base models without a template: a plain transcript ending where the answer starts.
    parts = [f"{m['content']}" if m["role"] == "system" else f"{'Question' if m['role'] == 'user' else 'Answer'}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\nAnswer:"


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    cut = len(text)
    for stop in stops:
        if stop:
            index = text.find(stop)
            if index != -1:
                cut = min(cut, index)
    return text[:cut], cut < len(text)


class BatchGenerator:
    """Owns a loaded model + tokenizer and answers requests in batches."""

    def __init__(self, model: Any, tokenizer: Any, settings: GenerationSettings | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings or GenerationSettings()
        self.device = next(model.parameters()).device

    def generate(self, requests: Sequence[GenerationRequest], progress: Callable[[int], None] | None = None) -> list[GenerationResult]:
        texts = [render_prompt(self.tokenizer, r) for r in requests]
        # Add special tokens only when the rendered text does not already start with BOS.
        encoded = [self._encode(t) for t in texts]
        order = sorted(range(len(requests)), key=lambda i: (self._group_key(requests[i]), len(encoded[i])))
        results: list[GenerationResult | None] = [None] * len(requests)
        size = max(1, self.settings.batch_size)
        start = 0
        while start < len(order):
            key = self._group_key(requests[order[start]])
            batch = [order[start]]
            while len(batch) < size and start + len(batch) < len(order) and self._group_key(requests[order[start + len(batch)]]) == key:
                batch.append(order[start + len(batch)])
            for index, result in zip(batch, self._generate_batch([requests[i] for i in batch], [encoded[i] for i in batch])):
                results[index] = result
            if progress is not None:
                progress(len(batch))
            start += len(batch)
        return [r for r in results if r is not None]

    @staticmethod
    def _group_key(request: GenerationRequest) -> tuple[Any, ...]:
        return (request.temperature, request.stop, request.max_new_tokens, request.seed if request.temperature > 0 else 0)

    def _encode(self, text: str) -> list[int]:
        bos = self.tokenizer.bos_token
        add_special = not (bos and text.startswith(bos))
        return list(self.tokenizer(text, add_special_tokens=add_special)["input_ids"])

    def _generate_batch(self, requests: list[GenerationRequest], ids: list[list[int]]) -> list[GenerationResult]:
        import torch

        first = requests[0]
        pad_id = self.tokenizer.pad_token_id
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            attention[row, width - len(seq) :] = 1
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention.to(self.device),
            "max_new_tokens": first.max_new_tokens,
            "pad_token_id": pad_id,
        }
        if first.temperature > 0:
            torch.manual_seed(first.seed)
            kwargs.update(do_sample=True, temperature=first.temperature, top_p=1.0, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if first.stop:
            kwargs["stopping_criteria"] = _stop_criteria(self.tokenizer, width, first.stop)
        started = time.perf_counter()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.settings.autocast_bf16 and self.device.type == "cpu"):
            output = self.model.generate(**kwargs)
        elapsed = time.perf_counter() - started
        generated = output[:, width:].tolist()
        eos_ids = self._eos_ids()
        results = []
        for request, seq, prompt in zip(requests, generated, ids):
            count = len(seq)
            for position, token in enumerate(seq):
                if token in eos_ids:
                    count = position
                    break
            text = self.tokenizer.decode(seq[:count], skip_special_tokens=True)
            text, stopped = cut_at_stop(text, request.stop)
            finish = "stop" if stopped or count < len(seq) or count < request.max_new_tokens else "length"
            results.append(
                GenerationResult(
                    id=request.id,
                    text=text.strip(),
                    prompt_tokens=len(prompt),
                    completion_tokens=count,
                    latency_s=elapsed / len(requests),
                    finish_reason=finish,
                )
            )
        return results

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        config_eos = self.model.generation_config.eos_token_id
        if isinstance(config_eos, int):
            ids.add(config_eos)
        elif isinstance(config_eos, (list, tuple)):
            ids.update(int(x) for x in config_eos)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return ids


def _stop_criteria(tokenizer: Any, prompt_width: int, stops: Sequence[str]) -> Any:
    """Stop a row once its decoded completion contains a stop string (works with any tokenizer,
    unlike token-level matching); rows already stopped keep generating padding until all stop."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnStrings(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            tails = tokenizer.batch_decode(input_ids[:, prompt_width:], skip_special_tokens=True)
            return torch.tensor([any(s and s in t for s in stops) for t in tails], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnStrings()])
