"""The adapter part (``adapter = ...`` in a system's TOML table) and the adapter-backed systems:
``lora``, ``lora-kd``, ``teacher``, ``rag+lora``, ``rag+lora-kd``.

    python -m harness run --systems vanilla,lora,lora-kd,teacher --limit 20
    python -m harness run --systems lora-kd --train-missing          # train a stale/missing adapter first

:class:`PeftAdapter` checks the adapter folder's ``manifest.json`` against the current base
weights, corpus, teacher and config (:func:`adapters.manifest.check_adapter`), then applies it
with ``PeftModel.from_pretrained`` and merges it for generation. Its hash is part of the
fingerprint, so cached answers never outlive a retrained adapter. A stale adapter is refused with
the command that retrains it, or trained when the run passes ``--train-missing``. It registers as
the ``peft`` entry point of ``harness.adapters``; the systems below are compositions
(:func:`harness.systems.composition.declare`) that name it.

Adapter table keys: ``path`` (the folder), ``kind`` (the training method the folder must hold:
lora, lora-kd, teacher; default: what its manifest says).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from harness.api.errors import ConfigError
from harness.systems.composition import declare


class PeftAdapter:
    """A PEFT LoRA folder with its provenance manifest."""

    def __init__(self, path: str, kind: str | None = None, train_missing: bool = False) -> None:
        from adapters.manifest import repo_path

        self.folder = repo_path(path)
        self.kind = kind or _recorded(self.folder, "kind") or self.folder.name
        self.train_missing = train_missing
        self._manifest: dict[str, Any] | None = None
        self._checked_for: str | None = None

    @property
    def base_model(self) -> str | None:
        """The base model named in the manifest; without one, the recipe's default base."""
        recorded = _recorded(self.folder, "base_model", "name")
        if recorded is not None:
            return recorded
        from adapters.config import KINDS, load_spec

        return load_spec(self.kind, None, ()).lora.base if self.kind in KINDS else None

    def manifest(self, model: str) -> dict[str, Any]:
        """The manifest, checked once per base model (trained first under ``train_missing``)."""
        if self._manifest is None or self._checked_for != model:
            from adapters.recipes import ensure_adapter

            self._manifest = ensure_adapter(self.kind, self.folder, model=model, train_missing=self.train_missing)
            self._checked_for = model
        return self._manifest

    def fingerprint(self, model: str) -> Mapping[str, Any]:
        from adapters.manifest import display_path

        manifest = self.manifest(model)
        return {"kind": self.kind, "path": display_path(self.folder), "sha256": manifest["adapter_sha256"], "kd_path": manifest.get("kd_path")}

    def apply(self, model: Any) -> Any:
        from peft import PeftModel

        wrapped = PeftModel.from_pretrained(model, str(self.folder), is_trainable=False)
        return wrapped.merge_and_unload()


def _recorded(folder: Path, *keys: str) -> str | None:
    """A value from an adapter's manifest (None when there is no readable one)."""
    try:
        value: Any = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        for key in keys:
            value = value[key]
        return str(value)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def peft_adapter(**options: Any) -> PeftAdapter:
    """The ``peft`` adapter part: ``path`` (required), ``kind``, ``train_missing``."""
    allowed = ("kind", "path", "train_missing")
    for key in options:
        if key not in allowed:
            raise ConfigError(f"{key}: unknown adapter option; allowed: {', '.join(allowed)}")
    if not isinstance(options.get("path"), str):
        raise ConfigError(f"path: expected the adapter folder as a string, got {options.get('path')!r}")
    return PeftAdapter(**options)


def _shipped(kind: str) -> dict[str, str]:
    return {"path": f"adapters/shipped/{kind}", "kind": kind}


lora = declare("lora", "SmolLM2-135M + LoRA on the corpus (adapters/shipped/lora)", adapter=_shipped("lora"))
lora_kd = declare("lora-kd", "SmolLM2-135M + LoRA distilled from the tuned Gemma-3-270M teacher (adapters/shipped/lora-kd)", adapter=_shipped("lora-kd"))
teacher = declare("teacher", "Gemma-3-270M base + corpus LoRA, plain Q/A prompt (the KD teacher)", adapter=_shipped("teacher"), prompt="plain")
rag_lora = declare("rag+lora", "top-4 MiniLM/FAISS passages + SmolLM2-135M with the LoRA adapter", adapter=_shipped("lora"), retriever={})
rag_lora_kd = declare("rag+lora-kd", "top-4 MiniLM/FAISS passages + SmolLM2-135M with the LoRA-KD adapter", adapter=_shipped("lora-kd"), retriever={})
