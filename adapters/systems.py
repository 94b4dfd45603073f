"""The adapter-backed systems: ``lora``, ``lora-kd``, ``teacher``, ``rag+lora``, ``rag+lora-kd``.

    python -m harness run --systems vanilla,lora,lora-kd,teacher --limit 20
    python -m harness run --systems lora-kd --train-missing          # train a stale/missing adapter first

Each loads its base model, checks the adapter's ``manifest.json`` against the current base weights,
corpus, teacher and config (:func:`adapters.manifest.check_adapter`), applies the adapter with
``PeftModel.from_pretrained`` and merges it for generation. The adapter hash is part of the
fingerprint, so cached answers never outlive a retrained adapter. A stale adapter is refused with
the command that retrains it, or trained when the run passes ``--train-missing``.

Options (``--system-config`` TOML keys): ``adapter`` (a folder; default ``adapters/shipped/<name>``),
``train_missing``, and the :class:`~harness.systems.transformers_system.TransformersSystem` ones
(``model``, ``dtype``, ``device``, ``batch_size``...); the ``rag+`` systems also take the
:class:`~retrieval_index.systems.RagConfig` fields.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

from harness.api.system import GenerationRequest
from harness.systems.transformers_system import TransformersSystem

DEFAULT_BASE = {"lora": "smollm2-135m-instruct", "lora-kd": "smollm2-135m-instruct", "teacher": "gemma3-270m"}
PLAIN_STOP = ("\nQuestion:", "\nAnswer:")  # a base model continues the transcript with more turns


class AdapterMixin:
    """Adds a checked PEFT adapter to a :class:`TransformersSystem` (or a subclass such as the
    RAG system): ``wrap_model`` attaches it, ``fingerprint_extra`` adds its hash."""

    def __init__(self, name: str, kind: str, adapter: str | None = None, train_missing: bool = False, **options: Any) -> None:
        from adapters.manifest import repo_path, shipped_dir

        self.kind = kind
        self.adapter_dir = repo_path(adapter) if adapter else shipped_dir(kind)
        self.train_missing = train_missing
        self._manifest: dict[str, Any] | None = None
        options.setdefault("model", _recorded_base(self.adapter_dir) or DEFAULT_BASE[kind])
        super().__init__(name=name, **options)  # type: ignore[call-arg]

    @property
    def manifest(self) -> dict[str, Any]:
        """The adapter's manifest, checked once (trained first under ``train_missing``)."""
        if self._manifest is None:
            from adapters.recipes import ensure_adapter

            self._manifest = ensure_adapter(self.kind, self.adapter_dir, model=self.model_name, train_missing=self.train_missing)  # type: ignore[attr-defined]
        return self._manifest

    @property
    def fingerprint(self) -> Mapping[str, Any]:
        self.manifest  # a corrupt or mismatched adapter is refused before the base model is resolved (converted)
        return super().fingerprint  # type: ignore[misc]

    def fingerprint_extra(self) -> Mapping[str, Any]:
        from adapters.manifest import display_path

        extra = dict(super().fingerprint_extra())  # type: ignore[misc]
        extra["adapter"] = {"kind": self.kind, "path": display_path(self.adapter_dir), "sha256": self.manifest["adapter_sha256"], "kd_path": self.manifest.get("kd_path")}
        return extra

    def wrap_model(self, model: Any) -> Any:
        from peft import PeftModel

        self.manifest  # checked before any weights are read
        wrapped = PeftModel.from_pretrained(model, str(self.adapter_dir), is_trainable=False)
        return wrapped.merge_and_unload()


def _recorded_base(folder: Any) -> str | None:
    """The base model named in an adapter's manifest (None when there is no readable one)."""
    import json

    try:
        return str(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["base_model"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class AdapterSystem(AdapterMixin, TransformersSystem):
    """Base model + checked LoRA adapter, the model's chat template, greedy decoding."""


class TeacherSystem(AdapterSystem):
    """The LoRA-tuned teacher on its own. It is a base model, so requests become a plain
    ``Question: ...\\nAnswer:`` transcript (never a chat template) and stop at the next turn."""

    def adapt_request(self, request: GenerationRequest) -> GenerationRequest:
        return plain_request(request)

    def fingerprint_extra(self) -> Mapping[str, Any]:
        return {**super().fingerprint_extra(), "prompt": {"format": "plain-question-answer", "stop": list(PLAIN_STOP)}}


def plain_request(request: GenerationRequest) -> GenerationRequest:
    """Render chat ``messages`` as a plain question/answer prompt for a base model."""
    if request.messages is None:
        return request
    parts = []
    for message in request.messages:
        content = message.content.strip()
        if message.role == "system":
            parts.append(content)
        elif message.role == "user":
            parts.append(content if content.startswith("Question:") or "\nQuestion:" in content else f"Question: {content}")
        else:
            parts.append(f"Answer: {content}")
    prompt = "\n\n".join(parts) + "\nAnswer:"
    stops = tuple(dict.fromkeys((*request.stop, *PLAIN_STOP)))
    return GenerationRequest(id=request.id, prompt=prompt, max_new_tokens=request.max_new_tokens, stop=stops, seed=request.seed, temperature=request.temperature, item=request.item)


@functools.cache
def _rag_adapter_class() -> type:
    from retrieval_index.systems import RagSystem

    class RagAdapterSystem(AdapterMixin, RagSystem):  # type: ignore[misc, valid-type]
        """Retrieved passages before the question, then the adapted student."""

    return RagAdapterSystem


def lora(**options: Any) -> AdapterSystem:
    """SmolLM2-135M-Instruct + the LoRA adapter trained on the corpus."""
    return AdapterSystem(name=options.pop("name", "lora"), kind="lora", **options)


def lora_kd(**options: Any) -> AdapterSystem:
    """SmolLM2-135M-Instruct + the LoRA adapter distilled from the LoRA-tuned teacher."""
    return AdapterSystem(name=options.pop("name", "lora-kd"), kind="lora-kd", **options)


def teacher(**options: Any) -> TeacherSystem:
    """Gemma-3-270M (base) + its corpus LoRA, plain question/answer prompt."""
    return TeacherSystem(name=options.pop("name", "teacher"), kind="teacher", **options)


def rag_lora(**options: Any) -> Any:
    """Top-k retrieved passages, then SmolLM2 + the LoRA adapter."""
    return _rag_adapter_class()(name=options.pop("name", "rag+lora"), kind="lora", **options)


def rag_lora_kd(**options: Any) -> Any:
    """Top-k retrieved passages, then SmolLM2 + the LoRA-KD adapter."""
    return _rag_adapter_class()(name=options.pop("name", "rag+lora-kd"), kind="lora-kd", **options)


lora.description = "SmolLM2-135M + LoRA on the corpus (adapters/shipped/lora)"  # type: ignore[attr-defined]
lora_kd.description = "SmolLM2-135M + LoRA distilled from the tuned Gemma-3-270M teacher (adapters/shipped/lora-kd)"  # type: ignore[attr-defined]
teacher.description = "Gemma-3-270M base + corpus LoRA, plain Q/A prompt (the KD teacher)"  # type: ignore[attr-defined]
rag_lora.description = "top-4 MiniLM/FAISS passages + SmolLM2-135M with the LoRA adapter"  # type: ignore[attr-defined]
rag_lora_kd.description = "top-4 MiniLM/FAISS passages + SmolLM2-135M with the LoRA-KD adapter"  # type: ignore[attr-defined]
for _factory in (lora, lora_kd, teacher, rag_lora, rag_lora_kd):
    _factory.accepts_train_missing = True  # type: ignore[attr-defined]
