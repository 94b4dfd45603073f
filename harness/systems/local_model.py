"""The local model source of a composed system: an in-process Hugging Face causal LM, with an
optional adapter applied on load.

    python -m harness run --systems vanilla --limit 5

The model loads lazily on the first request, so a run whose answers are all cached never loads
weights; ``fingerprint`` needs only file hashes. One model load per source: the loaded generator
is kept until :meth:`close`.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping, Sequence

from harness.api.likelihood import LoglikelihoodRequest, LoglikelihoodResult, joined
from harness.api.parts import Adapter
from harness.api.system import GenerationRequest, GenerationResult
from harness.models.generation import GENERATION_CODE_VERSION, BatchGenerator, GenerationSettings, model_library_versions
from harness.models.likelihood import LikelihoodScorer, LikelihoodSettings
from harness.models.loops import LOOP_NGRAM, LOOP_REPEATS
from harness.models.sources import ResolvedModel, resolve

log = logging.getLogger(__name__)


class LocalModel:
    """Weights on this machine (packaged name, local folder or hub id) answering in batches.

    * ``model`` -- model name (packaged, local folder or hub id).
    * ``dtype`` -- ``auto`` (fp32 on CPU, bf16 on CUDA), ``float32``, ``bfloat16``, ``float16``.
    * ``device`` -- ``auto``, ``cpu`` or ``cuda[:N]``.
    * ``settings`` -- batch size, bf16 autocast, KV-cache budget, continuous batching, loop stop.
    * ``adapter`` -- applied to the weights on load (None for the bare model).
    * ``quantize`` -- ``"int8"``: dynamic int8 quantisation of every linear layer after the adapter
      is merged (CPU only; faster on CPUs without bf16 hardware, greedy text can change). None = off.
    * ``likelihood`` -- rolling window and batching of :meth:`loglikelihood` (defaults: 2048-token windows).
    """

    def __init__(
        self,
        model: str,
        dtype: str = "auto",
        device: str = "auto",
        settings: GenerationSettings | None = None,
        trust_remote_code: bool = False,
        adapter: Adapter | None = None,
        quantize: str | None = None,
        likelihood: LikelihoodSettings | None = None,
    ) -> None:
        self.model_name = model
        self.dtype = dtype
        self.device = device
        self.settings = settings or GenerationSettings()
        self.trust_remote_code = trust_remote_code
        self.adapter = adapter
        self.quantize = quantize
        self._resolved: ResolvedModel | None = None
        self.likelihood = likelihood or LikelihoodSettings()
        self._generator: BatchGenerator | None = None
        self._scorer: LikelihoodScorer | None = None

    @property
    def resolved(self) -> ResolvedModel:
        if self._resolved is None:
            self._resolved = resolve(self.model_name)
        return self._resolved

    @property
    def fingerprint(self) -> Mapping[str, Any]:
        """The weights' identity plus what decides the numbers computed from them: the resolved
        dtype and device (``auto`` is resolved, so ``auto`` and ``float32`` on a CPU share answers),
        the generation code's version and the versions of the libraries that run the model."""
        from harness.models.loading import pick_device, torch_dtype

        device = pick_device(self.device)
        dtype = str(torch_dtype(self.dtype, device)).removeprefix("torch.")
        fp: dict[str, Any] = {
            **self.resolved.fingerprint(),
            "dtype": dtype,
            "device": device.split(":")[0],  # the GPU's index does not change an answer
            "autocast_bf16": self.settings.autocast_bf16,
            "generation_code": GENERATION_CODE_VERSION,
            "libraries": model_library_versions(),
        }
        if self.quantize is not None:
            fp["quantize"] = self.quantize
        if self.settings.loop_stop:  # absent when off, so answers cached before loop stopping existed stay valid for it
            fp["loop_stop"] = {"ngram": LOOP_NGRAM, "repeats": LOOP_REPEATS}
        return fp

    def load(self) -> BatchGenerator:
        if self._generator is None:
            from harness.models.loading import load_causal_lm

            if self.adapter is not None:
                self.adapter.fingerprint(self.model_name)  # checked before any weights are read
            model, tokenizer = load_causal_lm(self.resolved, dtype=self.dtype, device=self.device, trust_remote_code=self.trust_remote_code)
            if self.adapter is not None:
                model = self.adapter.apply(model)
            if self.quantize is not None:
                from harness.models.loading import quantize_model

                model = quantize_model(model, self.quantize)
            self._generator = BatchGenerator(model, tokenizer, self.settings)
        return self._generator

    def generate_stream(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, GenerationResult]]]:
        """``(index, result)`` pairs as answers finish (continuous batching)."""
        yield from self.load().stream(requests)

    # -- likelihood -----------------------------------------------------------------------------
    @property
    def model_fingerprint(self) -> Mapping[str, Any]:
        """What a text's log-probability depends on: the weights as loaded (no decoding settings)."""
        return {k: v for k, v in self.fingerprint.items() if k != "loop_stop"}

    @property
    def likelihood_fingerprint(self) -> Mapping[str, Any]:
        return self.likelihood.fingerprint()

    def scorer(self) -> LikelihoodScorer:
        if self._scorer is None:
            generator = self.load()
            self._scorer = LikelihoodScorer(generator.model, generator.tokenizer, self.likelihood, autocast_bf16=self.settings.autocast_bf16)
        return self._scorer

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Each request's context is its prompt rendered as for generation (chat template or
        plain text), then its answer prefix (:func:`~harness.api.likelihood.joined`)."""
        from harness.models.generation import render_prompt

        scorer = self.scorer()
        pairs = [joined(render_prompt(scorer.tokenizer, r.request), r.answer_prefix, r.continuation) for r in requests]
        return [LoglikelihoodResult(r.id, s.logprob, s.tokens, s.greedy, s.context_tokens) for r, s in zip(requests, scorer.score_pairs(pairs))]

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[LoglikelihoodResult]:
        return [LoglikelihoodResult(str(i), s.logprob, s.tokens, s.greedy) for i, s in enumerate(self.scorer().score_texts(texts))]

    def close(self) -> None:
        self._generator = None
        self._scorer = None
        import gc

        gc.collect()
