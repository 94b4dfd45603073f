"""The teacher's next-token distributions over the packed corpus, computed once and kept on disk.

    python -m harness train lora-kd          # builds the cache on first use, reuses it afterwards

For every student position that has a teacher counterpart the cache holds the teacher's top-k
probabilities (temperature 1, fp16) and their teacher-vocabulary ids (int32), laid out like the
student's blocks: ``probs [n_blocks, seq_len, k]``, ``ids [n_blocks, seq_len, k]``, ``mask
[n_blocks, seq_len]``. A file lives at ``$HARNESS_CACHE/teacher-cache/<key>.safetensors``; the key
hashes the teacher (base weights + adapter), the corpus, the student's sequence layout, ``k`` and
the KD path, so a retrained teacher, an edited corpus or another ``seq_len`` gets a new file while
sweeps over alpha and temperature reuse one. With the cache, a KD epoch costs one student
forward/backward plus a gather -- about what a LoRA epoch costs.
"""

from __future__ import annotations

import hashlib
import json
import logging
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

CACHE_VERSION = 1
SAME_VOCAB = "same-vocab"
CROSS_VOCAB = "cross-vocab"


@dataclass(frozen=True)
class TeacherCache:
    probs: Any  # [n_blocks, seq_len, k] float16, top-k probabilities at T=1
    ids: Any  # [n_blocks, seq_len, k] int32, teacher vocabulary ids
    mask: Any  # [n_blocks, seq_len] bool: position i has the teacher's distribution for token i+1
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


def cache_key(teacher: Mapping[str, Any], corpus_sha256: str, layout_hash: str, top_k: int, kd_path: str) -> str:
    payload = {"version": CACHE_VERSION, "teacher": dict(teacher), "corpus": corpus_sha256, "layout": layout_hash, "top_k": top_k, "kd_path": kd_path}
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
    if meta.get("key") != key or not {"probs", "ids", "mask"} <= set(tensors):
        raise ArtifactError(f"{file}: teacher cache does not match this teacher/corpus/layout (key {meta.get('key', '?')[:12]}); delete the file and rerun")
    return TeacherCache(tensors["probs"], tensors["ids"], tensors["mask"].bool(), meta.get("kd_path", ""), key, file, float(meta.get("build_s", 0.0)))


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
        tensors = {"probs": cache.probs.contiguous(), "ids": cache.ids.contiguous(), "mask": cache.mask.to(torch.uint8).contiguous()}
        save_file(tensors, tmp, metadata={"key": cache.key, "kd_path": cache.kd_path, "build_s": f"{cache.build_s:.3f}", "version": str(CACHE_VERSION)})
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
    autocast_bf16: bool = False,
    progress: Callable[[int], None] | None = None,
) -> TeacherCache:
    """Run ``teacher`` over every block and keep its top-k at the positions that matter.

    ``teacher_sequences`` is None on the same-vocabulary path (the teacher reads the student's
    blocks as they are); otherwise it holds, per block, the teacher's ``(ids, starts)`` for the
    block's text (:func:`adapters.data.teacher_view`) and positions are paired with
    :func:`adapters.losses.align_offsets`.
    """
    import torch

    n, length = blocks.n_blocks, blocks.seq_len
    probs = torch.zeros((n, length, top_k), dtype=torch.float16)
    ids = torch.zeros((n, length, top_k), dtype=torch.int32)
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
            top_p, top_i = _topk_probs(selected, top_k)
            cursor = 0
            for b, (r, positions) in enumerate(zip(rows, student_positions)):
                count = len(positions)  # logits come out in row-major order of ``keep``
                kept = top_p.shape[1]  # < top_k only for vocabularies smaller than k
                probs[r, positions, :kept] = top_p[cursor : cursor + count].to(torch.float16)
                ids[r, positions, :kept] = top_i[cursor : cursor + count].to(torch.int32)
                mask[r, positions] = True
                cursor += count
        if progress is not None:
            progress(len(rows))
    return TeacherCache(probs, ids, mask, kd_path, key, cache_file(key), time.perf_counter() - started)


def _teacher_logits(teacher: Any, inputs: Any, attention: Any, keep: Any, autocast_bf16: bool) -> Any:
    """``[num_kept, V]`` logits at the ``keep`` positions; only those go through the LM head."""
    import torch

    with torch.inference_mode(), torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
        try:
            return teacher(input_ids=inputs, attention_mask=attention, logits_to_keep=keep).logits
        except TypeError:  # models without logits_to_keep: full logits, then select
            return teacher(input_ids=inputs, attention_mask=attention).logits[keep]


def _topk_probs(logits: Any, k: int, chunk: int = 256) -> tuple[Any, Any]:
    import torch

    values, indices = [], []
    for start in range(0, logits.shape[0], chunk):
        p = torch.softmax(logits[start : start + chunk].float(), dim=-1)
        top = torch.topk(p, min(k, p.shape[-1]), dim=-1)
        values.append(top.values)
        indices.append(top.indices)
    return torch.cat(values).cpu(), torch.cat(indices).cpu()
