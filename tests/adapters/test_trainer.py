"""The learning-rate schedule of the adapter trainer (transformers.get_scheduler), step by step."""

from __future__ import annotations

import math

import pytest
import torch

from adapters.config import LoraTrainConfig
from adapters.trainer import make_scheduler


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
