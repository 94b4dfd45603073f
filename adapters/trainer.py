"""The training loop shared by LoRA, teacher and LoRA-KD runs: AdamW, warm-up + decay, gradient
accumulation, optional bf16 autocast, early stopping on held-out text, resumable checkpoints, DDP
through accelerate.

    python -m harness train lora                                   # one process (CPU or one GPU)
    accelerate launch -m harness train lora-kd                     # DDP on every visible GPU

The loop knows nothing about KD: it calls ``loss_fn(model, batch) -> LossParts`` where ``batch``
holds ``index`` (the block numbers, to look up cached teacher targets) and ``input_ids``. Under
``accelerate launch`` each process takes every ``world``-th block of the epoch's shuffle
(:func:`adapters.data.micro_batches`), gradients are all-reduced once per optimizer step, and
only the main process writes checkpoints and logs.

Early stopping: given ``evaluate(model) -> held-out bits per byte`` (:mod:`adapters.heldout`),
the loop evaluates at the end of every epoch (or every ``eval_every`` steps) and after the last
step, keeps a copy of the trainable weights of the best evaluation so far, and stops once
``patience`` evaluations in a row bring no new best (``patience = 0``: evaluate, never stop). The
model leaves the loop with the best evaluation's weights. The lr schedule spans all ``epochs``
whether or not training stops early.

A checkpoint (trainable weights, the best weights so far, optimizer, scheduler, step, losses,
evaluations, elapsed time) is written every ``checkpoint_every`` optimizer steps and after every
evaluation, as safetensors + JSON (nothing is pickled). Started again with the same config, a
killed run continues from its last checkpoint; the sequence order is a pure function of the seed,
so the resumed run sees exactly the batches -- and makes exactly the stopping decisions -- of the
uninterrupted one.
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
EvaluateFn = Callable[[Any], float]  # model -> held-out bits per byte (lower is better)
CHECKPOINT = "checkpoint.json"  # names the step's safetensors file; see _save_checkpoint
CHECKPOINT_FORMAT = 2  # 2: evaluations and the best weights so far


@dataclass
class TrainResult:
    steps: int  # optimizer steps taken in total (across resumes)
    tokens_seen: int  # tokens through the model in total, all processes
    wall_s: float  # seconds inside the loop in total (model loading and teacher cache excluded)
    first_losses: dict[str, float]  # loss / ce / kd of the first logged step
    final_losses: dict[str, float]  # mean loss / ce / kd over the last ``window`` steps
    resumed_from_step: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)  # one record per optimizer step
    evaluations: list[dict[str, float]] = field(default_factory=list)  # {"step", "epoch", "heldout_bpb"} per evaluation
    best_step: int | None = None  # step of the lowest held-out bits per byte: the weights the model leaves with
    stopped_early: bool = False  # ``patience`` evaluations without a new best ended training
    epochs_completed: float = 0.0  # passes over the training sequences actually made

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_seen / self.wall_s if self.wall_s > 0 else 0.0


class LoopState(TypedDict):
    """The loop's counters, saved in ``checkpoint.json`` and restored on resume."""

    step: int  # optimizer steps taken so far
    tokens_seen: int  # tokens through the model so far, all processes
    elapsed_s: float  # seconds inside the loop so far
    history: list[dict[str, float]]  # one record per optimizer step
    evaluations: list[dict[str, float]]  # one record per held-out evaluation
    best_step: int  # step of the best evaluation so far (0: none yet)
    best_bpb: float  # its held-out bits per byte (inf: none yet)
    since_best: int  # evaluations since the best one
    stopped_early: bool


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
    evaluate: EvaluateFn | None = None,
) -> TrainResult:
    """Train the trainable (LoRA) parameters of ``model`` in place and return the statistics.

    ``run_key`` identifies the run (config, data, teacher); a checkpoint with another key is
    ignored (and overwritten), so changing the config never resumes a stale run. ``evaluate``
    turns on held-out evaluation and early stopping (``config.patience``, ``config.eval_every``).
    """
    import torch

    accelerator = accelerator or make_accelerator()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters; attach a LoRA adapter first")
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    schedule = micro_batches(blocks.n_blocks, config.batch_size, config.seed, config.epochs, accelerator.process_index, accelerator.num_processes)
    per_epoch = len(schedule) // config.epochs  # micro-batches per epoch (every epoch has as many)
    total_steps = math.ceil(len(schedule) / config.grad_accum)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    scheduler = make_scheduler(optimizer, config, total_steps)
    state: LoopState = {
        "step": 0,
        "tokens_seen": 0,
        "elapsed_s": 0.0,
        "history": [],
        "evaluations": [],
        "best_step": 0,
        "best_bpb": math.inf,
        "since_best": 0,
        "stopped_early": False,
    }
    best: dict[str, Any] = {}  # trainable weights of the best evaluation (CPU copies)
    resumed = _load_checkpoint(checkpoint_dir / CHECKPOINT, run_key, accelerator.unwrap_model(model), optimizer, scheduler, state, best)
    device = accelerator.device
    autocast = config.autocast_bf16 and device.type in ("cpu", "cuda")
    bar = _progress(total_steps, int(state["step"]), quiet or not accelerator.is_main_process)
    model.train()
    started = time.perf_counter()
    elapsed_before = float(state["elapsed_s"])
    try:
        while state["step"] < total_steps and not state["stopped_early"]:
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
            record = {"step": step + 1, "lr": scheduler.get_last_lr()[0], **sums}
            evaluated = evaluate is not None and _evaluation_due(step, config, per_epoch, total_steps)
            if evaluated:
                assert evaluate is not None
                record["heldout_bpb"] = _evaluate(evaluate, accelerator, model, state, best, config, per_epoch)
            state["elapsed_s"] = elapsed_before + time.perf_counter() - started
            state["history"].append(record)
            bar.update(1)
            bar.set_postfix(loss=f"{sums['loss']:.3f}", refresh=False)
            if accelerator.is_main_process and ((step + 1) % 10 == 0 or evaluated):
                log.info(
                    "step %d/%d loss %.4f ce %.4f kd %.4f lr %.2e %.0f tok/s%s",
                    step + 1,
                    total_steps,
                    sums["loss"],
                    sums["ce"],
                    sums["kd"],
                    record["lr"],
                    state["tokens_seen"] / max(state["elapsed_s"], 1e-9),
                    f" held-out {record['heldout_bpb']:.4f} bits/byte" if evaluated else "",
                )
            due = config.checkpoint_every and ((step + 1) % config.checkpoint_every == 0 or evaluated)
            if due and step + 1 < total_steps and not state["stopped_early"]:
                if accelerator.is_main_process:
                    _save_checkpoint(checkpoint_dir / CHECKPOINT, run_key, accelerator.unwrap_model(model), optimizer, scheduler, state, best)
                accelerator.wait_for_everyone()
            if callback is not None:
                callback(step + 1, record)
    finally:
        bar.close()
    model.eval()
    if best and state["best_step"] != state["step"]:
        _restore(accelerator.unwrap_model(model), best)  # leave with the best evaluation's weights
    history = list(state["history"])
    tail = history[-window:]
    final = {k: sum(r[k] for r in tail) / len(tail) for k in ("loss", "ce", "kd")} if tail else {}
    first = {k: history[0][k] for k in ("loss", "ce", "kd")} if history else {}
    return TrainResult(
        int(state["step"]),
        int(state["tokens_seen"]),
        float(state["elapsed_s"]),
        first,
        final,
        resumed,
        history,
        evaluations=list(state["evaluations"]),
        best_step=int(state["best_step"]) if state["evaluations"] else None,
        stopped_early=bool(state["stopped_early"]),
        epochs_completed=round(int(state["step"]) * config.grad_accum / max(1, per_epoch), 3),
    )


def _evaluation_due(step: int, config: LoraTrainConfig, per_epoch: int, total_steps: int) -> bool:
    """Whether optimizer step ``step`` (0-based) ends with a held-out evaluation: every
    ``eval_every`` steps, else when it finishes an epoch; and always after the last step."""
    done = step + 1
    if done == total_steps:
        return True
    if config.eval_every:
        return done % config.eval_every == 0
    return done * config.grad_accum // per_epoch > step * config.grad_accum // per_epoch


def _evaluate(evaluate: EvaluateFn, accelerator: Any, model: Any, state: LoopState, best: dict[str, Any], config: LoraTrainConfig, per_epoch: int) -> float:
    """One held-out evaluation: record it, keep the weights when they are the best so far, and
    decide whether to stop. Under DDP every process takes the main process's value."""
    unwrapped = accelerator.unwrap_model(model)
    bpb = float(evaluate(unwrapped))
    if accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        bpb = float(broadcast_object_list([bpb])[0])
    step = int(state["step"])
    state["evaluations"].append({"step": step, "epoch": round(step * config.grad_accum / max(1, per_epoch), 3), "heldout_bpb": bpb})
    if bpb < state["best_bpb"]:
        state["best_bpb"], state["best_step"], state["since_best"] = bpb, step, 0
        best.clear()
        best.update(_trainable_state(unwrapped))
    else:
        state["since_best"] = int(state["since_best"]) + 1
        if config.patience and state["since_best"] >= config.patience:
            state["stopped_early"] = True
            since, best_bpb, best_step = state["since_best"], state["best_bpb"], state["best_step"]
            log.info("early stop at step %d: %d evaluations without a new best (best %.4f bits/byte at step %d)", step, since, best_bpb, best_step)
    return bpb


def _restore(model: Any, weights: dict[str, Any]) -> None:
    import torch

    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))


def _progress(total: int, initial: int, disable: bool) -> Any:
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(
        total=total, initial=initial, desc="train", unit="step", disable=disable, file=sys.stderr, mininterval=0.5 if interactive else 30.0, dynamic_ncols=True
    )


def _trainable_state(model: Any) -> dict[str, Any]:
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def _save_checkpoint(path: Path, run_key: str, model: Any, optimizer: Any, scheduler: Any, state: LoopState, best: dict[str, Any] | None = None) -> None:
    """Tensors (trainable weights, the best evaluation's weights, optimizer moments) go to a
    safetensors file named after the step; everything else to ``checkpoint.json``, replaced last,
    which names that file and its sha256. A kill at any point leaves the previous complete
    checkpoint in force."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"trainable/{name}": value.contiguous() for name, value in _trainable_state(model).items()}
    tensors.update({f"best/{name}": value.contiguous() for name, value in (best or {}).items()})
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


def _load_checkpoint(path: Path, run_key: str, model: Any, optimizer: Any, scheduler: Any, state: LoopState, best: dict[str, Any] | None = None) -> int | None:
    """Restore a checkpoint written by :func:`_save_checkpoint` (no pickle anywhere), the best
    evaluation's weights into ``best``. An unreadable, incomplete or foreign checkpoint is ignored
    with a warning: training restarts."""
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
            elif group == "best":
                if best is not None:
                    best[rest] = value
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
