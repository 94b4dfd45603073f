"""The adapter trainer: the learning-rate schedule (transformers.get_scheduler) step by step, and
early stopping on a held-out measure -- evaluation points, the best weights kept, patience, resume."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from adapters.config import LoraTrainConfig
from adapters.losses import LossParts
from adapters.trainer import make_accelerator, make_scheduler, train_loop


def multipliers(schedule: str, warmup: int, total: int) -> list[float]:
    """The lr multiplier of optimizer steps 0..total-1 (peak lr 1.0)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = make_scheduler(optimizer, LoraTrainConfig(schedule=schedule, warmup_steps=warmup), total)
    out = []
    for _ in range(total):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_warm_up_starts_at_zero_and_reaches_the_peak_at_step_warmup_steps() -> None:
    # the hand-written schedule gave (s + 1) / warmup: the peak at step 3 and again at step 4
    assert multipliers("constant", warmup=4, total=7) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


@pytest.mark.parametrize(("schedule", "decay"), [("cosine", lambda x: 0.5 * (1 + math.cos(math.pi * x))), ("linear", lambda x: 1 - x)])
def test_decay_after_warm_up(schedule: str, decay) -> None:
    warmup, total = 2, 10
    expected = [s / warmup for s in range(warmup)] + [decay((s - warmup) / (total - warmup)) for s in range(warmup, total)]
    assert multipliers(schedule, warmup, total) == pytest.approx(expected, abs=1e-12)


def test_no_warm_up_starts_at_the_peak() -> None:
    assert multipliers("linear", warmup=0, total=4) == pytest.approx([1.0, 0.75, 0.5, 0.25])


class OneWeight(torch.nn.Module):
    """A model with one trainable weight that training pulls from 0 towards 1."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))


def pull_to_one(model: Any, batch: dict[str, Any]) -> LossParts:
    loss = ((model.weight - 1.0) ** 2).sum()
    return LossParts(loss, loss.detach() * 0, loss.detach())


def heldout_optimum_at(target: float, calls: list[float] | None = None) -> Any:
    """A held-out 'bits per byte' lowest when the weight passes ``target``: falls, then rises."""

    def evaluate(model: Any) -> float:
        value = 1.0 + abs(float(model.weight.detach()) - target)
        if calls is not None:
            calls.append(float(model.weight.detach()))
        return value

    return evaluate


def blocks(n: int = 8) -> Any:
    from adapters.data import PackedBlocks

    zeros = torch.zeros((n, 4), dtype=torch.long)
    return PackedBlocks(input_ids=zeros, starts=zeros, ends=zeros, text="", documents=1, stream_tokens=4 * n)


def config(**changes: Any) -> LoraTrainConfig:
    """8 sequences, batch 4: 2 steps per epoch; Adam at a constant 0.05 moves the weight ~0.1 per epoch."""
    values: dict[str, Any] = dict(
        epochs=10,
        batch_size=4,
        lr=0.05,
        schedule="constant",
        warmup_steps=0,
        max_grad_norm=0.0,
        patience=2,
        heldout="x",
        checkpoint_every=0,
        autocast_bf16=False,
    )
    values.update(changes)
    return LoraTrainConfig(**values)


def run(tmp_path: Path, cfg: LoraTrainConfig, evaluate: Any, callback: Any = None) -> tuple[Any, OneWeight]:
    model = OneWeight()
    result = train_loop(
        model, blocks(), cfg, pull_to_one, tmp_path / "ckpt", "key", accelerator=make_accelerator("cpu"), quiet=True, callback=callback, evaluate=evaluate
    )
    return result, model


def test_early_stopping_stops_after_patience_evaluations_without_a_new_best(tmp_path: Path) -> None:
    result, _ = run(tmp_path, config(), heldout_optimum_at(0.22))
    assert [int(e["step"]) for e in result.evaluations] == [2, 4, 6, 8]  # every epoch end; the weight passes 0.22 in epoch 2
    assert [e["epoch"] for e in result.evaluations] == [1.0, 2.0, 3.0, 4.0]
    bpbs = [e["heldout_bpb"] for e in result.evaluations]
    assert bpbs[1] < bpbs[0] and bpbs[1] < bpbs[2] < bpbs[3]
    assert result.stopped_early and result.steps == 8 and result.best_step == 4 and result.epochs_completed == 4.0


def test_the_model_leaves_with_the_best_evaluations_weights(tmp_path: Path) -> None:
    seen: list[float] = []
    result, model = run(tmp_path, config(), heldout_optimum_at(0.22, seen))
    assert float(model.weight.detach()) == seen[1]  # the weight evaluated at step 4, not the one at step 8
    assert float(model.weight.detach()) != seen[-1]


@pytest.mark.parametrize(
    ("changes", "steps", "stopped"),
    [({"patience": 0}, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20], False), ({"eval_every": 3}, [3, 6, 9], True), ({"patience": 1}, [2, 4, 6], True)],
)
def test_evaluation_points_and_patience(tmp_path: Path, changes: dict[str, Any], steps: list[int], stopped: bool) -> None:
    seen: list[float] = []
    result, model = run(tmp_path, config(**changes), heldout_optimum_at(0.22, seen))
    assert [int(e["step"]) for e in result.evaluations] == steps
    assert result.stopped_early is stopped
    best = min(range(len(seen)), key=lambda i: abs(seen[i] - 0.22))
    assert result.best_step == steps[best] and float(model.weight.detach()) == seen[best]


def test_without_evaluate_nothing_is_evaluated_and_every_epoch_runs(tmp_path: Path) -> None:
    result, model = run(tmp_path, config(epochs=3), None)
    assert result.evaluations == [] and result.best_step is None and not result.stopped_early and result.steps == 6


def test_a_killed_run_resumes_with_its_evaluations_and_best_weights(tmp_path: Path) -> None:
    straight, straight_model = run(tmp_path / "a", config(checkpoint_every=1), heldout_optimum_at(0.22))

    def stop_after_five(step: int, record: dict) -> None:
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", config(checkpoint_every=1), heldout_optimum_at(0.22), callback=stop_after_five)
    resumed, resumed_model = run(tmp_path / "b", config(checkpoint_every=1), heldout_optimum_at(0.22))
    assert resumed.resumed_from_step == 5  # every step's checkpoint is written before its callback runs
    assert resumed.evaluations == straight.evaluations and resumed.best_step == straight.best_step == 4
    assert resumed.stopped_early and resumed.steps == straight.steps
    assert float(resumed_model.weight.detach()) == float(straight_model.weight.detach())
