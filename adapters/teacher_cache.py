"""The teacher's next-token distributions over the packed corpus, computed once and kept on disk.

    python -m harness train lora-kd          # builds the cache on first use, reuses it afterwards

For every student position that has a teacher counterpart the cache holds the teacher's top-k
probabilities (temperature 1, fp16), their teacher-vocabulary ids (int32) and the teacher's
probability mass outside the top-k at each temperature of ``temperatures`` (fp32), laid out like
the student's blocks: ``probs [n_blocks, seq_len, k]``, ``ids [n_blocks, seq_len, k]``, ``rest
[n_blocks, seq_len, len(temperatures)]``, ``mask [n_blocks, seq_len]``. A file lives at
``$HARNESS_CACHE/teacher-cache/<key>.safetensors``; the key hashes the teacher (base weights +
adapter), the corpus, the student's sequence layout, ``k``, the KD path and the temperatures, so a
retrained teacher, an edited corpus or another ``seq_len`` gets a new file while sweeps over alpha
and the usual temperatures reuse one. With the cache, a KD epoch costs one student
forward/backward plus a gather -- about what a LoRA epoch costs.

Why the tail mass is stored per temperature: the top-k at temperature T is exactly the T=1 top-k
re-tempered (tempering keeps the order), but the mass outside it at T, ``sum_tail p_j^(1/T) /
sum_all p_j^(1/T)``, depends on the whole tail, which a top-k (or one logsumexp at T=1) cannot
give back for T != 1. So the cache is built for :data:`CACHED_TEMPERATURES` plus the configured
T: the paper's sweep points share one file, and a run at another T builds its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from adapters.data import PackedBlocks
from adapters.losses import align_offsets
from harness.api.errors import ArtifactError

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: the tail mass outside the top-k at each cached temperature (``rest``)
CACHED_TEMPERATURES = (1.0, 2.0, 5.0)  # always cached: the temperature sweep of the paper
SAME_VOCAB = "same-vocab"
CROSS_VOCAB = "cross-vocab"


@dataclass(frozen=True)
class TeacherCache:
    probs: Any  # [n_blocks, seq_len, k] float16, top-k probabilities at T=1
    ids: Any  # [n_blocks, seq_len, k] int32, teacher vocabulary ids
    rest: Any  # [n_blocks, seq_len, len(temperatures)] float32, mass outside the top-k at each T
    mask: Any  # [n_blocks, seq_len] bool: position i has the teacher's distribution for token i+1
    temperatures: tuple[float, ...]  # the temperatures of ``rest``'s last axis, increasing
    kd_path: str  # same-vocab | cross-vocab
    key: str
    file: Path
    build_s: float  # seconds the teacher forward passes took when the cache was built

    @property
    def aligned_fraction(self) -> float:
        """Share of student prediction positions (all but the last of each block) with a teacher
        distribution: 1.0 on the same-vocabulary path."""
        predicting = self.mask.shape[0] * (self.mask.shape[1] - 1)
        return float(self.mask[:, :-1].sum()) / max(1, predicting)

    def rest_at(self, temperature: float) -> Any:
        """``[n_blocks, seq_len]`` the teacher's mass outside its top-k at ``temperature``."""
        for index, cached in enumerate(self.temperatures):
            if math.isclose(cached, temperature, rel_tol=1e-9):
                return self.rest[..., index]
        raise ArtifactError(
            f"{self.file}: teacher cache holds the tail mass for T in {list(self.temperatures)}, not T={temperature}; "
            "delete the file and rerun -- it is rebuilt for this temperature"
        )


def cache_temperatures(temperature: float) -> tuple[float, ...]:
    """The temperatures a cache for a run at ``temperature`` stores: the sweep's and this one."""
    return tuple(sorted({*CACHED_TEMPERATURES, float(temperature)}))


def cache_key(teacher: Mapping[str, Any], corpus_sha256: str, layout_hash: str, top_k: int, kd_path: str, temperatures: Sequence[float]) -> str:
    payload = {
        "version": CACHE_VERSION,
        "teacher": dict(teacher),
        "corpus": corpus_sha256,
        "layout": layout_hash,
        "top_k": top_k,
        "kd_path": kd_path,
        "temperatures": [float(t) for t in temperatures],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_file(key: str) -> Path:
    from harness.cache_folder import cache_dir

    return cache_dir() / "teacher-cache" / f"{key[:32]}.safetensors"


def load_cache(key: str) -> TeacherCache | None:
    """The cache for ``key``, or None when there is none. A corrupt or mismatched file raises."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    file = cache_file(key)
    if not file.exists():
        return None
    try:
        with safe_open(str(file), framework="pt") as handle:
            meta = handle.metadata() or {}
        tensors = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{file}: corrupt teacher cache ({exc}); delete the file and rerun -- it is rebuilt from the teacher") from None
    if meta.get("key") != key or meta.get("version") != str(CACHE_VERSION) or not {"probs", "ids", "rest", "mask"} <= set(tensors):
        raise ArtifactError(f"{file}: teacher cache does not match this teacher/corpus/layout (key {meta.get('key', '?')[:12]}); delete the file and rerun")
    temperatures = tuple(float(t) for t in json.loads(meta.get("temperatures", "[]")))
    if len(temperatures) != tensors["rest"].shape[-1]:
        shape = list(tensors["rest"].shape)
        raise ArtifactError(f"{file}: corrupt teacher cache (temperatures {list(temperatures)} vs rest {shape}); delete the file and rerun")
    probs, ids, rest, mask = tensors["probs"], tensors["ids"], tensors["rest"], tensors["mask"].bool()
    return TeacherCache(probs, ids, rest, mask, temperatures, meta.get("kd_path", ""), key, file, float(meta.get("build_s", 0.0)))


def require_cache(key: str, retrain_hint: str) -> TeacherCache:
    cache = load_cache(key)
    if cache is None:
        raise ArtifactError(
            f"{cache_file(key)}: no teacher cache for this teacher, corpus and sequence layout; build it with `{retrain_hint}` (the first KD run computes it)"
        )
    return cache


def save_cache(cache: TeacherCache) -> None:
    import torch
    from safetensors.torch import save_file

    cache.file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache.file.parent, suffix=".tmp")
    os.close(fd)
    try:
        tensors = {"probs": cache.probs, "ids": cache.ids, "rest": cache.rest, "mask": cache.mask.to(torch.uint8)}
        tensors = {name: value.contiguous() for name, value in tensors.items()}
        metadata = {
            "key": cache.key,
            "kd_path": cache.kd_path,
            "build_s": f"{cache.build_s:.3f}",
            "version": str(CACHE_VERSION),
            "temperatures": json.dumps(list(cache.temperatures)),
        }
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, cache.file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_cache(
    teacher: Any,
    blocks: PackedBlocks,
    teacher_sequences: Sequence[tuple[list[int], list[int]]] | None,
    top_k: int,
    batch_size: int,
    key: str,
    temperatures: Sequence[float] = CACHED_TEMPERATURES,
    autocast_bf16: bool = False,
    progress: Callable[[int], None] | None = None,
) -> TeacherCache:
    """Run ``teacher`` over every block and keep its top-k at the positions that matter.

    ``teacher_sequences`` is None on the same-vocabulary path (the teacher reads the student's
    blocks as they are); otherwise it holds, per block, the teacher's ``(ids, starts)`` for the
    block's text (:func:`adapters.data.teacher_view`) and positions are paired with
    :func:`adapters.losses.align_offsets`. ``temperatures`` are those ``rest`` is kept for.
    """
    import torch

    n, length = blocks.n_blocks, blocks.seq_len
    temperatures = tuple(sorted(float(t) for t in temperatures))
    probs = torch.zeros((n, length, top_k), dtype=torch.float16)
    ids = torch.zeros((n, length, top_k), dtype=torch.int32)
    rest = torch.zeros((n, length, len(temperatures)), dtype=torch.float32)
    mask = torch.zeros((n, length), dtype=torch.bool)
    device = next(teacher.parameters()).device
    kd_path = SAME_VOCAB if teacher_sequences is None else CROSS_VOCAB
    started = time.perf_counter()
    teacher.eval()
    for first in range(0, n, batch_size):
        rows = list(range(first, min(n, first + batch_size)))
        if teacher_sequences is None:
            inputs = blocks.input_ids[rows]
            attention = torch.ones_like(inputs)
            student_positions = [list(range(length - 1)) for _ in rows]
            teacher_positions = student_positions
        else:
            pairs = [align_offsets(blocks.starts[r].tolist(), teacher_sequences[r][1]) for r in rows]
            student_positions = [p[0] for p in pairs]
            teacher_positions = [p[1] for p in pairs]
            width = max(len(teacher_sequences[r][0]) for r in rows)
            inputs = torch.zeros((len(rows), width), dtype=torch.long)
            attention = torch.zeros((len(rows), width), dtype=torch.long)
            for b, r in enumerate(rows):
                seq = teacher_sequences[r][0]
                inputs[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                attention[b, : len(seq)] = 1  # right padding: real tokens keep positions 0..len-1
        keep = torch.zeros(inputs.shape, dtype=torch.bool)
        for b, positions in enumerate(teacher_positions):
            keep[b, positions] = True
        if keep.any():
            selected = _teacher_logits(teacher, inputs.to(device), attention.to(device), keep.to(device), autocast_bf16)
            top_p, top_i, tail = _topk_probs(selected, top_k, temperatures)
            cursor = 0
            for b, (r, positions) in enumerate(zip(rows, student_positions)):
                count = len(positions)  # logits come out in row-major order of ``keep``
                kept = top_p.shape[1]  # < top_k only for vocabularies smaller than k
                probs[r, positions, :kept] = top_p[cursor : cursor + count].to(torch.float16)
                ids[r, positions, :kept] = top_i[cursor : cursor + count].to(torch.int32)
                rest[r, positions] = tail[cursor : cursor + count]
                mask[r, positions] = True
                cursor += count
        if progress is not None:
            progress(len(rows))
    return TeacherCache(probs, ids, rest, mask, temperatures, kd_path, key, cache_file(key), time.perf_counter() - started)


def _teacher_logits(teacher: Any, inputs: Any, attention: Any, keep: Any, autocast_bf16: bool) -> Any:
    """``[num_kept, V]`` logits at the ``keep`` positions; only those go through the LM head."""
    import torch

    with torch.inference_mode(), torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
        try:
            return teacher(input_ids=inputs, attention_mask=attention, logits_to_keep=keep).logits
        except TypeError:  # models without logits_to_keep: full logits, then select
            return teacher(input_ids=inputs, attention_mask=attention).logits[keep]


def _topk_probs(logits: Any, k: int, temperatures: Sequence[float], chunk: int = 256) -> tuple[Any, Any, Any]:
    """``[M, V]`` logits -> top-k probabilities at T=1 ``[M, k']``, their ids ``[M, k']`` (``k' =
    min(k, V)``) and the mass outside them at each temperature ``[M, len(temperatures)]``.

    The tail mass is ``exp(logsumexp(tail / T) - logsumexp(all / T))``: never negative, and exact
    where ``1 - sum(top-k)`` would cancel to noise.
    """
    import torch

    values, indices, tails = [], [], []
    for start in range(0, logits.shape[0], chunk):
        z = logits[start : start + chunk].float()
        top = torch.topk(z, min(k, z.shape[-1]), dim=-1)
        values.append(torch.softmax(z, dim=-1).gather(-1, top.indices))
        indices.append(top.indices)
        masked = z.scatter(-1, top.indices, float("-inf"))
        per_t = [torch.exp(torch.logsumexp(masked / t, dim=-1) - torch.logsumexp(z / t, dim=-1)) for t in temperatures]
        tails.append(torch.stack(per_t, dim=-1))
    return torch.cat(values).cpu(), torch.cat(indices).cpu(), torch.cat(tails).cpu()
