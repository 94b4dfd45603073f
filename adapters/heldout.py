"""Held-out domain text: a model's bits per byte on text it never trains on, for early stopping.

    python -m harness train lora     # evaluates benchmarks/raq/heldout at each epoch end (config: heldout, patience, eval_every)

Training on the corpus (and its derived questions) for many epochs first teaches the domain, then
memorises the training text; the loss on the training text keeps falling through both. Domain text
that training never sees tells them apart: its bits per byte falls while the model learns the
domain and rises once it overfits, so training keeps the adapter of the lowest held-out bits per
byte and stops after ``patience`` evaluations without a new low (:mod:`adapters.trainer`).

The documents (``.md`` with optional front matter, ``.txt``) are tokenised as the corpus is
(:func:`adapters.data.tokenize_documents`: each document, then EOS) and cut into windows of
``seq_len`` tokens, each window one context token (BOS for tokenizers that use one, else the token
before the window -- EOS for the first) followed by up to ``seq_len - 1`` tokens that are
predicted, so every token is predicted exactly once (with at most ``seq_len - 1`` tokens of
context). Bits per byte = summed negative log-likelihood / ln 2 / UTF-8 bytes of the document
texts; it does not depend on the tokenizer, so the teacher's and the student's compare.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.config import LoraTrainConfig

from harness.api.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SUFFIXES = (".md", ".txt")


@dataclass(frozen=True)
class HeldOutText:
    """Held-out documents as prediction windows for one tokenizer."""

    folder: Path
    sha256: str  # harness.corpus.content_hash of the folder
    documents: int
    bytes: int  # UTF-8 bytes of the document texts
    tokens: int  # predicted tokens: every document token and each document's EOS
    input_ids: Any  # [n_windows, seq_len] long, padded with EOS
    labels: Any  # [n_windows, seq_len] long: the token position i predicts, -100 where none

    def describe(self) -> dict[str, Any]:
        """What a manifest records of the held-out set."""
        from adapters.manifest import display_path

        return {"path": display_path(self.folder), "sha256": self.sha256, "documents": self.documents, "bytes": self.bytes, "tokens": self.tokens}


def heldout_folder(config: LoraTrainConfig) -> Path | None:
    """The folder ``config.heldout`` names (relative to the repository), or None when held-out
    evaluation is off. A missing folder is an error only when early stopping needs it."""
    from adapters.manifest import repo_path

    if not config.heldout:
        return None
    folder = repo_path(config.heldout)
    if folder.is_dir():
        return folder
    if config.patience > 0:
        raise ConfigError(
            f"heldout={config.heldout!r}: no such folder; early stopping (patience={config.patience}) evaluates held-out domain text there "
            "-- add the folder, point heldout at another one, or set patience=0 to train every epoch without it"
        )
    log.warning("heldout=%r: no such folder; training without held-out evaluation", config.heldout)
    return None


def heldout_texts(folder: Path) -> list[str]:
    """Document texts under ``folder`` (sorted by path; README.md and empty files left out)."""
    from harness.corpus import document_files, read_document

    texts = []
    for path in document_files(folder, SUFFIXES):
        text = read_document(path, folder, strict=False).body if path.suffix.lower() == ".md" else path.read_text(encoding="utf-8")
        if text.strip():
            texts.append(text.strip())
    if not texts:
        raise DataError(f"{folder}: no held-out text (.md or .txt files with a body); add documents or point heldout at another folder")
    return texts


def load_heldout(folder: Path, tokenizer: Any, seq_len: int) -> HeldOutText:
    """The held-out documents under ``folder`` as ``seq_len`` windows for ``tokenizer``."""
    import torch

    from adapters.data import bos_id, eos_id, tokenize_documents
    from harness.corpus import content_hash

    texts = heldout_texts(Path(folder))
    ids = tokenize_documents(texts, tokenizer).ids
    bos, eos = bos_id(tokenizer), eos_id(tokenizer)
    body = seq_len - 1
    n = math.ceil(len(ids) / body)
    input_ids = torch.full((n, seq_len), eos, dtype=torch.long)
    labels = torch.full((n, seq_len), -100, dtype=torch.long)
    for window in range(n):
        chunk = ids[window * body : (window + 1) * body]
        context = bos if bos is not None else (ids[window * body - 1] if window else eos)
        input_ids[window, 0] = context
        input_ids[window, 1 : 1 + len(chunk)] = torch.tensor(chunk, dtype=torch.long)
        labels[window, : len(chunk)] = torch.tensor(chunk, dtype=torch.long)
    size = sum(len(t.encode("utf-8")) for t in texts)
    return HeldOutText(Path(folder), content_hash(Path(folder), SUFFIXES), len(texts), size, len(ids), input_ids, labels)


def bits_per_byte(model: Any, heldout: HeldOutText, batch_size: int, autocast_bf16: bool = False) -> float:
    """Summed next-token NLL of ``model`` over the held-out windows, in bits per UTF-8 byte."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16 and device.type in ("cpu", "cuda")):
            for start in range(0, heldout.input_ids.shape[0], batch_size):
                ids = heldout.input_ids[start : start + batch_size].to(device)
                labels = heldout.labels[start : start + batch_size].to(device)
                logits = model(input_ids=ids).logits
                total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100, reduction="sum"))
    finally:
        model.train(was_training)
    return total / math.log(2) / max(1, heldout.bytes)
