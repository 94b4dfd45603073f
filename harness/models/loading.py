"""Load a resolved model folder with transformers: safetensors only, no remote code by default."""

from __future__ import annotations

import logging
import os
from typing import Any

from harness.api.errors import ArtifactError, ConfigError
from harness.models.sources import ResolvedModel

log = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "bfloat16", "float16")
QUANTIZATIONS = (None, "int8")  # weight quantisation applied after loading (and after any adapter is merged)


def pick_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but no CUDA GPU is visible; use --device cpu or auto")
    return device


def torch_dtype(name: str, device: str) -> Any:
    """``auto`` is bf16 on CUDA and fp32 on CPU (bf16 on CPU is an explicit choice: faster on
    AVX-512-BF16 cores, but greedy text can change)."""
    import torch

    if name not in DTYPES:
        raise ConfigError(f"dtype {name!r} is not supported; use one of {', '.join(DTYPES)}")
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def load_tokenizer(resolved: ResolvedModel) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(resolved.path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # decoder-only batching pads on the left
    return tokenizer


def load_causal_lm(resolved: ResolvedModel, dtype: str = "auto", device: str = "auto", trust_remote_code: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode on ``device``. Weights must be safetensors."""
    from transformers import AutoModelForCausalLM

    device = pick_device(device)
    torch_type = torch_dtype(dtype, device)
    if trust_remote_code:
        log.warning("trust_remote_code is on: %s may run code shipped with the model", resolved.name)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(resolved.path),
            dtype=torch_type,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            low_cpu_mem_usage=True,
        )
    except OSError as exc:
        raise ArtifactError(f"{resolved.path}: cannot load safetensors weights ({exc}); delete the folder to reconvert, or check the model id") from None
    except Exception as exc:
        if "safetensors" in type(exc).__module__ or "HeaderTooLarge" in str(exc) or "deserializ" in str(exc).lower():
            raise ArtifactError(f"{resolved.path}: corrupt safetensors file ({exc}); delete {resolved.path} and run again to reconvert") from None
        raise
    model.to(device)  # type: ignore[arg-type]  # transformers decorates PreTrainedModel.to with functools.wraps(Module.to), so mypy sees an unbound self
    model.eval()
    model.generation_config.pad_token_id = model.generation_config.pad_token_id or model.generation_config.eos_token_id
    threads = os.environ.get("HARNESS_THREADS")
    if threads and device == "cpu":
        import torch

        torch.set_num_threads(int(threads))
    return model, load_tokenizer(resolved)


def quantize_model(model: Any, scheme: str) -> Any:
    """``int8``: dynamic int8 quantisation of every ``nn.Linear`` (weights int8 per tensor,
    activations quantised per batch on the fly), through torch's fbgemm/onednn CPU kernels.
    On CPUs without bf16 hardware this is the fast low-precision path; text can change, so it is
    opt-in. Attention and normalisation stay fp32."""
    import warnings

    import torch

    if scheme != "int8":
        raise ConfigError(f"quantize: {scheme!r} is not supported; use 'int8' or leave it unset")
    if next(model.parameters()).device.type != "cpu":
        raise ConfigError("quantize = 'int8' runs on the CPU only; drop it or use --device cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch announces the move of eager quantisation to torchao
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
