"""Greedy decoding with continuous batching: a row leaves the batch the step it finishes and a
queued prompt takes its place, so no forward pass is spent on answers that are already done.

    python -m harness bench --items 40      # measures this against plain ``model.generate``

How it works (one left-padded KV cache for the whole batch):

1. Prompts wait in a queue, shortest first.
2. When enough slots are free, a group of queued prompts is prefilled together (left-padded,
   logits for the last position only) and its cache is merged into the running one: the shorter
   of the two is padded on the left with zeros and the attention mask hides the padding.
3. Each decode step feeds every active row its last token. Position ids count only real tokens,
   as ``transformers``' ``generate`` does, so greedy text equals one-at-a-time decoding up to the
   float rounding of different batch shapes.
4. A row finishes on an end-of-sequence token, its token budget or a stop string; it is removed
   from the cache and reported at once, so the caller can commit it before the next step.

The KV cache lives in preallocated buffers that grow in blocks (``BufferedLayer``) instead
of being re-concatenated every step. Only models whose cache layers are all full-attention
``DynamicLayer`` are supported (:func:`supports_model`); sliding-window models such as Gemma-3
use the static-batch path in :mod:`harness.models.generation`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from harness.models.loops import LoopDetector

log = logging.getLogger(__name__)

GROW_BLOCK = 128  # tokens added to a KV buffer when it is full; amortises reallocation


@dataclass
class DecodeTask:
    """One prompt to decode greedily."""

    index: int  # caller's position of the request; echoed back in :class:`DecodeOutput`
    ids: list[int]  # prompt token ids
    max_new_tokens: int  # completion budget, tokens
    stop_check: Callable[[list[int]], bool] | None = None  # True once the completion holds a stop string
    loop_stop: bool = False  # end the row with finish_reason "loop" once its tokens repeat (harness.models.loops)


@dataclass
class DecodeOutput:
    index: int
    tokens: list[int]  # completion ids, without the end-of-sequence token
    finish_reason: str  # "stop" (EOS or stop string), "loop" (repetition loop) or "length"
    latency_s: float  # share of wall time: each forward's time split over the rows it served


@dataclass
class _Row:
    task: DecodeTask
    tokens: list[int] = field(default_factory=list)
    latency_s: float = 0.0
    loops: LoopDetector | None = None

    def __post_init__(self) -> None:
        if self.task.loop_stop:
            self.loops = LoopDetector()


@dataclass
class ForwardTimings:
    """Where a batcher's time went: prefill forwards vs decode steps (wall seconds, tokens)."""

    prefill_s: float = 0.0
    prefill_tokens: int = 0  # real prompt tokens
    prefill_padded_tokens: int = 0  # tokens the forwards computed, padding included
    decode_s: float = 0.0
    decode_tokens: int = 0  # one per active row per step
    decode_steps: int = 0

    def add_prefill(self, seconds: float, tokens: int, padded: int) -> None:
        self.prefill_s += seconds
        self.prefill_tokens += tokens
        self.prefill_padded_tokens += padded

    def add_decode(self, seconds: float, rows: int) -> None:
        self.decode_s += seconds
        self.decode_tokens += rows
        self.decode_steps += 1

    def merge(self, other: "ForwardTimings") -> None:
        for name in ("prefill_s", "prefill_tokens", "prefill_padded_tokens", "decode_s", "decode_tokens", "decode_steps"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def supports_model(model: Any) -> bool:
    """True when every cache layer the model would build is a plain full-attention layer."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        probe = DynamicCache(config=model.config)
    except Exception:  # configs that cannot describe their layers: use the generic path
        return False
    return all(type(layer) is DynamicLayer for layer in probe.layers) or not probe.layers


def cache_kwarg(model: Any) -> str:
    """``cache`` (transformers >= 5.2x) or ``past_key_values`` (earlier): the forward argument
    that takes the KV cache. PEFT wrappers are looked through."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(type(base).forward).parameters else "past_key_values"


def new_cache(num_layers: int) -> Any:
    """A transformers ``Cache`` of ``num_layers`` buffered full-attention layers."""
    from transformers.cache_utils import Cache

    layer = _layer_class()
    return Cache(layers=[layer() for _ in range(num_layers)])


def _buffered_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class BufferedLayer(DynamicLayer):
        """A full-attention cache layer over a preallocated ``[batch, heads, capacity, dim]``
        buffer; ``keys``/``values`` are views of the filled part."""

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            self.device = key_states.device
            self.length = 0
            self._k = key_states.new_zeros((*key_states.shape[:2], 0, key_states.shape[-1]))
            self._v = value_states.new_zeros((*value_states.shape[:2], 0, value_states.shape[-1]))
            self.is_initialized = True

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            new = key_states.shape[-2]
            if self.length + new > self._k.shape[-2]:
                self.reserve(self.length + new + GROW_BLOCK)
            self._k[:, :, self.length : self.length + new] = key_states
            self._v[:, :, self.length : self.length + new] = value_states
            self.length += new
            self._sync()
            return self.keys, self.values

        def reserve(self, capacity: int) -> None:
            """Grow the buffers to ``capacity`` tokens, keeping the filled part."""
            k = self._k.new_zeros((*self._k.shape[:2], capacity, self._k.shape[-1]))
            v = self._v.new_zeros((*self._v.shape[:2], capacity, self._v.shape[-1]))
            k[:, :, : self.length] = self._k[:, :, : self.length]
            v[:, :, : self.length] = self._v[:, :, : self.length]
            self._k, self._v = k, v

        def _sync(self) -> None:
            self.keys = self._k[:, :, : self.length]
            self.values = self._v[:, :, : self.length]

        def get_seq_length(self) -> int:
            return self.length if self.is_initialized else 0

        def batch_select_indices(self, indices: Any) -> None:
            if self.is_initialized:
                self._k = self._k[indices]
                self._v = self._v[indices]
                self._sync()

        def drop_left(self, count: int) -> None:
            """Forget the ``count`` oldest positions (padding every row has)."""
            if self.is_initialized and count > 0:
                self._k = self._k[:, :, count:]
                self._v = self._v[:, :, count:]
                self.length -= count
                self._sync()

        def merge(self, other: "BufferedLayer", reserve: int) -> None:
            """Append ``other``'s rows; both are left-padded to a common length first."""
            import torch

            width = max(self.length, other.length)

            def padded(layer: "BufferedLayer", buf: Any) -> Any:
                out = buf.new_zeros((buf.shape[0], buf.shape[1], width + reserve, buf.shape[-1]))
                out[:, :, width - layer.length : width] = buf[:, :, : layer.length]
                return out

            self._k = torch.cat([padded(self, self._k), padded(other, other._k)], dim=0)
            self._v = torch.cat([padded(self, self._v), padded(other, other._v)], dim=0)
            self.length = width
            self._sync()

    return BufferedLayer


_LAYER_CLASS: type | None = None


def _layer_class() -> type:
    """The buffered layer class, defined on first use so transformers imports lazily."""
    global _LAYER_CLASS
    if _LAYER_CLASS is None:
        _LAYER_CLASS = _buffered_layer_class()
    return _LAYER_CLASS


class ContinuousBatcher:
    """Decodes :class:`DecodeTask` s greedily with at most ``max_rows`` rows in flight.

    ``prefill_tokens`` bounds the padded tokens of one prefill forward (activation memory);
    a prefill waits until at least ``refill_fraction`` of the rows are free, so prompts are
    prefilled in groups rather than one by one.
    """

    def __init__(
        self, model: Any, eos_ids: set[int], pad_id: int, max_rows: int, prefill_tokens: int = 4096, refill_fraction: float = 0.25, autocast_bf16: bool = False
    ) -> None:
        self.model = model
        self.eos_ids = set(eos_ids)
        self.pad_id = pad_id
        self.max_rows = max(1, max_rows)
        self.prefill_tokens = max(1, prefill_tokens)
        self.refill_rows = max(1, int(self.max_rows * refill_fraction))
        self.autocast_bf16 = autocast_bf16
        self.device = next(model.parameters()).device
        self.num_layers = int(model.config.get_text_config(decoder=True).num_hidden_layers)
        self.cache_kwarg = cache_kwarg(model)
        self.timings = ForwardTimings()

    def run(self, tasks: Sequence[DecodeTask]) -> Iterator[list[DecodeOutput]]:
        """Yield finished rows, a list per forward pass that finished any."""
        import torch

        queue = sorted(tasks, key=lambda t: len(t.ids), reverse=True)  # pop() takes the shortest
        rows: list[_Row] = []
        cache: Any = None
        mask = torch.zeros((0, 0), dtype=torch.long, device=self.device)
        pending = torch.zeros((0,), dtype=torch.long, device=self.device)  # each row's next input token
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast_bf16):
            while queue or rows:
                free = self.max_rows - len(rows)
                if queue and (not rows or free >= min(self.refill_rows, len(queue))):
                    group = self._take_group(queue, free)
                    started = time.perf_counter()
                    new_cache, new_mask, first = self._prefill(group)
                    elapsed = time.perf_counter() - started
                    self.timings.add_prefill(elapsed, sum(len(t.ids) for t in group), int(new_mask.numel()))
                    share = elapsed / len(group)
                    new_rows = [_Row(task, latency_s=share) for task in group]
                    if cache is None:
                        cache, mask, pending = new_cache, new_mask, first
                    else:
                        cache, mask = self._merge(cache, mask, new_cache, new_mask)
                        pending = torch.cat([pending, first])
                    rows.extend(new_rows)
                    tokens = first.tolist()
                    appended = rows[len(rows) - len(group) :]
                else:
                    started = time.perf_counter()
                    positions = mask.sum(dim=1, keepdim=True)
                    mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
                    out = self.model(input_ids=pending[:, None], attention_mask=mask, position_ids=positions, use_cache=True, **{self.cache_kwarg: cache})
                    pending = out.logits[:, -1].argmax(dim=-1)
                    tokens = pending.tolist()
                    elapsed = time.perf_counter() - started
                    self.timings.add_decode(elapsed, len(rows))
                    share = elapsed / len(rows)
                    for row in rows:
                        row.latency_s += share
                    appended = rows
                finished: list[DecodeOutput] = []
                keep: list[int] = []
                offset = len(rows) - len(appended)
                for position, row in enumerate(rows):
                    if position < offset:
                        keep.append(position)
                        continue
                    done = self._append(row, tokens[position - offset])
                    if done is None:
                        keep.append(position)
                    else:
                        finished.append(DecodeOutput(row.task.index, row.tokens, done, row.latency_s))
                if finished:
                    if keep:
                        index = torch.tensor(keep, dtype=torch.long, device=self.device)
                        for layer in cache.layers:
                            layer.batch_select_indices(index)
                        mask, pending = mask[index], pending[index]
                        rows = [rows[i] for i in keep]
                        mask = self._trim(cache, mask)
                    else:
                        rows, cache = [], None
                        mask = mask[:0, :0]
                        pending = pending[:0]
                    yield finished

    def _append(self, row: _Row, token: int) -> str | None:
        """Record ``token``; return the finish reason when the row is done."""
        if token in self.eos_ids:
            return "stop"
        row.tokens.append(token)
        if row.task.stop_check is not None and row.task.stop_check(row.tokens):
            return "stop"
        if row.loops is not None and row.loops.feed(token):
            return "loop"
        if len(row.tokens) >= row.task.max_new_tokens:
            return "length"
        return None

    def _take_group(self, queue: list[DecodeTask], free: int) -> list[DecodeTask]:
        group = [queue.pop()]
        while queue and len(group) < free and (len(group) + 1) * len(queue[-1].ids) <= self.prefill_tokens:
            group.append(queue.pop())
        return group

    def _prefill(self, group: list[DecodeTask]) -> tuple[Any, Any, Any]:
        import torch

        width = max(len(t.ids) for t in group)
        ids = torch.full((len(group), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        for row, task in enumerate(group):
            ids[row, width - len(task.ids) :] = torch.tensor(task.ids, dtype=torch.long)
            mask[row, width - len(task.ids) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(dim=1) - 1).masked_fill(mask == 0, 0)
        cache = new_cache(self.num_layers)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1, **{self.cache_kwarg: cache})
        return cache, mask, out.logits[:, -1].argmax(dim=-1)

    @staticmethod
    def _merge(cache: Any, mask: Any, other: Any, other_mask: Any) -> tuple[Any, Any]:
        import torch

        width = max(mask.shape[1], other_mask.shape[1])

        def left_pad(m: Any) -> Any:
            return torch.cat([m.new_zeros((m.shape[0], width - m.shape[1])), m], dim=1)

        for layer, new in zip(cache.layers, other.layers):
            layer.merge(new, reserve=GROW_BLOCK)
        return cache, torch.cat([left_pad(mask), left_pad(other_mask)], dim=0)

    @staticmethod
    def _trim(cache: Any, mask: Any) -> Any:
        """Drop leading columns that are padding in every remaining row; returns the new mask."""
        real = mask.any(dim=0).nonzero()
        drop = int(real[0]) if real.numel() else 0
        if drop:
            for layer in cache.layers:
                layer.drop_left(drop)
        return mask[:, drop:]
