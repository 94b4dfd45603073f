"""Batched generation with a Hugging Face causal LM: continuous batching for greedy requests,
static batches through ``model.generate`` for sampling and unsupported (sliding-window) models.

    python -m harness bench --items 40      # speed and agreement against plain generate

Requests are rendered to token ids (chat template for ``messages``, raw text for ``prompt``).
Greedy requests on full-attention models go through :class:`ContinuousBatcher`: finished rows
leave the batch and queued prompts take their slots, so short answers do not wait for long ones.
Everything else is grouped by decoding settings, sorted by prompt length, padded on the left and
generated in static batches. :meth:`BatchGenerator.stream` yields results as they finish;
:meth:`BatchGenerator.generate` returns them in input order.

Edge cases: stop strings cut the completion before the stop; ``completion_tokens`` counts tokens
up to (not including) the first EOS; ``finish_reason`` is ``length`` when the budget ran out and
``loop`` when a repetition loop ended the answer early (``loop_stop``, :mod:`harness.models.loops`;
the completion keeps the tokens up to the point the loop was recognised).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from harness.api.errors import ConfigError
from harness.api.system import GenerationRequest, GenerationResult
from harness.models.continuous_batching import ForwardTimings
from harness.models.loops import LoopDetector, find_loop

log = logging.getLogger(__name__)

#: Bump when a change to this package can change a generated token (decoding, stopping, batching,
#: padding): cached answers of local models are keyed on it and are regenerated after a bump.
GENERATION_CODE_VERSION = 1

#: The distributions that run a local model; their versions are part of its fingerprint.
MODEL_LIBRARIES = ("torch", "transformers", "peft", "tokenizers")


def model_library_versions() -> dict[str, str]:
    """Installed versions of :data:`MODEL_LIBRARIES` (absent ones left out)."""
    from importlib import metadata

    out = {}
    for name in MODEL_LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


AUTO_MAX_ROWS = 64  # automatic batch size never exceeds this many rows (see docs/performance.md)


@dataclass(frozen=True)
class GenerationSettings:
    batch_size: int | None = None  # rows decoded together; None = automatic (KV-cache budget, <= AUTO_MAX_ROWS)
    autocast_bf16: bool = False  # bf16 autocast: faster on AVX-512-BF16/AMX cores, greedy text may change
    kv_cache_mb: int = 1024  # automatic batch size: MiB the KV cache of all rows may take
    prefill_tokens: int = 4096  # padded prompt tokens per prefill forward; bounds activation memory
    continuous: bool = True  # continuous batching for greedy requests (False: static batches via generate)
    loop_stop: bool = True  # end a greedy answer once it repeats itself (finish_reason "loop"); saves ~1/3 of decode tokens

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1 or None (automatic), got {self.batch_size}")
        if self.kv_cache_mb < 1:
            raise ConfigError(f"kv_cache_mb must be >= 1 MiB, got {self.kv_cache_mb}")
        if self.prefill_tokens < 1:
            raise ConfigError(f"prefill_tokens must be >= 1, got {self.prefill_tokens}")


def render_prompt(tokenizer: Any, request: GenerationRequest) -> str:
    """The exact text fed to the model for ``request``."""
    if request.prompt is not None:
        return request.prompt
    if getattr(tokenizer, "chat_template", None):
        messages = [m.to_dict() for m in request.messages or ()]
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    from harness.models.prompt_format import plain_transcript  # base models without a template

    return plain_transcript(request.messages or ())


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
        self._continuous: bool | None = None  # whether the model supports continuous batching
        self.timings = ForwardTimings()  # prefill and decode time of the continuous path, summed over calls

    def generate(self, requests: Sequence[GenerationRequest], progress: Callable[[int], None] | None = None) -> list[GenerationResult]:
        """Results in input order; ``progress(n)`` is called as ``n`` more requests finish."""
        results: list[GenerationResult | None] = [None] * len(requests)
        for batch in self.stream(requests):
            for index, result in batch:
                results[index] = result
            if progress is not None:
                progress(len(batch))
        return [r for r in results if r is not None]

    def stream(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Yield ``(input index, result)`` pairs, a list per forward pass that finished any."""
        encoded = [self._encode(render_prompt(self.tokenizer, r)) for r in requests]
        greedy = [i for i, r in enumerate(requests) if r.temperature <= 0]
        if greedy and self.settings.continuous and self.supports_continuous():
            yield from self._stream_continuous(requests, encoded, greedy)
            rest = [i for i, r in enumerate(requests) if r.temperature > 0]
        else:
            rest = list(range(len(requests)))
        yield from self._stream_static(requests, encoded, rest)

    def supports_continuous(self) -> bool:
        if self._continuous is None:
            from harness.models.continuous_batching import supports_model

            self._continuous = supports_model(self.model)
            if not self._continuous:
                log.info("%s: sliding-window or hybrid cache; using static batches", type(self.model).__name__)
        return self._continuous

    def rows_for(self, longest: int) -> int:
        """Rows per batch: the setting, or as many as ``kv_cache_mb`` holds at ``longest`` tokens."""
        if self.settings.batch_size is not None:
            return self.settings.batch_size
        config = self.model.config.get_text_config(decoder=True)
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        element = next(self.model.parameters()).element_size()
        per_token = 2 * config.num_hidden_layers * heads * head_dim * element
        rows = (self.settings.kv_cache_mb * 2**20) // max(1, per_token * longest)
        return int(max(1, min(AUTO_MAX_ROWS, rows)))

    def _stream_continuous(
        self, requests: Sequence[GenerationRequest], encoded: list[list[int]], chosen: list[int]
    ) -> Iterator[list[tuple[int, GenerationResult]]]:
        from harness.models.continuous_batching import ContinuousBatcher, DecodeTask

        tasks = [DecodeTask(i, encoded[i], requests[i].max_new_tokens, self._stop_check(requests[i].stop), loop_stop=self.settings.loop_stop) for i in chosen]
        longest = max(len(encoded[i]) + requests[i].max_new_tokens for i in chosen)
        batcher = ContinuousBatcher(
            self.model,
            eos_ids=self._eos_ids(),
            pad_id=self.tokenizer.pad_token_id,
            max_rows=self.rows_for(longest),
            prefill_tokens=self.settings.prefill_tokens,
            autocast_bf16=self.settings.autocast_bf16 and self.device.type == "cpu",
        )
        for outputs in batcher.run(tasks):
            batch = []
            for out in outputs:
                request = requests[out.index]
                text, stopped = cut_at_stop(self.tokenizer.decode(out.tokens, skip_special_tokens=True), request.stop)
                finish = "stop" if stopped else out.finish_reason
                batch.append(
                    (
                        out.index,
                        GenerationResult(
                            id=request.id,
                            text=text.strip(),
                            prompt_tokens=len(encoded[out.index]),
                            completion_tokens=len(out.tokens),
                            latency_s=out.latency_s,
                            finish_reason=finish,
                        ),
                    )
                )
            yield batch
        self.timings.merge(batcher.timings)

    def _stop_check(self, stops: Sequence[str]) -> Callable[[list[int]], bool] | None:
        wanted = [s for s in stops if s]
        if not wanted:
            return None
        tokenizer = self.tokenizer

        def check(tokens: list[int]) -> bool:
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            return any(s in text for s in wanted)

        return check

    def _stream_static(
        self, requests: Sequence[GenerationRequest], encoded: list[list[int]], chosen: list[int]
    ) -> Iterator[list[tuple[int, GenerationResult]]]:
        if not chosen:
            return
        order = sorted(chosen, key=lambda i: (self._group_key(requests[i]), len(encoded[i])))
        size = self.rows_for(max(len(encoded[i]) + requests[i].max_new_tokens for i in chosen))
        start = 0
        while start < len(order):
            key = self._group_key(requests[order[start]])
            batch = [order[start]]
            while len(batch) < size and start + len(batch) < len(order) and self._group_key(requests[order[start + len(batch)]]) == key:
                batch.append(order[start + len(batch)])
            yield list(zip(batch, self._generate_batch([requests[i] for i in batch], [encoded[i] for i in batch])))
            start += len(batch)

    @staticmethod
    def _group_key(request: GenerationRequest) -> tuple[Any, ...]:
        return (request.temperature, request.stop, request.max_new_tokens, request.seed if request.temperature > 0 else 0)

    def _encode(self, text: str) -> list[int]:
        # Add special tokens only when the rendered text does not already start with BOS.
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
        loop_stop = self.settings.loop_stop and first.temperature <= 0
        if first.stop or loop_stop:
            kwargs["stopping_criteria"] = _stop_criteria(self.tokenizer, width, first.stop, loop_stop)
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
            looped = find_loop(seq[:count]) if loop_stop else None
            if looped is not None:
                count = looped.looped_at or count
            text = self.tokenizer.decode(seq[:count], skip_special_tokens=True)
            text, stopped = cut_at_stop(text, request.stop)
            if stopped and pad_id is not None:  # generate() pads a row its stop string ended while others go on
                while count > 0 and seq[count - 1] == pad_id:  # (the pad id need not be an EOS id: Gemma's is 0)
                    count -= 1
            if looped is not None and not stopped:
                finish = "loop"
            else:
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


def _stop_criteria(tokenizer: Any, prompt_width: int, stops: Sequence[str], loop_stop: bool = False) -> Any:
    """Stop a row once its decoded completion contains a stop string (works with any tokenizer,
    unlike token-level matching) or, with ``loop_stop``, once its tokens loop; rows already
    stopped keep generating padding until all stop."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    wanted = [s for s in stops if s]

    class StopOnStringsOrLoops(StoppingCriteria):
        def __init__(self) -> None:
            self.detectors: list[LoopDetector] = []

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            done = [False] * input_ids.shape[0]
            if wanted:
                tails = tokenizer.batch_decode(input_ids[:, prompt_width:], skip_special_tokens=True)
                done = [any(s in t for s in wanted) for t in tails]
            if loop_stop:
                if not self.detectors:
                    self.detectors = [LoopDetector() for _ in range(input_ids.shape[0])]
                last = input_ids[:, -1].tolist()
                done = [d or detector.feed(token) for d, detector, token in zip(done, self.detectors, last)]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnStringsOrLoops()])
