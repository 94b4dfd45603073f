"""The composed system: a model source with its optional retriever, adapter, prompt format and
decoding settings (declared by :mod:`harness.systems.composition`).

    python -m harness run --systems rag+lora --limit 5

A batch goes retriever (passages into the prompt, ``extra["retrieved"]`` recorded) -> prompt
format (chat or plain transcript) -> decoding settings -> model source (local weights with the
adapter merged, or an OpenAI-compatible endpoint). The fingerprint holds every part's identity,
so the generation cache never serves an answer made by another composition.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Iterator, Mapping, Sequence

from harness.api.errors import HarnessError
from harness.api.likelihood import LikelihoodSystem, LikelihoodUnsupported, LoglikelihoodRequest, LoglikelihoodResult
from harness.api.parts import Adapter, Retriever
from harness.api.system import SENT_PROMPT, GenerationRequest, GenerationResult, Selective, in_order
from harness.models.prompt_format import apply_format, format_fingerprint


class ComposedSystem:
    """``name`` + ``fingerprint`` + ``generate``/``generate_stream`` over the composed parts."""

    def __init__(self, name: str, spec: Any, source: Any, adapter: Adapter | None = None, retriever: Retriever | None = None) -> None:
        self.name = name
        self.spec = spec  # the SystemSpec it was built from
        self.source = source  # LocalModel or OpenAISystem: fingerprint + generate_stream + close
        self.adapter = adapter
        self.retriever = retriever
        self.description = getattr(spec, "where", name)

    @property
    def model_name(self) -> str:
        return str(getattr(self.source, "model_name", None) or self.source.config.model)

    # -- identity -------------------------------------------------------------------------------
    @property
    def item_fields(self) -> tuple[str, ...]:
        """Item fields the composition reads (the oracle retriever reads ``gold_passages``)."""
        return tuple(getattr(self.retriever, "item_fields", ()) or ())

    def shape(self) -> str:
        """The composition's shape as the fingerprint's ``class``: the names the systems had
        before they were compositions, so cached answers stay valid."""
        if "class" in self.source.fingerprint:
            return str(self.source.fingerprint["class"])
        if self.retriever is not None:
            return "RagAdapterSystem" if self.adapter is not None else "RagSystem"
        if self.adapter is not None:
            return "TeacherSystem" if self.spec.prompt == "plain" else "AdapterSystem"
        return "TransformersSystem"

    @property
    def fingerprint(self) -> Mapping[str, Any]:
        adapter = self._adapter_fingerprint()  # a bad adapter is refused before the base model is converted
        fp: dict[str, Any] = {**self.source.fingerprint, "class": self.shape()}
        if self.retriever is not None:
            fp["retrieval"] = dict(self.retriever.fingerprint())
        if adapter is not None:
            fp["adapter"] = dict(adapter)
        prompt = format_fingerprint(self.spec.prompt)
        if prompt is not None:
            fp["prompt"] = prompt
        if self.spec.temperature is not None:
            fp["decoding"] = {"temperature": self.spec.temperature}
        return fp

    def _adapter_fingerprint(self) -> Mapping[str, Any] | None:
        if self.adapter is None:
            return None
        where = getattr(self.spec, "where", "")
        try:
            return self.adapter.fingerprint(self.model_name)
        except HarnessError as exc:
            if ":" not in where:  # a built-in: the adapter folder already names the file
                raise
            raise type(exc)(f"{where}.adapter: {exc}") from None  # declared in a TOML file: name the file and field

    def fingerprint_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True, default=str).encode()).hexdigest()

    # -- generation -----------------------------------------------------------------------------
    def not_applicable(self, requests: Sequence[GenerationRequest]) -> Mapping[str, str]:
        """The requests the retriever cannot prepare (``rag-oracle`` without gold passages)."""
        return self.retriever.not_applicable(requests) if isinstance(self.retriever, Selective) else {}

    def prepare(self, requests: Sequence[GenerationRequest]) -> tuple[list[GenerationRequest], list[dict[str, Any]]]:
        """The requests as the model source gets them, and each one's ``extra``."""
        prepared, extras = self.retriever.prepare(requests) if self.retriever is not None else (list(requests), [{} for _ in requests])
        sent = [apply_format(self.spec.prompt, r) for r in prepared]
        if self.spec.temperature is not None:
            sent = [dataclasses.replace(r, temperature=float(self.spec.temperature)) for r in sent]
        return sent, extras

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        return in_order(self.generate_stream(requests), len(requests))

    def generate_stream(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Yield ``(index, result)`` as answers finish; each result records the retriever's
        ``extra`` and, when the prompt was rewritten, the prompt really sent."""
        sent, extras = self.prepare(requests)
        for batch in self.source.generate_stream(sent):
            for index, result in batch:
                result.id = requests[index].id
                result.extra.update(extras[index])
                if (sent[index].messages, sent[index].prompt) != (requests[index].messages, requests[index].prompt):
                    result.extra[SENT_PROMPT] = [m.to_dict() for m in sent[index].messages] if sent[index].messages is not None else sent[index].prompt
            yield batch

    # -- likelihood -----------------------------------------------------------------------------
    @property
    def model_fingerprint(self) -> Mapping[str, Any]:
        """What a whole text's log-probability depends on: the weights (model + adapter), not the
        retriever, prompt format or decoding; ``rag`` shares ``vanilla``'s corpus scores."""
        fp: dict[str, Any] = dict(getattr(self.source, "model_fingerprint", self.source.fingerprint))
        adapter = self._adapter_fingerprint()
        if adapter is not None:
            fp["adapter"] = dict(adapter)
        return fp

    @property
    def likelihood_fingerprint(self) -> Mapping[str, Any]:
        return dict(getattr(self.source, "likelihood_fingerprint", {}))

    def _likelihood_source(self) -> LikelihoodSystem:
        if not isinstance(self.source, LikelihoodSystem):
            raise LikelihoodUnsupported(f"{self.name}: its model source {type(self.source).__name__} cannot score text")
        return self.source

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Contexts are built by the generation path (:meth:`prepare`: retrieved passages, prompt
        format), once per distinct request id; each result's ``extra`` gets the retriever's record."""
        source = self._likelihood_source()
        prompts = list({r.request.id: r.request for r in requests}.values())
        sent, extras = self.prepare(prompts)
        built = {p.id: (s, e) for p, s, e in zip(prompts, sent, extras)}
        results = source.loglikelihood([dataclasses.replace(r, request=built[r.request.id][0]) for r in requests])
        for request, result in zip(requests, results):
            result.id = request.id
            result.extra.update(built[request.request.id][1])
        return results

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[LoglikelihoodResult]:
        return self._likelihood_source().loglikelihood_rolling(texts)

    def load(self) -> Any:
        """The local model's generator (loads the weights); local sources only."""
        return self.source.load()

    def close(self) -> None:
        self.source.close()
        if self.retriever is not None:
            self.retriever.close()
