"""The KD losses and the offset alignment against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from adapters.losses import (
    IGNORE_INDEX,
    align_offsets,
    causal_ce,
    ce_loss,
    chunked_loss,
    kd_kl_loss,
    sorted_probability_distance,
    student_topk_probs,
    temper_topk,
    top_indices,
    uld_loss,
)


def full_topk(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher 'cache' holding the whole vocabulary (k = V), sorted like a real top-k."""
    top = torch.topk(torch.softmax(logits, dim=-1), logits.shape[-1], dim=-1)
    return top.values, top.indices


def test_kl_is_zero_for_equal_distributions() -> None:
    logits = torch.randn(5, 7)
    probs, ids = full_topk(logits)
    for temperature in (1.0, 2.0, 5.0):
        parts = kd_kl_loss(logits, probs, ids, torch.zeros(5, dtype=torch.long), alpha=1.0, temperature=temperature)
        assert parts.kd.item() == pytest.approx(0.0, abs=1e-5)
        assert parts.total.item() == pytest.approx(0.0, abs=1e-4)


def test_kl_matches_hand_computed_two_token_case() -> None:
    # teacher p = (0.8, 0.2); student logits (0, 0) -> q = (0.5, 0.5)
    # KL = 0.8 ln(0.8/0.5) + 0.2 ln(0.2/0.5)
    expected = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)
    parts = kd_kl_loss(torch.zeros(1, 2), torch.tensor([[0.8, 0.2]]), torch.tensor([[0, 1]]), torch.tensor([0]), alpha=1.0, temperature=1.0)
    assert parts.kd.item() == pytest.approx(expected, rel=1e-5)
    assert parts.total.item() == pytest.approx(expected, rel=1e-5)
    # CE of uniform 2-way logits is ln 2; alpha = 0.25 mixes 0.25 * KL + 0.75 * ln 2
    mixed = kd_kl_loss(torch.zeros(1, 2), torch.tensor([[0.8, 0.2]]), torch.tensor([[0, 1]]), torch.tensor([0]), alpha=0.25, temperature=1.0)
    assert mixed.total.item() == pytest.approx(0.25 * expected + 0.75 * math.log(2), rel=1e-5)
    assert mixed.ce.item() == pytest.approx(math.log(2), rel=1e-6)


def test_kl_is_scaled_by_t_squared() -> None:
    torch.manual_seed(0)
    student = torch.randn(4, 6)
    teacher_logits = torch.randn(4, 6)
    probs, ids = full_topk(teacher_logits)
    labels = torch.zeros(4, dtype=torch.long)
    for temperature in (1.0, 2.0, 4.0):
        by_hand = F.kl_div(torch.log_softmax(student / temperature, -1), torch.softmax(teacher_logits / temperature, -1), reduction="batchmean")
        parts = kd_kl_loss(student, probs, ids, labels, alpha=1.0, temperature=temperature)
        assert parts.kd.item() == pytest.approx(by_hand.item(), rel=1e-4)
        assert parts.total.item() == pytest.approx(temperature**2 * by_hand.item(), rel=1e-4)


def test_kl_mask_and_nonnegative_with_truncated_topk() -> None:
    torch.manual_seed(1)
    student = torch.randn(6, 10)
    probs, ids = full_topk(torch.randn(6, 10))
    parts = kd_kl_loss(student, probs[:, :3], ids[:, :3], torch.zeros(6, dtype=torch.long), alpha=1.0, temperature=2.0)
    assert parts.kd.item() >= 0
    mask = torch.tensor([True, False, False, False, False, False])
    only_first = kd_kl_loss(student[:1], probs[:1, :3], ids[:1, :3], torch.zeros(1, dtype=torch.long), alpha=1.0, temperature=2.0)
    masked = kd_kl_loss(student, probs[:, :3], ids[:, :3], torch.zeros(6, dtype=torch.long), alpha=1.0, temperature=2.0, kd_mask=mask)
    assert masked.kd.item() == pytest.approx(only_first.kd.item(), rel=1e-6)


def test_temper_topk_equals_tempered_softmax() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    probs = torch.softmax(logits, -1)
    assert torch.allclose(temper_topk(probs, 3.0), torch.softmax(logits / 3.0, -1), atol=1e-6)
    # restricted to the top-2 and renormalised
    expected = torch.softmax(logits[:, :2] / 2.0, -1)
    assert torch.allclose(temper_topk(probs[:, :2], 2.0), expected, atol=1e-6)
    assert torch.equal(temper_topk(torch.zeros(1, 3), 2.0), torch.zeros(1, 3))


def tail_mass(logits: torch.Tensor, k: int, temperature: float) -> torch.Tensor:
    """``[N]`` mass of ``softmax(logits / T)`` outside its k largest entries (the cache's ``rest``)."""
    return 1.0 - torch.softmax(logits / temperature, -1).topk(k, dim=-1).values.sum(-1)


def test_uld_is_zero_for_permuted_identical_distributions() -> None:
    torch.manual_seed(2)
    teacher_logits = torch.randn(3, 8)
    permuted = teacher_logits[:, torch.randperm(8)]
    probs = torch.softmax(teacher_logits, -1)  # ids are irrelevant to ULD; order is irrelevant too
    for temperature in (1.0, 2.0):
        parts = uld_loss(permuted, probs, torch.zeros(3), torch.zeros(3, dtype=torch.long), alpha=1.0, temperature=temperature)
        assert parts.kd.item() == pytest.approx(0.0, abs=1e-6)


def test_uld_hand_computed() -> None:
    # student q = (0.5, 0.5, 0) sorted; teacher (0.7, 0.2, 0.1) -> |0.5-0.7| + |0.5-0.2| + |0-0.1| = 0.6
    student = torch.log(torch.tensor([[0.5, 0.5, 1e-12]]))
    parts = uld_loss(student, torch.tensor([[0.1, 0.7, 0.2]]), torch.zeros(1), torch.tensor([0]), alpha=0.5, temperature=1.0)
    assert parts.kd.item() == pytest.approx(0.6, abs=1e-5)
    assert parts.total.item() == pytest.approx(0.5 * 0.6 + 0.5 * math.log(2), abs=1e-5)
    # top-k with rest bins: the student's smallest entry joins its rest -> |0.5-0.7| + |0.4-0.2| + |0.1-0.1| = 0.4
    rest = torch.tensor([0.1])
    assert sorted_probability_distance(torch.tensor([[0.4, 0.5, 0.1]]), torch.zeros(1), torch.tensor([[0.2, 0.7]]), rest).item() == pytest.approx(0.4, abs=1e-6)


@pytest.mark.parametrize("k", [1, 3, 7])
@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_uld_top_k_of_a_student_equal_to_the_teacher_scores_zero(k: int, temperature: float) -> None:
    """k < V = 8: both sides keep their top-k plus a rest bin, so a student equal to the teacher
    (vocabulary permuted) scores 0 at every temperature -- no floor that grows with T."""
    torch.manual_seed(5)
    logits = torch.randn(4, 8)
    probs, _ = full_topk(logits)
    permuted = logits[:, torch.randperm(8)]
    rest = tail_mass(logits, k, temperature)
    assert rest.min().item() > 1e-3  # the tail is real for every k < V here
    parts = uld_loss(permuted, probs[:, :k], rest, torch.zeros(4, dtype=torch.long), alpha=1.0, temperature=temperature)
    assert parts.kd.item() == pytest.approx(0.0, abs=1e-6)


def test_uld_top_k_hand_computed() -> None:
    # V = 4, k = 2, T = 1: student top-2 (0.4, 0.3) of its full softmax, rest 0.3; teacher top-2
    # (0.5, 0.3), rest 0.2 -> |0.4 - 0.5| + |0.3 - 0.3| + |0.3 - 0.2| = 0.2
    student = torch.log(torch.tensor([[0.1, 0.4, 0.2, 0.3]]))
    parts = uld_loss(student, torch.tensor([[0.5, 0.3]]), torch.tensor([0.2]), torch.tensor([0]), alpha=1.0, temperature=1.0)
    assert parts.kd.item() == pytest.approx(0.2, abs=1e-6)


def full_sorted_l1(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The paper's ULD distance over whole vocabularies: sorted L1, the shorter side zero-padded."""
    q = torch.softmax(student_logits / temperature, -1).sort(-1, descending=True).values
    p = torch.softmax(teacher_logits / temperature, -1).sort(-1, descending=True).values
    width = max(q.shape[-1], p.shape[-1])
    q = F.pad(q, (0, width - q.shape[-1]))
    p = F.pad(p, (0, width - p.shape[-1]))
    return (q - p).abs().sum(-1)


@pytest.mark.parametrize(("student_vocab", "teacher_vocab", "k"), [(10, 6, 4), (6, 10, 4), (9, 12, 12), (12, 5, 5)])
@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_uld_across_vocabulary_sizes_is_bounded_by_the_full_sorted_distance(student_vocab: int, teacher_vocab: int, k: int, temperature: float) -> None:
    torch.manual_seed(6)
    student = torch.randn(5, student_vocab) * 2
    teacher = torch.randn(5, teacher_vocab) * 2
    probs, _ = full_topk(teacher)
    parts = uld_loss(student, probs[:, :k], tail_mass(teacher, k, temperature), torch.zeros(5, dtype=torch.long), alpha=1.0, temperature=temperature)
    full = full_sorted_l1(student, teacher, temperature).mean().item()
    assert 0.0 <= parts.kd.item() <= full + 1e-6
    if k >= teacher_vocab:
        assert parts.kd.item() == pytest.approx(full, abs=1e-6)  # k covers the teacher's vocabulary: the paper's distance


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_uld_with_a_larger_student_vocabulary_is_zero_when_the_extra_ids_are_never_used(temperature: float) -> None:
    torch.manual_seed(7)
    teacher = torch.randn(3, 6) * 2
    probs, _ = full_topk(teacher)
    student = torch.cat([teacher[:, torch.randperm(6)], torch.full((3, 4), -1e4)], dim=1)  # V_student = 10
    parts = uld_loss(student, probs[:, :4], tail_mass(teacher, 4, temperature), torch.zeros(3, dtype=torch.long), alpha=1.0, temperature=temperature)
    assert parts.kd.item() == pytest.approx(0.0, abs=1e-6)


def test_uld_is_non_negative_and_falls_to_zero_as_the_student_approaches_the_teacher() -> None:
    torch.manual_seed(8)
    teacher = torch.randn(6, 16) * 2
    probs, _ = full_topk(teacher)
    k, temperature = 5, 2.0
    rest = tail_mass(teacher, k, temperature)
    labels = torch.zeros(6, dtype=torch.long)
    target = teacher[:, torch.randperm(16)]
    start = torch.randn(6, 16) * 2
    along = [uld_loss(start + t * (target - start), probs[:, :k], rest, labels, alpha=1.0, temperature=temperature).kd.item() for t in (0.0, 0.5, 0.9, 1.0)]
    assert all(value >= 0.0 for value in along)
    assert along == sorted(along, reverse=True) and along[-1] == pytest.approx(0.0, abs=1e-6)
    # gradient descent on the student's logits alone drives the distance down
    student = start.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([student], lr=5.0)
    history = []
    for _ in range(200):
        loss = uld_loss(student, probs[:, :k], rest, labels, alpha=1.0, temperature=temperature).total
        history.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert history[-1] < 0.1 * history[0]


def test_ce_ignores_masked_labels() -> None:
    logits = torch.tensor([[0.0, 0.0], [10.0, -10.0]])
    assert causal_ce(logits, torch.tensor([0, IGNORE_INDEX])).item() == pytest.approx(math.log(2), rel=1e-6)


def test_align_offsets_on_crafted_tokenizations() -> None:
    text = "unhappiness is rare"
    # student: un|happi|ness| is| rare          teacher: <bos>|unhap|piness| is| ra|re
    student = [0, 2, 7, 11, 14]
    teacher = [-1, 0, 5, 11, 14, 17]
    assert [text[s] for s in student] == ["u", "h", "n", " ", " "]
    s_pos, t_pos = align_offsets(student, teacher)
    # next tokens starting at 11 (" is") and 14 (" ra"/" rare") are shared
    assert (s_pos, t_pos) == ([2, 3], [2, 3])
    # identical tokenizations align everywhere but the last position
    assert align_offsets(student, student) == ([0, 1, 2, 3], [0, 1, 2, 3])


def test_align_offsets_skips_ambiguous_offsets() -> None:
    # a byte-split character: two student tokens start at 4; the teacher starts one token there
    student = [0, 4, 4, 6]
    teacher = [0, 4, 6]
    assert align_offsets(student, teacher) == ([2], [1])


@pytest.mark.parametrize("path", ["kl", "uld", "ce"])
def test_chunked_loss_has_the_same_value_and_gradient(path: str) -> None:
    torch.manual_seed(3)
    n, v, k = 37, 50, 8  # 37 rows in chunks of 8: a short last chunk
    logits = (torch.randn(n, v) * 2).requires_grad_(True)
    probs, ids = full_topk(torch.randn(n, v))
    labels = torch.randint(0, v, (n,))
    labels[::5] = IGNORE_INDEX
    mask = torch.rand(n) < 0.7
    if path == "kl":
        fn, rows, options = kd_kl_loss, {"teacher_probs": probs[:, :k], "teacher_ids": ids[:, :k]}, {"alpha": 0.3, "temperature": 2.0}
    elif path == "uld":
        fn, rows, options = uld_loss, {"teacher_probs": probs[:, :k], "teacher_rest": torch.rand(n) * 0.3}, {"alpha": 0.3, "temperature": 2.0}
    else:
        fn, rows, options = ce_loss, {}, {}
    whole = fn(logits, labels=labels, kd_mask=mask, **rows, **options)
    (grad_whole,) = torch.autograd.grad(whole.total, logits)
    chunked = chunked_loss(fn, logits, labels, mask, rows, chunk_rows=8, **options)
    (grad_chunked,) = torch.autograd.grad(chunked.total, logits)
    assert chunked.total.item() == pytest.approx(whole.total.item(), rel=1e-5)
    assert chunked.kd.item() == pytest.approx(whole.kd.item(), rel=1e-5, abs=1e-7)
    assert chunked.ce.item() == pytest.approx(whole.ce.item(), rel=1e-5)
    assert torch.allclose(grad_chunked, grad_whole, atol=1e-6)


@pytest.mark.parametrize(("rows", "vocab", "k"), [(3, 5000, 8), (4, 49152, 32), (2, 1003, 2), (2, 40, 8)])
def test_top_indices_matches_torch_topk(rows: int, vocab: int, k: int) -> None:
    torch.manual_seed(4)
    values = torch.randn(rows, vocab)
    assert torch.equal(values.gather(1, top_indices(values, k)), torch.topk(values, k, dim=-1).values)


def test_student_topk_probs_value_and_gradient() -> None:
    torch.manual_seed(5)
    logits = torch.randn(3, 9, dtype=torch.float64, requires_grad=True)
    expected = torch.topk(torch.softmax(logits / 2.0, -1), 4, dim=-1).values
    assert torch.allclose(student_topk_probs(logits, 2.0, 4), expected)
    assert torch.autograd.gradcheck(lambda z: student_topk_probs(z, 2.0, 4), (logits,))
