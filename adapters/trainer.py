"""The training loop shared by LoRA, teacher and LoRA-KD runs: AdamW, warm-up + decay, gradient
accumulation, optional bf16 autocast, resumable checkpoints, DDP through accelerate.

    python -m harness train lora                                   # one process (CPU or one GPU)
    accelerate launch -m harness train lora-kd                     # DDP on every visible GPU

The loop knows nothing about KD: it calls ``loss_fn(model, batch) -> LossParts`` where ``batch``
holds ``index`` (the block numbers, to look up cached teacher targets) and ``input_ids``. Under
``accelerate launch`` each process takes every ``world``-th block of the epoch's shuffle
(:func:`adapters.data.micro_batches`), gradients are all-reduced once per optimizer step, and
only the main process writes checkpoints and logs.

A checkpoint (trainable weights, optimizer, scheduler, step, losses, elapsed time) is written
every ``checkpoint_every`` optimizer steps as safetensors + JSON (nothing is pickled). Started
again with the same config, a killed run continues from its last checkpoint; the sequence order
is a pure function of the seed, so the resumed run sees exactly the batches the uninterrupted one
would have.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypedDict

from adapters.config import LoraTrainConfig
from adapters.data import PackedBlocks, micro_batches
from adapters.losses import LossParts

log = logging.getLogger(__name__)

LossFn = Callable[[Any, dict[str, Any]], LossParts]
CHECKPOINT = "checkpoint.json"  # names the step's safetensors file; see _save_checkpoint
CHECKPOINT_FORMAT = 1


@dataclass
class TrainResult:
    steps: int  # optimizer steps taken in total (across resumes)
    tokens_seen: int  # tokens through the model in total, all processes
    wall_s: float  # seconds inside the loop in total (model loading and teacher cache excluded)
    first_losses: dict[str, float]  # loss / ce / kd of the first logged step
    final_losses: dict[str, float]  # mean loss / ce / kd over the last ``window`` steps
    resumed_from_step: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)  # one record per optimizer step

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_seen / self.wall_s if self.wall_s > 0 else 0.0


class LoopState(TypedDict):
    """The loop's counters, saved in ``checkpoint.json`` and restored on resume."""

    step: int  # optimizer steps taken so far
    tokens_seen: int  # tokens through the model so far, all processes
    elapsed_s: float  # seconds inside the loop so far
    history: list[dict[str, float]]  # one record per optimizer step


SCHEDULERS = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}  # config.schedule -> transformers name
TRAINER_VERSION = 3  # part of the resume key: bump when the same config trains differently (2: transformers' lr schedule; 3: ULD with the rest bin)


def make_scheduler(optimizer: Any, config: LoraTrainConfig, total_steps: int) -> Any:
    """``transformers.get_scheduler`` for ``config.schedule``: the lr multiplier at optimizer step
    ``s`` (0-based) is ``s / warmup_steps`` during warm-up, reaching the peak at step
    ``warmup_steps``, then cosine or linear decay to 0 at ``total_steps`` (or constant)."""
    from transformers import get_scheduler

    return get_scheduler(SCHEDULERS[config.schedule], optimizer, num_warmup_steps=config.warmup_steps, num_training_steps=total_steps)


def make_accelerator(device: str = "auto") -> Any:
    """An :class:`accelerate.Accelerator`; ``device='cpu'`` forces the CPU. Under ``accelerate
    launch`` the launcher's environment decides processes and devices."""
    from accelerate import Accelerator

    return Accelerator(cpu=device == "cpu")


def train_loop(
    model: Any,
    blocks: PackedBlocks,
    config: LoraTrainConfig,
    loss_fn: LossFn,
    checkpoint_dir: Path,
    run_key: str,
    accelerator: Any = None,
    quiet: bool = False,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    window: int = 10,
) -> TrainResult:
    """Train the trainable (LoRA) parameters of ``model`` in place and return the statistics.

    ``run_key`` identifies the run (config, data, teacher); a checkpoint with another key is
    ignored (and overwritten), so changing the config never resumes a stale run.
    """
    import torch

    accelerator = accelerator or make_accelerator()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters; attach a LoRA adapter first")
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    schedule = micro_batches(blocks.n_blocks, config.batch_size, config.seed, config.epochs, accelerator.process_index, accelerator.num_processes)
    total_steps = math.ceil(len(schedule) / config.grad_accum)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    scheduler = make_scheduler(optimizer, config, total_steps)
    state: LoopState = {"step": 0, "tokens_seen": 0, "elapsed_s": 0.0, "history": []}
    resumed = _load_checkpoint(checkpoint_dir / CHECKPOINT, run_key, accelerator.unwrap_model(model), optimizer, scheduler, state)
    device = accelerator.device
    autocast = config.autocast_bf16 and device.type in ("cpu", "cuda")
    bar = _progress(total_steps, int(state["step"]), quiet or not accelerator.is_main_process)
    model.train()
    started = time.perf_counter()
    elapsed_before = float(state["elapsed_s"])
    try:
        while state["step"] < total_steps:
            step = int(state["step"])
            micro = schedule[step * config.grad_accum : (step + 1) * config.grad_accum]
            sums = {"loss": 0.0, "ce": 0.0, "kd": 0.0}
            tokens = 0
            for position, indices in enumerate(micro):
                index = torch.tensor(indices, dtype=torch.long)
                batch = {"index": index, "input_ids": blocks.input_ids[index].to(device)}
                sync = position == len(micro) - 1
                with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                        parts = loss_fn(model, batch)
                    accelerator.backward(parts.total / len(micro))
                sums["loss"] += float(parts.total.detach()) / len(micro)
                sums["ce"] += float(parts.ce) / len(micro)
                sums["kd"] += float(parts.kd) / len(micro)
                tokens += int(batch["input_ids"].numel())
            if config.max_grad_norm > 0:
                accelerator.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] = step + 1
            state["tokens_seen"] = int(state["tokens_seen"]) + tokens * accelerator.num_processes
            state["elapsed_s"] = elapsed_before + time.perf_counter() - started
            record = {"step": step + 1, "lr": scheduler.get_last_lr()[0], **sums}
            state["history"].append(record)
            bar.update(1)
            bar.set_postfix(loss=f"{sums['loss']:.3f}", refresh=False)
            if accelerator.is_main_process and (step + 1) % 10 == 0:
                log.info(
                    "step %d/%d loss %.4f ce %.4f kd %.4f lr %.2e %.0f tok/s",
                    step + 1,
                    total_steps,
                    sums["loss"],
                    sums["ce"],
                    sums["kd"],
                    record["lr"],
                    state["tokens_seen"] / max(state["elapsed_s"], 1e-9),
                )
            if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < total_steps:
                if accelerator.is_main_process:
                    _save_checkpoint(checkpoint_dir / CHECKPOINT, run_key, accelerator.unwrap_model(model), optimizer, scheduler, state)
                accelerator.wait_for_everyone()
            if callback is not None:
                callback(step + 1, record)
    finally:
        bar.close()
    model.eval()
    history = list(state["history"])
    tail = history[-window:]
    final = {k: sum(r[k] for r in tail) / len(tail) for k in ("loss", "ce", "kd")} if tail else {}
    first = {k: history[0][k] for k in ("loss", "ce", "kd")} if history else {}
    return TrainResult(int(state["step"]), int(state["tokens_seen"]), float(state["elapsed_s"]), first, final, resumed, history)


def _progress(total: int, initial: int, disable: bool) -> Any:
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(
        total=total, initial=initial, desc="train", unit="step", disable=disable, file=sys.stderr, mininterval=0.5 if interactive else 30.0, dynamic_ncols=True
    )


def _trainable_state(model: Any) -> dict[str, Any]:
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def _save_checkpoint(path: Path, run_key: str, model: Any, optimizer: Any, scheduler: Any, state: LoopState) -> None:
    """Tensors (trainable weights, optimizer moments) go to a safetensors file named after the
    step; everything else to ``checkpoint.json``, replaced last, which names that file and its
    sha256. A kill at any point leaves the previous complete checkpoint in force."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"trainable/{name}": value.contiguous() for name, value in _trainable_state(model).items()}
    optimizer_state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in optimizer_state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{index}/{key}"] = value.detach().cpu().clone().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    weights = path.parent / f"checkpoint-step{int(state['step']):07d}.safetensors"
    tmp = weights.with_name(f".{weights.name}.tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, weights)
    record = {
        "format": CHECKPOINT_FORMAT,
        "run_key": run_key,
        "tensors": weights.name,
        "tensors_sha256": _sha256(weights),
        "state": state,
        "optimizer": {"param_groups": optimizer_state["param_groups"], "scalars": scalars},
        "scheduler": scheduler.state_dict(),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)
    for old in path.parent.glob("checkpoint-step*.safetensors"):
        if old.name != weights.name:
            old.unlink(missing_ok=True)
    log.info("checkpoint at step %d -> %s", state["step"], path)


def _load_checkpoint(path: Path, run_key: str, model: Any, optimizer: Any, scheduler: Any, state: LoopState) -> int | None:
    """Restore a checkpoint written by :func:`_save_checkpoint` (no pickle anywhere). An
    unreadable, incomplete or foreign checkpoint is ignored with a warning: training restarts."""
    import torch
    from safetensors.torch import load_file

    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {record.get('format')!r}, expected {CHECKPOINT_FORMAT}")
        weights = path.parent / str(record["tensors"])
        if _sha256(weights) != record["tensors_sha256"]:
            raise ValueError(f"{weights.name} does not match its recorded sha256")
        tensors = load_file(str(weights))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # cut short by a kill, or edited
        log.warning("ignoring unreadable checkpoint %s (%s); training from step 0", path, exc)
        return None
    if record.get("run_key") != run_key:
        log.warning("checkpoint %s belongs to another config or corpus; training from step 0", path)
        return None
    slots: dict[int, dict[str, Any]] = {}
    for index, values in record["optimizer"]["scalars"].items():
        slots.setdefault(int(index), {}).update(values)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for key, value in tensors.items():
            group, _, rest = key.partition("/")
            if group == "trainable":
                params[rest].copy_(value.to(params[rest].device))
            else:
                index, _, slot = rest.partition("/")
                slots.setdefault(int(index), {})[slot] = value
    optimizer.load_state_dict({"state": slots, "param_groups": record["optimizer"]["param_groups"]})
    scheduler.load_state_dict(record["scheduler"])
    state.update(record["state"])
    log.info("resuming from step %d (%s)", state["step"], path)
    return int(state["step"])


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def clear_checkpoint(checkpoint_dir: Path) -> None:
    (checkpoint_dir / CHECKPOINT).unlink(missing_ok=True)
    for leftover in [*checkpoint_dir.glob("checkpoint-step*.safetensors"), *checkpoint_dir.glob(".checkpoint*.tmp")]:
        leftover.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        checkpoint_dir.rmdir()
