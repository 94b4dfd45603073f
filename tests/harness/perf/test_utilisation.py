"""Utilisation figures: the matmul peak probe and the batcher's prefill/decode timings."""

from __future__ import annotations

from harness.models.continuous_batching import ContinuousBatcher, DecodeTask, ForwardTimings
from harness.perf.utilisation import cpu_features, matmul_peak
from tests.conftest import tiny_llama


def test_matmul_peak_reports_each_shape_and_the_best() -> None:
    peak = matmul_peak("float32", repeats=1, shapes=((64, 32, 16), (128, 64, 32)))
    assert set(peak.by_shape) == {"64x32x16", "128x64x32"}
    assert all(v > 0 for v in peak.by_shape.values())
    assert peak.gflops == max(peak.by_shape.values())


def test_cpu_features_name_the_capability() -> None:
    features = cpu_features()
    assert isinstance(features["capability"], str) and features["capability"]
    assert features["threads"] >= 1


def test_batcher_times_prefill_and_decode_apart() -> None:
    model = tiny_llama(64)
    tasks = [DecodeTask(i, [1] + [4 + (i * 5 + j) % 50 for j in range(3 + i)], 6) for i in range(7)]
    batcher = ContinuousBatcher(model, eos_ids={-1}, pad_id=0, max_rows=3)  # no EOS: every row runs its budget
    outputs = [out for batch in batcher.run(tasks) for out in batch]
    timings = batcher.timings
    assert timings.prefill_tokens == sum(len(t.ids) for t in tasks)
    assert timings.prefill_padded_tokens >= timings.prefill_tokens
    # the first token of each row comes from its prefill, the other five from decode steps
    assert timings.decode_tokens == sum(len(o.tokens) - 1 for o in outputs) == 7 * 5
    assert timings.decode_steps >= 5 and timings.prefill_s > 0 and timings.decode_s > 0
    total = ForwardTimings()
    total.merge(timings)
    total.merge(timings)
    assert total.decode_tokens == 2 * timings.decode_tokens
