"""What ``python -m harness train {lora,teacher,lora-kd}`` does, end to end.

    python -m harness train teacher        # Gemma-3-270M + LoRA on the corpus
    python -m harness train lora           # SmolLM2-135M-Instruct + LoRA on the corpus
    python -m harness train lora-kd        # SmolLM2 + LoRA on CE mixed with the tuned teacher's targets
    python -m harness train lora-kd --sweep alpha=0.5,0.8 temperature=1,2

Steps: resolve the base model; pack the corpus (:mod:`adapters.data`); for KD, load or build the
teacher cache (:mod:`adapters.teacher_cache`; the teacher is freed before the student loads); attach
a fresh LoRA; run :func:`adapters.trainer.train_loop`; save the adapter in fp16 with its
``manifest.json`` (:mod:`adapters.manifest`). The KD path is picked by comparing vocabularies:
identical -> same-vocabulary KL, different -> aligned cross-tokenizer ULD.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import platform
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from adapters.config import TrainSpec, load_spec, reproducing_overrides
from adapters.manifest import ADAPTER_WEIGHTS, check_adapter, display_path, recorded_spec, repo_path, train_command, write_manifest
from adapters.teacher_cache import CROSS_VOCAB, SAME_VOCAB, TeacherCache
from harness.api.errors import ArtifactError, ConfigError
from harness.benchmark import DEFAULT_CORPUS
from harness.runner import package_versions

log = logging.getLogger(__name__)

TRAINING_PACKAGES = ("torch", "transformers", "peft", "accelerate", "safetensors", "tokenizers", "raq-harness")  # versions a manifest records


@dataclass(frozen=True)
class TrainRequest:
    """Everything one training run needs besides the config values."""

    spec: TrainSpec
    output: Path  # adapter folder to write
    corpus: Path = DEFAULT_CORPUS  # folder of Markdown documents
    config_file: str | None = None  # as recorded in the manifest (repo-relative when inside the repo)
    overrides: tuple[str, ...] = ()  # the --set values, recorded verbatim
    device: str = "auto"  # auto | cpu | cuda
    quiet: bool = False  # no progress bar
    cached_teacher_only: bool = False  # refuse to run the teacher: the cache must exist
    system_name: str | None = None  # registry name the adapter serves (sweep points), default = kind

    @property
    def kind(self) -> str:
        return self.spec.kind

    def command(self) -> str:
        corpus = display_path(self.corpus) if Path(self.corpus).resolve() != DEFAULT_CORPUS.resolve() else None
        return train_command(self.kind, self.output, self.config_file, self.overrides, corpus)


def _load_model(resolved: Any, dtype: str, device: str) -> tuple[Any, Any]:
    from harness.models.loading import load_causal_lm

    model, tokenizer = load_causal_lm(resolved, dtype=dtype, device=device)
    tokenizer.padding_side = "right"
    return model, tokenizer


def _attach_lora(model: Any, spec: TrainSpec) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    config = spec.lora
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in config.target_modules if m not in names]
    if missing:
        raise ConfigError(
            f"target_modules: {missing[0]!r} is not a module of {config.base}; "
            f"available linear layers include {', '.join(sorted(n for n in names if n.endswith('proj'))[:8])}"
        )
    torch.manual_seed(config.seed)
    peft_config = LoraConfig(
        r=config.rank,
        lora_alpha=config.lora_alpha,  # type: ignore[arg-type]  # peft annotates int but only divides by it (scale = alpha / rank); floats work
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, peft_config)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def ce_loss_fn(model: Any, batch: Mapping[str, Any]) -> Any:
    """Causal-LM loss on a packed batch: position i predicts token i+1."""
    from adapters.losses import ce_loss, chunked_loss

    ids = batch["input_ids"]
    logits = model(input_ids=ids).logits[:, :-1]
    return chunked_loss(ce_loss, logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def kd_loss_fn(cache: TeacherCache, alpha: float, temperature: float) -> Callable[[Any, Mapping[str, Any]], Any]:
    """The KD loss over cached teacher targets, on the cache's path (KL or aligned ULD)."""
    from adapters.losses import chunked_loss, kd_kl_loss, uld_loss

    rest: Any = cache.rest_at(temperature) if cache.kd_path == CROSS_VOCAB else None

    def loss(model: Any, batch: Mapping[str, Any]) -> Any:
        ids = batch["input_ids"]
        index = batch["index"]
        logits = model(input_ids=ids).logits[:, :-1]
        flat = logits.reshape(-1, logits.shape[-1])
        device = flat.device
        rows = {"teacher_probs": cache.probs[index][:, :-1].reshape(-1, cache.probs.shape[-1]).to(device)}
        if cache.kd_path == SAME_VOCAB:
            rows["teacher_ids"] = cache.ids[index][:, :-1].reshape(-1, cache.ids.shape[-1]).to(device)
        else:
            rows["teacher_rest"] = rest[index][:, :-1].reshape(-1).to(device)
        mask = cache.mask[index][:, :-1].reshape(-1).to(device)
        fn = kd_kl_loss if cache.kd_path == SAME_VOCAB else uld_loss
        return chunked_loss(fn, flat, ids[:, 1:].reshape(-1), mask, rows, alpha=alpha, temperature=temperature)

    return loss


def teacher_cache_for(request: TrainRequest, blocks: Any, student_tokenizer: Any, texts: Sequence[str], corpus_sha: str) -> tuple[TeacherCache, dict[str, Any]]:
    """Load (or build and save) the teacher cache for this student layout; also returns the
    teacher's provenance for the manifest."""
    import gc

    from adapters.data import bos_id, teacher_view, tokenize_documents
    from adapters.teacher_cache import build_cache, cache_key, cache_temperatures, load_cache, require_cache, save_cache
    from harness.models.loading import load_tokenizer
    from harness.models.sources import resolve

    kd = request.spec.kd
    assert kd is not None
    teacher = resolve(kd.teacher)
    adapter_dir = None if kd.teacher_adapter.lower() == "none" else repo_path(kd.teacher_adapter)
    adapter_sha = None
    if adapter_dir is not None:
        adapter_sha = check_adapter(adapter_dir, "teacher", model=kd.teacher)["adapter_sha256"]
    teacher_tokenizer = load_tokenizer(teacher)
    same = teacher_tokenizer.get_vocab() == student_tokenizer.get_vocab()
    path = {"auto": SAME_VOCAB if same else CROSS_VOCAB, "same-vocab": SAME_VOCAB, "cross-vocab": CROSS_VOCAB}[kd.path]
    if path == SAME_VOCAB and not same:
        raise ConfigError(
            f"path='same-vocab' but teacher {kd.teacher} and student {request.spec.lora.base} have different vocabularies; use path='auto' or 'cross-vocab'"
        )
    identity = {"model": teacher.name, "weights_sha256": teacher.weights_sha256, "adapter_sha256": adapter_sha}
    temperatures = cache_temperatures(kd.temperature)
    key = cache_key(identity, corpus_sha, blocks.layout_hash(), kd.top_k, path, temperatures)
    provenance = {**identity, "adapter": display_path(adapter_dir) if adapter_dir is not None else None, "cache_key": key}
    if request.cached_teacher_only:
        return require_cache(key, request.command()), provenance
    cache = load_cache(key)
    if cache is not None:
        log.info("teacher cache hit: %s", cache.file)
        return cache, provenance
    views = None
    if path == CROSS_VOCAB:
        stream = tokenize_documents(texts, teacher_tokenizer)
        views = [teacher_view(blocks, stream, bos_id(teacher_tokenizer), b) for b in range(blocks.n_blocks)]
    log.info("building the teacher cache (%s, %d sequences) -> %s", path, blocks.n_blocks, key[:12])
    model, _ = _load_model(teacher, request.spec.lora.dtype, request.device)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    from tqdm.auto import tqdm

    with tqdm(total=blocks.n_blocks, desc="teacher", unit="seq", disable=request.quiet, mininterval=30.0) as bar:
        cache = build_cache(model, blocks, views, kd.top_k, kd.teacher_batch_size, key, temperatures, request.spec.lora.autocast_bf16, progress=bar.update)
    save_cache(cache)
    del model
    gc.collect()
    return cache, provenance


def train_adapter(request: TrainRequest, callback: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Train one adapter and write it with its manifest; returns the manifest."""
    import torch

    from adapters.data import bos_id, corpus_texts, pack, tokenize_documents
    from adapters.derived import training_texts
    from adapters.heldout import bits_per_byte, heldout_folder, load_heldout
    from adapters.trainer import TRAINER_VERSION, clear_checkpoint, make_accelerator, train_loop
    from harness.cache_folder import cache_dir
    from harness.corpus import content_hash
    from harness.models.loading import load_tokenizer
    from harness.models.sources import resolve

    spec = request.spec
    started = time.perf_counter()
    heldout_dir = heldout_folder(spec.lora)  # before any model loads: a missing folder fails at once
    accelerator = make_accelerator(request.device)
    device = "cpu" if accelerator.device.type == "cpu" else str(accelerator.device)
    base = resolve(spec.lora.base)
    corpus_sha = content_hash(Path(request.corpus))
    texts = corpus_texts(Path(request.corpus))
    tokenizer = load_tokenizer(base)
    derived_texts, derived = training_texts(spec.lora, Path(request.corpus), corpus_sha, tokenizer)
    corpus_documents = len(texts)
    texts = texts + derived_texts
    blocks = pack(tokenize_documents(texts, tokenizer), spec.lora.seq_len, bos_id(tokenizer))
    log.info(
        "%s: %d documents + %d derived examples, %d tokens -> %d sequences of %d",
        request.kind,
        corpus_documents,
        len(derived_texts),
        blocks.stream_tokens,
        blocks.n_blocks,
        blocks.seq_len,
    )
    heldout = load_heldout(heldout_dir, tokenizer, spec.lora.seq_len) if heldout_dir is not None else None
    cache, teacher = None, None
    if spec.kd is not None:
        with accelerator.main_process_first():  # DDP: rank 0 builds and saves, the others load it
            cache, teacher = teacher_cache_for(request, blocks, tokenizer, texts, corpus_sha)
        loss_fn = kd_loss_fn(cache, spec.kd.alpha, spec.kd.temperature)
    else:
        loss_fn = ce_loss_fn
    model, _ = _load_model(base, spec.lora.dtype, device)
    model = _attach_lora(model, spec)
    run = {"spec": spec.to_dict(), "corpus": corpus_sha, "base": base.weights_sha256, "layout": blocks.layout_hash(), "teacher": teacher}
    run["heldout"] = heldout.sha256 if heldout is not None else None  # the held-out text decides when to stop
    run_key = hashlib.sha256(json.dumps({**run, "trainer": TRAINER_VERSION}, sort_keys=True).encode()).hexdigest()  # a checkpoint resumes only this run
    checkpoint_dir = cache_dir() / "train-checkpoints" / hashlib.sha256(str(Path(request.output).resolve()).encode()).hexdigest()[:16]
    autocast = spec.lora.autocast_bf16
    evaluate = (lambda m: bits_per_byte(m, heldout, spec.lora.batch_size, autocast)) if heldout is not None else None
    result = train_loop(
        model, blocks, spec.lora, loss_fn, checkpoint_dir, run_key, accelerator=accelerator, quiet=request.quiet, callback=callback, evaluate=evaluate
    )
    manifest: dict[str, Any] = {}
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        output = Path(request.output)
        output.mkdir(parents=True, exist_ok=True)
        for param in unwrapped.parameters():
            if param.requires_grad:
                param.data = param.data.to(torch.float16)  # shipped adapters are half precision
        unwrapped.peft_config["default"].base_model_name_or_path = spec.lora.base
        unwrapped.save_pretrained(str(output), safe_serialization=True, save_embedding_layers=False)  # base embeddings are unchanged
        card = output / "README.md"  # PEFT's empty model-card template; manifest.json is the provenance
        if card.exists() and "[More Information Needed]" in card.read_text(encoding="utf-8"):
            card.unlink()
        from adapters.manifest import adapter_sha256

        manifest = {
            "kind": request.kind,
            "system": request.system_name or request.kind,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": request.command(),
            "base_model": {"name": base.name, "weights_sha256": base.weights_sha256},
            "teacher": teacher,
            "kd_path": cache.kd_path if cache is not None else None,
            "aligned_fraction": round(cache.aligned_fraction, 4) if cache is not None else None,
            "teacher_cache_build_s": round(cache.build_s, 1) if cache is not None else None,
            "corpus": {
                "path": display_path(request.corpus),
                "sha256": corpus_sha,
                "documents": corpus_documents,
                "tokens": blocks.stream_tokens - (derived["tokens"] if derived else 0),  # corpus text only
                "sequences": blocks.n_blocks,  # packed training sequences, derived examples included
            },
            "derived": derived,
            "config": spec.to_dict(),
            "config_file": request.config_file,
            "overrides": list(request.overrides),
            "seed": spec.lora.seed,
            "epochs": spec.lora.epochs,  # the ceiling; early stopping may end sooner
            "epochs_completed": result.epochs_completed,
            "stopped_early": result.stopped_early,
            "steps": result.steps,
            "adapter_step": result.best_step or result.steps,  # the step whose weights were saved
            "tokens_seen": result.tokens_seen,
            "heldout": _heldout_record(heldout, result) if heldout is not None else _unseen_heldout(spec.lora.heldout),
            "first_losses": {k: round(v, 4) for k, v in result.first_losses.items()},
            "final_losses": {k: round(v, 4) for k, v in result.final_losses.items()},
            "train_wall_s": round(result.wall_s, 1),
            "total_wall_s": round(time.perf_counter() - started, 1),
            "tokens_per_s": round(result.tokens_per_s, 1),
            "resumed_from_step": result.resumed_from_step,
            "processes": accelerator.num_processes,
            "device": device,
            "host": {"machine": platform.machine(), "processor": platform.processor() or platform.machine()},
            "packages": package_versions(TRAINING_PACKAGES),
            "adapter_sha256": adapter_sha256(output),
        }
        write_manifest(output, manifest)
        clear_checkpoint(checkpoint_dir)
        log.info("%s adapter written to %s (%.0f s, %.0f tok/s)", request.kind, output, result.wall_s, result.tokens_per_s)
    accelerator.wait_for_everyone()
    return manifest


def _heldout_record(heldout: Any, result: Any) -> dict[str, Any]:
    """The held-out set and every evaluation of it, for the manifest."""
    evaluations = [{"step": int(e["step"]), "epoch": e["epoch"], "bpb": round(e["heldout_bpb"], 5)} for e in result.evaluations]
    best = min(evaluations, key=lambda e: e["bpb"]) if evaluations else None
    return {**heldout.describe(), "evaluations": evaluations, "best_step": best["step"] if best else None, "best_bpb": best["bpb"] if best else None}


def _unseen_heldout(folder: str) -> dict[str, Any] | None:
    """The held-out domain text (config ``heldout``) this adapter neither trained on nor stopped
    on: what the likelihood run's held-out bits per byte is measured on. None when it is missing."""
    from harness.corpus import content_hash

    path = repo_path(folder)
    if not path.is_dir():
        return None
    return {"path": display_path(path), "sha256": content_hash(path), "trained_on": False}


def parse_sweep(items: Sequence[str]) -> dict[str, list[str]]:
    """``["alpha=0.5,0.8", "temperature=1,2"]`` -> ``{"alpha": ["0.5", "0.8"], "temperature": ["1", "2"]}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        options = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not options:
            raise ConfigError(f"--sweep {item!r}: expected key=v1,v2,..., e.g. --sweep alpha=0.5,0.8,0.95")
        grid[key.strip()] = options
    return grid


def sweep_name(kind: str, point: Mapping[str, str]) -> str:
    """Registry name of one sweep point: ``lora-kd-alpha0.8-temperature2``."""
    return "-".join([kind, *(f"{k.replace('_', '-')}{v}" for k, v in point.items())])


def run_sweep(request: TrainRequest, items: Sequence[str], output_root: Path, callback: Callable[..., None] | None = None) -> tuple[list[dict[str, Any]], Path]:
    """Train one adapter per grid point (sharing the teacher cache) and write a system config
    TOML that makes every point a selectable system -- those of earlier sweeps into the same
    folder too; returns the manifests and that TOML."""
    grid = parse_sweep(items)
    manifests = []
    names = []
    for combo in itertools.product(*grid.values()):
        point = dict(zip(grid, combo))
        name = sweep_name(request.kind, point)
        overrides = tuple(request.overrides) + tuple(f"{k}={v}" for k, v in point.items())
        # built exactly as the recorded command rebuilds it, so the staleness check agrees
        spec = load_spec(request.kind, repo_path(request.config_file) if request.config_file else None, overrides)
        sub = replace(request, spec=spec, output=Path(output_root) / name, overrides=overrides, system_name=name)
        log.info("sweep point %s", name)
        manifests.append(train_adapter(sub, callback))
        names.append(name)
    toml_path = Path(output_root) / f"sweep-{request.kind}.toml"
    earlier = _sweep_systems(toml_path)  # points of earlier sweeps into the same folder stay registered
    adapters = {**earlier, **{name: display_path(Path(output_root) / name) for name in names}}
    lines = [
        f"# Written by: {request.command()} --sweep {' '.join(items)} (and earlier sweeps into {display_path(output_root)})",
        f"# Use: python -m harness run --system-config {display_path(toml_path)} --systems {request.kind},{','.join(adapters)}",
        "",
    ]
    for name, adapter in adapters.items():
        lines += [f'[systems."{name}"]', f'base = "{request.kind}"', f'adapter = "{adapter}"', ""]
    toml_path.parent.mkdir(parents=True, exist_ok=True)
    toml_path.write_text("\n".join(lines), encoding="utf-8")
    return manifests, toml_path


def _sweep_systems(toml_path: Path) -> dict[str, str]:
    """``{system name: adapter folder}`` of a sweep TOML written before (empty when there is none)."""
    import tomllib

    if not toml_path.exists():
        return {}
    try:
        systems = tomllib.loads(toml_path.read_text(encoding="utf-8")).get("systems", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{toml_path}: {exc}; fix or delete the file, then rerun the sweep") from None
    return {name: str(table["adapter"]) for name, table in systems.items() if isinstance(table, dict) and "adapter" in table}


def ensure_adapter(kind: str, folder: Path, model: str | None = None, train_missing: bool = False, quiet: bool = True) -> dict[str, Any]:
    """The checked manifest of ``folder``; when stale or missing and ``train_missing`` is set,
    train it first with its recorded settings -- the manifest's config with its config file and
    ``--set`` values applied again, never today's defaults in their place -- (for KD, the teacher
    first if needed). Without a readable manifest, today's recipe."""
    try:
        return check_adapter(folder, kind, model)
    except ArtifactError as exc:
        if not train_missing:
            raise
        log.warning("%s; training it now (--train-missing)", exc)
    recorded: dict[str, Any] = {}
    manifest_file = Path(folder) / "manifest.json"
    if manifest_file.exists() and (Path(folder) / ADAPTER_WEIGHTS).exists():
        try:
            recorded = json.loads(manifest_file.read_text(encoding="utf-8"))
        except ValueError:
            recorded = {}
    config_file = recorded.get("config_file")
    overrides = tuple(recorded.get("overrides", ()))
    base_spec = None
    if recorded.get("config") and recorded.get("kind") == kind:
        try:
            base_spec = recorded_spec(recorded)  # the adapter's own settings, not today's defaults
        except ConfigError:
            base_spec = None
    spec = load_spec(kind, repo_path(config_file) if config_file else None, overrides, base=base_spec)
    overrides = reproducing_overrides(spec, repo_path(config_file) if config_file else None, overrides)
    if spec.kd is not None and spec.kd.teacher_adapter.lower() != "none":
        ensure_adapter("teacher", repo_path(spec.kd.teacher_adapter), spec.kd.teacher, train_missing=True, quiet=quiet)
    corpus = repo_path(recorded["corpus"]["path"]) if recorded.get("corpus") else DEFAULT_CORPUS
    system_name = recorded.get("system") if recorded.get("system") not in (None, kind) else None
    train_adapter(
        TrainRequest(spec=spec, output=Path(folder), corpus=corpus, config_file=config_file, overrides=overrides, quiet=quiet, system_name=system_name)
    )
    return check_adapter(folder, kind, model)
