"""A System backed by an in-process Hugging Face causal LM (optionally with a PEFT adapter).

The model loads lazily on the first ``generate`` call, so a run whose answers are all cached never
loads weights; ``fingerprint`` needs only file hashes. Subclasses (RAG, adapters) override
:meth:`prepare` to rewrite requests before generation and :meth:`fingerprint_extra` to add what
changes their outputs (index hash, adapter hash).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Iterator, Mapping, Sequence

from harness.api.errors import ConfigError
from harness.api.system import SENT_PROMPT, GenerationRequest, GenerationResult
from harness.models.generation import BatchGenerator, GenerationSettings
from harness.models.loops import LOOP_NGRAM, LOOP_REPEATS
from harness.models.sources import ResolvedModel, resolve

log = logging.getLogger(__name__)


class TransformersSystem:
    """``name`` + ``generate`` over a local model. Options (all from CLI/TOML):

    * ``model`` -- model name (packaged, local folder or hub id).
    * ``adapter`` -- a PEFT adapter folder applied on top (None for the bare model).
    * ``dtype`` -- ``auto`` (fp32 on CPU, bf16 on CUDA), ``float32``, ``bfloat16``.
    * ``device`` -- ``auto``, ``cpu`` or ``cuda[:N]``.
    * ``batch_size`` -- rows decoded together; None = automatic (KV-cache budget ``kv_cache_mb``).
    * ``autocast_bf16`` -- bf16 autocast on CPU (faster on AVX-512-BF16/AMX; text can change).
    * ``continuous`` -- continuous batching for greedy requests (default on).
    * ``loop_stop`` -- end a greedy answer once it repeats itself, ``finish_reason`` "loop" (default on).
    * ``quantize`` -- ``"int8"``: dynamic int8 quantisation of every linear layer (CPU only; faster on
      CPUs without bf16 hardware, greedy text can change; see docs/performance.md). Default None.

    One model load per system: the loaded generator is kept until :meth:`close`.
    """

    description = "base model with its chat template, greedy decoding"

    def __init__(
        self,
        name: str,
        model: str = "smollm2-135m-instruct",
        adapter: str | None = None,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        autocast_bf16: bool = False,
        trust_remote_code: bool = False,
        kv_cache_mb: int = 1024,
        continuous: bool = True,
        loop_stop: bool = True,
        quantize: str | None = None,
    ) -> None:
        from harness.models.loading import QUANTIZATIONS

        if quantize not in QUANTIZATIONS:
            raise ConfigError(f"quantize: {quantize!r} is not supported; use one of {', '.join(repr(q) for q in QUANTIZATIONS)}")
        self.name = name
        self.model_name = model
        self.adapter = adapter
        self.dtype = dtype
        self.device = device
        self.settings = GenerationSettings(batch_size=batch_size, autocast_bf16=autocast_bf16, kv_cache_mb=kv_cache_mb, continuous=continuous, loop_stop=loop_stop)
        self.trust_remote_code = trust_remote_code
        self.quantize = quantize
        self._resolved: ResolvedModel | None = None
        self._generator: BatchGenerator | None = None

    # -- identity -------------------------------------------------------------------------------
    @property
    def resolved(self) -> ResolvedModel:
        if self._resolved is None:
            self._resolved = resolve(self.model_name)
        return self._resolved

    def fingerprint_extra(self) -> Mapping[str, Any]:
        return {}

    @property
    def fingerprint(self) -> Mapping[str, Any]:
        fp: dict[str, Any] = {"class": type(self).__name__, **self.resolved.fingerprint(), "dtype": self.dtype, "autocast_bf16": self.settings.autocast_bf16}
        if self.quantize is not None:
            fp["quantize"] = self.quantize
        if self.settings.loop_stop:  # absent when off, so answers cached before loop stopping existed stay valid for it
            fp["loop_stop"] = {"ngram": LOOP_NGRAM, "repeats": LOOP_REPEATS}
        fp.update(self.fingerprint_extra())
        return fp

    def fingerprint_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True, default=str).encode()).hexdigest()

    # -- generation -----------------------------------------------------------------------------
    def load(self) -> BatchGenerator:
        if self._generator is None:
            from harness.models.loading import load_causal_lm

            model, tokenizer = load_causal_lm(self.resolved, dtype=self.dtype, device=self.device, trust_remote_code=self.trust_remote_code)
            model = self.wrap_model(model)
            if self.quantize is not None:
                from harness.models.loading import quantize_model

                model = quantize_model(model, self.quantize)
            self._generator = BatchGenerator(model, tokenizer, self.settings)
        return self._generator

    def wrap_model(self, model: Any) -> Any:
        """Hook for adapters: return the model to generate with (default: unchanged)."""
        return model

    def prepare(self, requests: Sequence[GenerationRequest]) -> tuple[list[GenerationRequest], list[dict[str, Any]]]:
        """Rewrite requests before generation; returns the rewritten requests and a per-request
        ``extra`` dict merged into each result. Default: no change."""
        return list(requests), [{} for _ in requests]

    def adapt_request(self, request: GenerationRequest) -> GenerationRequest:
        """Base models without a chat template get the plain question/answer transcript."""
        return request

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(requests)
        for batch in self._stream(requests):
            for index, result in batch:
                results[index] = result
        return [r for r in results if r is not None]

    def generate_stream(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Yield ``(index, result)`` as answers finish (continuous batching), so the runner can
        commit each one at once. A subclass that overrides :meth:`generate` is honoured: its
        ``generate`` is then called on chunks of the batch size."""
        if type(self).generate is not TransformersSystem.generate:
            step = self.settings.batch_size or 16
            for start in range(0, len(requests), step):
                yield list(enumerate(self.generate(requests[start : start + step]), start))
            return
        yield from self._stream(requests)

    def _stream(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, GenerationResult]]]:
        prepared, extras = self.prepare(requests)
        sent = [self.adapt_request(r) for r in prepared]
        generator = self.load()
        for batch in generator.stream(sent):
            for index, result in batch:
                result.id = requests[index].id
                result.extra.update(extras[index])
                if (sent[index].messages, sent[index].prompt) != (requests[index].messages, requests[index].prompt):
                    result.extra[SENT_PROMPT] = [m.to_dict() for m in sent[index].messages] if sent[index].messages is not None else sent[index].prompt
            yield batch

    def close(self) -> None:
        self._generator = None
        import gc

        gc.collect()


def vanilla(**options: Any) -> TransformersSystem:
    """The base student (SmolLM2-135M-Instruct) with its chat template, greedy decoding."""
    return TransformersSystem(name=options.pop("name", "vanilla"), **options)


vanilla.description = "SmolLM2-135M-Instruct as shipped, chat template, greedy"  # type: ignore[attr-defined]
