"""Distillation losses as pure functions (no model, no trainer): testable with hand-made tensors.

    python -m pytest tests/adapters/test_losses.py

Shapes use ``N`` for prediction positions (batch x sequence flattened), ``V`` for the student's
vocabulary and ``k`` for the teacher's cached top-k. Position ``n`` holds the student's logits for
the next token ``labels[n]``; ``teacher_probs[n]`` is the teacher's distribution for that same
next token (top-k probabilities at temperature 1, as cached) and ``kd_mask[n]`` says whether the
teacher has a distribution there (always, on the same-vocabulary path; only at aligned positions
across tokenizers).

* Same vocabulary -- :func:`kd_kl_loss`: ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE``
  (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network", arXiv:1503.02531;
  the ``T^2`` keeps the soft-target gradients on the CE scale as T changes).
* Different vocabularies -- :func:`uld_loss`: the Universal Logit Distillation loss of Boizard et al.
  2024 ("Towards Cross-Tokenizer Distillation", arXiv:2402.12030): the L1 distance between the two
  distributions' probabilities sorted in decreasing order, which needs no shared vocabulary,
  ``alpha * ULD + (1 - alpha) * CE``; positions are paired by :func:`align_offsets`. With a top-k
  cache each side keeps its k largest probabilities plus one "rest" bin holding its mass outside
  them, so a student equal to the teacher scores exactly 0 for any k (see :func:`uld_loss`).

:func:`chunked_loss` computes any of these on row chunks of the logits with the same value and
gradient: every pass over the vocabulary then stays in cache, which makes CE + KD several times
faster on a CPU (V ~ 50k) -- it is what training uses.

The teacher's cached top-k is renormalised at temperature T (``p_i^(1/T) / sum_k p_j^(1/T)`` equals
the tempered softmax restricted to the top-k), so one cache serves every temperature of a sweep.
The KL path drops the mass outside the top-k -- the usual sparse-KD approximation, exact when
``k = V``; the ULD path puts it back from the teacher's tail mass at T, which the cache stores
for each temperature it was built for (:mod:`adapters.teacher_cache`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Sequence

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # label value excluded from CE (as in torch.nn.functional.cross_entropy)


class LossParts(NamedTuple):
    total: Any  # scalar tensor that is back-propagated
    kd: Any  # scalar tensor: the distillation term before alpha (0 when there is none)
    ce: Any  # scalar tensor: the causal-LM cross-entropy


class Denominators(NamedTuple):
    """Counts of the whole batch, for a call that sees one chunk of it (see :func:`chunked_loss`)."""

    ce: float  # positions whose label is not -100
    kd: float  # positions with a teacher distribution


def temper_topk(teacher_probs: Any, temperature: float) -> Any:
    """``[N, k]`` top-k probabilities at T=1 -> the tempered distribution over those k ids.

    Zero probabilities stay zero; rows that are all zero stay all zero.
    """
    p = teacher_probs.float()
    if temperature != 1.0:
        logp = torch.log(p.clamp_min(1e-30)) / temperature
        p = torch.where(p > 0, torch.exp(logp - logp.max(dim=-1, keepdim=True).values), torch.zeros_like(p))
    total = p.sum(dim=-1, keepdim=True)
    return p / total.clamp_min(1e-30)


def causal_ce(student_logits: Any, labels: Any, denominator: float | None = None) -> Any:
    """Mean cross-entropy of ``[N, V]`` logits against ``[N]`` labels (``-100`` ignored); with
    ``denominator``, the sum divided by it (a chunk's share of a larger batch's mean)."""
    if denominator is None:
        return F.cross_entropy(student_logits.float(), labels, ignore_index=IGNORE_INDEX)
    return F.cross_entropy(student_logits.float(), labels, ignore_index=IGNORE_INDEX, reduction="sum") / denominator


def ce_loss(student_logits: Any, labels: Any, kd_mask: Any | None = None, denominators: Denominators | None = None) -> LossParts:
    """Plain LoRA: CE only, as :class:`LossParts` (``kd`` is 0)."""
    ce = causal_ce(student_logits, labels, denominators.ce if denominators else None)
    return LossParts(ce, ce.detach() * 0, ce.detach())


def _log_normalizer(scaled_logits: Any) -> Any:
    """``[N, V] -> [N, 1]`` log of the softmax denominator (logsumexp)."""
    return torch.logsumexp(scaled_logits, dim=-1, keepdim=True)


def _safe_log(p: Any) -> Any:
    """log of probabilities with exact zeros mapped to a large negative value (0 * log 0 = 0)."""
    return torch.log(p.clamp_min(1e-30))


def _masked_mean(values: Any, mask: Any | None, denominator: float | None = None) -> Any:
    if mask is not None:
        values = values * mask.to(values.dtype)
    if denominator is not None:
        return values.sum() / denominator
    if mask is None:
        return values.mean()
    return values.sum() / mask.sum().clamp_min(1.0)


def kd_kl_loss(
    student_logits: Any,
    teacher_probs: Any,
    teacher_ids: Any,
    labels: Any,
    alpha: float,
    temperature: float,
    kd_mask: Any | None = None,
    denominators: Denominators | None = None,
) -> LossParts:
    """Same-vocabulary KD: ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE``.

    Args:
        student_logits: ``[N, V]`` student logits.
        teacher_probs: ``[N, k]`` teacher top-k probabilities at T=1 (any float dtype).
        teacher_ids: ``[N, k]`` vocabulary ids of ``teacher_probs`` (shared vocabulary).
        labels: ``[N]`` next-token ids; ``-100`` positions are left out of CE.
        alpha: weight of the KD term, 0..1.
        temperature: T > 0, applied to both distributions.
        kd_mask: ``[N]`` bool, positions that have a teacher distribution (None = all).
        denominators: whole-batch counts when this call sees one chunk (None = plain means).

    KL is summed over the teacher's top-k ids with the student's log-probabilities taken over
    its full vocabulary, so it is >= 0 and exactly 0 when both distributions are equal and k = V.
    """
    logits = student_logits.float()  # one fp32 copy shared with CE
    scaled = logits * (1.0 / temperature) if temperature != 1.0 else logits
    log_q = scaled.gather(-1, teacher_ids.long()) - _log_normalizer(scaled)  # log-softmax at k ids only
    p = temper_topk(teacher_probs, temperature)
    per_position = (p * (_safe_log(p) - log_q)).sum(dim=-1)
    kl = _masked_mean(per_position, kd_mask, denominators.kd if denominators else None)
    ce = causal_ce(logits, labels, denominators.ce if denominators else None)
    return LossParts(alpha * temperature**2 * kl + (1.0 - alpha) * ce, kl.detach(), ce.detach())


def sorted_probability_distance(student_top: Any, student_rest: Any, teacher_top: Any, teacher_rest: Any) -> Any:
    """``[N]`` L1 distance between two distributions given as their largest probabilities
    (``[N, k_s]``, ``[N, k_t]``, any order) and ``[N]`` rest bins (the mass outside those).

    Both sides are sorted in decreasing order and compared entry by entry over ``k = min(k_s,
    k_t)`` entries; entries past ``k`` on the longer side move into its rest bin, and the two rest
    bins are compared as one more entry.
    """
    k = min(student_top.shape[-1], teacher_top.shape[-1])
    s = torch.sort(student_top, dim=-1, descending=True).values
    t = torch.sort(teacher_top, dim=-1, descending=True).values
    s_rest = student_rest + s[..., k:].sum(dim=-1)
    t_rest = teacher_rest + t[..., k:].sum(dim=-1)
    return (s[..., :k] - t[..., :k]).abs().sum(dim=-1) + (s_rest - t_rest).abs()


def teacher_with_rest(teacher_probs: Any, teacher_rest: Any, temperature: float) -> Any:
    """``[N, k]`` cached top-k at T=1 and ``[N]`` the teacher's mass outside them at T ->
    ``[N, k]`` the teacher's top-k probabilities at T, summing to ``1 - teacher_rest``.

    Exact: tempering keeps the order, so the top-k at T are the same ids, and their shares of the
    top-k mass at T are ``temper_topk``'s. Rows that are all zero stay all zero.
    """
    return temper_topk(teacher_probs, temperature) * (1.0 - teacher_rest.float()).unsqueeze(-1)


def uld_loss(
    student_logits: Any,
    teacher_probs: Any,
    teacher_rest: Any,
    labels: Any,
    alpha: float,
    temperature: float,
    kd_mask: Any | None = None,
    denominators: Denominators | None = None,
) -> LossParts:
    """Cross-tokenizer KD: ``alpha * ULD_k + (1 - alpha) * CE`` (Boizard et al. 2024).

    Args:
        student_logits: ``[N, V_student]`` student logits.
        teacher_probs: ``[N, k]`` teacher top-k probabilities at T=1 (ids are not needed: the
            distance compares sorted probabilities, so the two vocabularies may differ).
        teacher_rest: ``[N]`` the teacher's probability mass outside its top-k at temperature T
            (:attr:`adapters.teacher_cache.TeacherCache.rest`; 0 when k covers its vocabulary).
        labels: ``[N]`` next-token ids in the student's vocabulary; ``-100`` left out of CE.
        alpha: weight of the ULD term, 0..1.
        temperature: T > 0, applied to both distributions.
        kd_mask: ``[N]`` bool, positions aligned with a teacher position (None = all).
        denominators: whole-batch counts when this call sees one chunk (None = plain means).

    With ``p`` the teacher and ``q`` the student at T, ``x_(i)`` the i-th largest entry and
    ``rest(x) = 1 - sum_{i<=k} x_(i)``::

        ULD_k(p, q) = sum_{i<=k} |p_(i) - q_(i)| + |rest(p) - rest(q)|

    Edge cases: 0 when the student's distribution is any permutation of the teacher's, for every
    k (the rest bins are equal too); ``0 <= ULD_k <= ULD_V`` (the full sorted L1 of the paper,
    with the smaller vocabulary padded by zeros), since ``|sum of tail differences| <= sum of
    |tail differences|``; equal to it when k covers the teacher's vocabulary; at most 2. A
    student vocabulary smaller than k compares its whole distribution, the teacher's entries past
    it join the teacher's rest bin.
    """
    logits = student_logits.float()  # one fp32 copy shared with CE
    q_top = student_topk_probs(logits, temperature, min(teacher_probs.shape[-1], logits.shape[-1]))
    p_rest = teacher_rest.float()
    p_top = teacher_with_rest(teacher_probs, p_rest, temperature)
    distance = sorted_probability_distance(q_top, 1.0 - q_top.sum(dim=-1), p_top, p_rest)
    uld = _masked_mean(distance, kd_mask, denominators.kd if denominators else None)
    ce = causal_ce(logits, labels, denominators.ce if denominators else None)
    return LossParts(alpha * uld + (1.0 - alpha) * ce, uld.detach(), ce.detach())


def top_indices(values: Any, k: int, block: int = 128) -> Any:
    """``[N, V] -> [N, k]`` indices of the k largest values per row, largest first.

    Same result as ``torch.topk(values, k).indices`` (up to the order of exact ties) in two cheap
    stages: the k blocks of ``block`` columns with the largest maxima must hold the k largest
    values, so a top-k over block maxima, then over those k x ``block`` candidates, suffices.
    """
    n, v = values.shape
    if k * block * 4 > v:  # small vocabularies: plain top-k
        return torch.topk(values, k, dim=-1).indices
    pad = (-v) % block
    if pad:
        values = F.pad(values, (0, pad), value=float("-inf"))
    blocks = values.reshape(n, -1, block)
    best = torch.topk(blocks.amax(dim=-1), k, dim=-1).indices  # [N, k] block numbers
    candidates = blocks.gather(1, best.unsqueeze(-1).expand(n, k, block)).reshape(n, k * block)
    position = torch.topk(candidates, k, dim=-1).indices
    return best.gather(1, position // block) * block + position % block


class _TopKProbs(torch.autograd.Function):
    """The student's k largest probabilities at temperature T, with a hand-written backward, so
    neither a softmax tensor nor a scatter of zeros is kept per chunk.

    Forward: ``e = exp(z/T - max)``, ``q_i = e_i / sum(e)`` at the top-k indices.
    Backward: ``dL/dz = (scatter(g * q) - sum(g * q) * softmax_T(z)) / T``.
    """

    @staticmethod
    def forward(ctx: Any, z: Any, temperature: float, k: int) -> Any:  # type: ignore[override]
        e = z.detach() * (1.0 / temperature)
        e.sub_(e.amax(dim=-1, keepdim=True)).exp_()
        denominator = e.sum(dim=-1, keepdim=True)
        index = top_indices(e, k)
        q = e.gather(-1, index) / denominator
        ctx.save_for_backward(e, denominator, index, q)
        ctx.temperature = temperature
        return q

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:  # type: ignore[override]
        e, denominator, index, q = ctx.saved_tensors
        gq = grad * q
        out = e * (-gq.sum(dim=-1, keepdim=True) / (denominator * ctx.temperature))
        out.scatter_add_(-1, index, gq / ctx.temperature)
        return out, None, None


def student_topk_probs(logits: Any, temperature: float, k: int) -> Any:
    """``[N, V]`` logits -> ``[N, k]`` the k largest of ``softmax(logits / T)``, largest first."""
    return _TopKProbs.apply(logits, temperature, k)


def chunked_loss(
    loss: Callable[..., LossParts],
    student_logits: Any,
    labels: Any,
    kd_mask: Any | None = None,
    rows: Mapping[str, Any] | None = None,
    chunk_rows: int = 64,
    **options: Any,
) -> LossParts:
    """``loss(student_logits, labels=..., kd_mask=..., **rows, **options)`` -- same value, same
    gradient -- computed ``chunk_rows`` positions at a time.

    ``rows`` are the per-position tensors (``teacher_probs``, ``teacher_ids``, ``teacher_rest``) cut
    like the logits; ``options`` pass through (``alpha``, ``temperature``). Each chunk returns its
    share of the whole batch's means (:class:`Denominators`), so the chunk results simply add up.
    64 rows x 49k fp32 (12.5 MB) keeps each softmax/logsumexp/top-k pass near the cache; the
    logits are split with one ``split`` so backward concatenates the chunk gradients once.
    """
    n = student_logits.shape[0]
    ce_count = float((labels != IGNORE_INDEX).sum().clamp_min(1))
    kd_count = float(kd_mask.sum().clamp_min(1)) if kd_mask is not None else float(max(1, n))
    denominators = Denominators(ce_count, kd_count)
    totals: list[Any] = []
    kds: list[Any] = []
    ces: list[Any] = []
    for index, chunk in enumerate(student_logits.split(chunk_rows)):
        cut = slice(index * chunk_rows, index * chunk_rows + chunk.shape[0])
        sliced = {name: value[cut] for name, value in (rows or {}).items()}
        parts = loss(chunk, labels=labels[cut], kd_mask=kd_mask[cut] if kd_mask is not None else None, denominators=denominators, **sliced, **options)
        totals.append(parts.total)
        kds.append(parts.kd)
        ces.append(parts.ce)
    return LossParts(sum(totals), sum(kds), sum(ces))


def align_offsets(student_starts: Sequence[int], teacher_starts: Sequence[int]) -> tuple[list[int], list[int]]:
    """Pair prediction positions of two tokenizations of the same text.

    ``*_starts[i]`` is the character offset where token ``i`` starts (negative for BOS). Student
    position ``i`` (which predicts token ``i + 1``) is paired with teacher position ``j`` when
    tokens ``i + 1`` and ``j + 1`` start at the same character offset: both models have then read
    the same characters and are about to predict a token beginning at the same place. Offsets
    shared by several tokens of one tokenization (zero-width or byte-split tokens) are ambiguous
    and left out.

    Returns ``(student_positions, teacher_positions)``, increasing.

    >>> align_offsets([0, 2, 7, 11], [-1, 0, 5, 11])   # un|happi|ness| is  vs  <bos>|unhap|piness| is
    ([2], [2])
    """

    def next_starts(starts: Sequence[int]) -> dict[int, int]:
        seen: dict[int, int] = {}
        duplicated: set[int] = set()
        for position in range(len(starts) - 1):
            offset = starts[position + 1]
            if offset < 0:
                continue
            if offset in seen:
                duplicated.add(offset)
            seen[offset] = position
        return {o: p for o, p in seen.items() if o not in duplicated}

    student = next_starts(student_starts)
    teacher = next_starts(teacher_starts)
    shared = sorted(set(student) & set(teacher))
    return [student[o] for o in shared], [teacher[o] for o in shared]
