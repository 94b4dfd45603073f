"""Log-probabilities of text under a Hugging Face causal LM: (context, continuation) pairs and
whole documents, batched, with each shared context run once.

    python -m harness run --mode likelihood --systems vanilla --limit 20

Tokenisation follows lm-evaluation-harness (:meth:`LikelihoodScorer.encode_pair`): trailing
whitespace of the context moves to the continuation; ``context + continuation`` is encoded as one
string and the continuation is what follows the context's own token count; special tokens are
added exactly as for generation (BOS where the tokenizer adds one and the text does not already
start with it). An empty context is the BOS token (EOS without one).

How a batch is computed:

1. Pairs are grouped by context ids; identical (context, continuation) pairs are scored once.
2. On full-attention models (:func:`~harness.models.continuous_batching.supports_model`) the
   contexts are run in length-sorted, left-padded batches with a KV cache; each continuation
   then runs on a copy of its context's cache rows, so a context with seven answer choices is
   computed once, not seven times. Other models (sliding-window Gemma-3) run every pair as one
   left-padded sequence.
3. Only the positions that predict a scored token are projected onto the vocabulary, in chunks
   of at most ``logits_mb``: a 262k-token vocabulary never needs a full ``[batch, length,
   vocab]`` logits tensor. A probe at load time checks that this projection equals the model's
   own ``forward`` logits (it refuses models whose head does more than a linear layer and an
   optional soft cap).

Rolling documents are cut as lm-evaluation-harness's ``loglikelihood_rolling`` cuts them:
disjoint windows of ``window_tokens`` targets, the first predicted from the BOS token, every
later window conditioned on the token before it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from harness.api.errors import ConfigError
from harness.api.likelihood import LikelihoodUnsupported

log = logging.getLogger(__name__)

LIKELIHOOD_VERSION = "likelihood-1"  # bump when a change here can change a score: part of every likelihood cache key
HEAD_CHECK_TOL = 1e-3  # nats: the chunked head must reproduce forward()'s log-probs this closely


@dataclass(frozen=True)
class LikelihoodSettings:
    window_tokens: int = 2048  # tokens per rolling window and longest scored sequence; capped by the model's positions
    forward_tokens: int = 4096  # padded tokens per forward pass; bounds activation memory
    kv_cache_mb: int = 1024  # MiB the copied context caches of one continuation batch may take
    logits_mb: int = 256  # MiB of fp32 logits per projection chunk (rows x vocabulary)

    def __post_init__(self) -> None:
        for name in ("window_tokens", "forward_tokens", "kv_cache_mb", "logits_mb"):
            if getattr(self, name) < 1:
                raise ConfigError(f"likelihood {name} must be >= 1, got {getattr(self, name)}")

    def fingerprint(self) -> dict[str, Any]:
        """What changes scores (the window; batching does not, up to float rounding)."""
        return {"version": LIKELIHOOD_VERSION, "window_tokens": self.window_tokens}


@dataclass(frozen=True)
class Scored:
    logprob: float  # summed natural-log probability of the targets
    tokens: int  # targets scored
    greedy: bool  # every target was the argmax
    context_tokens: int = 0


@dataclass
class _Row:
    """One sequence to run: ``ids`` in, the last ``len(targets)`` positions predict ``targets``."""

    ids: list[int]
    targets: list[int]


class LikelihoodScorer:
    """Scores text with a loaded ``model`` + ``tokenizer`` (a :class:`BatchGenerator`'s)."""

    def __init__(self, model: Any, tokenizer: Any, settings: LikelihoodSettings | None = None, autocast_bf16: bool = False) -> None:
        from harness.models.continuous_batching import cache_kwarg, supports_model

        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings or LikelihoodSettings()
        self.device = next(model.parameters()).device
        self.autocast_bf16 = autocast_bf16 and self.device.type == "cpu"
        self.config = model.config.get_text_config(decoder=True)
        self.decoder = model.get_decoder()
        self.head = model.get_output_embeddings()
        self.softcap = getattr(self.config, "final_logit_softcapping", None)
        self.reuse_cache = supports_model(model)
        self.cache_arg = cache_kwarg(self.decoder)
        positions = getattr(self.config, "max_position_embeddings", None) or self.settings.window_tokens
        self.window = int(min(self.settings.window_tokens, positions))
        self._head_checked = False

    # -- tokenisation ---------------------------------------------------------------------------
    @property
    def prefix_id(self) -> int:
        """The token an empty context stands for: BOS, else EOS."""
        bos = self.tokenizer.bos_token_id
        return int(bos if bos is not None else self.tokenizer.eos_token_id)

    def encode(self, text: str) -> list[int]:
        """Token ids as generation encodes a prompt: special tokens unless ``text`` already starts with BOS."""
        bos = self.tokenizer.bos_token
        add_special = not (bos and text.startswith(bos))
        return list(self.tokenizer(text, add_special_tokens=add_special)["input_ids"])

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context ids, continuation ids) with lm-evaluation-harness's split."""
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        if not context:
            return [self.prefix_id], list(self.tokenizer(continuation, add_special_tokens=False)["input_ids"])
        whole = self.encode(context + continuation)
        context_ids = self.encode(context)
        continuation_ids = whole[len(context_ids) :]
        if not continuation_ids:  # the continuation merged into the context's last token
            continuation_ids = list(self.tokenizer(continuation, add_special_tokens=False)["input_ids"])
        return context_ids, continuation_ids

    # -- public ---------------------------------------------------------------------------------
    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[Scored]:
        """One :class:`Scored` per (context, continuation), in order."""
        encoded = [self.encode_pair(c, x) for c, x in pairs]
        for (context, continuation), (_, ids) in zip(pairs, encoded):
            if len(ids) > self.window:
                raise ConfigError(f"continuation of {len(ids)} tokens is longer than the {self.window}-token window: {continuation[:60]!r}")
        unique = list(dict.fromkeys((tuple(c), tuple(x)) for c, x in encoded))
        self._check_head()
        if self.reuse_cache:
            scores = self._score_shared(unique)
        else:
            scores = self._score_rows([self._pair_row(list(c), list(x)) for c, x in unique])
        by_pair = {pair: Scored(s.logprob, s.tokens, s.greedy, min(len(pair[0]), self.window + 1 - len(pair[1]))) for pair, s in zip(unique, scores)}
        return [by_pair[(tuple(c), tuple(x))] for c, x in encoded]

    def score_texts(self, texts: Sequence[str]) -> list[Scored]:
        """One :class:`Scored` per whole text (every token predicted once), in order."""
        self._check_head()
        windows: list[tuple[int, _Row]] = []
        for index, text in enumerate(texts):
            ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            windows += [(index, row) for row in self.rolling_windows(ids)]
        scores = self._score_rows([row for _, row in windows])
        total = [[0.0, 0, True] for _ in texts]
        for (index, _), score in zip(windows, scores):
            total[index][0] += score.logprob
            total[index][1] += score.tokens
            total[index][2] = bool(total[index][2]) and score.greedy
        return [Scored(float(lp), int(n), bool(g)) for lp, n, g in total]

    def rolling_windows(self, ids: list[int]) -> list[_Row]:
        """Disjoint windows over ``ids``: each predicts up to ``window`` tokens, the first from
        the prefix token, the others from the token before them (lm-evaluation-harness's
        ``get_rolling_token_windows`` with a one-token context)."""
        rows = []
        for start in range(0, len(ids), self.window):
            targets = ids[start : start + self.window]
            before = [self.prefix_id] if start == 0 else ids[start - 1 : start]
            rows.append(_Row(ids=before + targets[:-1], targets=targets))
        return rows

    # -- computation ----------------------------------------------------------------------------
    def _pair_row(self, context: list[int], continuation: list[int]) -> _Row:
        sequence = (context + continuation)[-(self.window + 1) :]
        return _Row(ids=sequence[:-1], targets=continuation)

    def _score_rows(self, rows: list[_Row]) -> list[Scored]:
        """Every row as one left-padded sequence, batched by length."""
        import torch

        states: list[Any] = [None] * len(rows)
        for batch in self._batches(sorted(range(len(rows)), key=lambda i: len(rows[i].ids)), [len(r.ids) for r in rows]):
            ids, mask, positions = self._left_padded([rows[i].ids for i in batch])
            hidden = self._hidden(ids, mask, positions)
            width = ids.shape[1]
            for slot, i in enumerate(batch):
                states[i] = hidden[slot, width - len(rows[i].targets) :]
        return self._score_states(states, [rows[i].targets for i in range(len(rows))], torch)

    def _score_shared(self, pairs: list[tuple[tuple[int, ...], tuple[int, ...]]]) -> list[Scored]:
        """Each context once (KV cache kept), then its continuations on copies of its cache rows."""
        import torch

        # A context as the model sees it: its last (window + 1 - len(continuation)) tokens.
        kept = [tuple(c[-max(1, self.window + 1 - len(x)) :]) for c, x in pairs]
        order = list(dict.fromkeys(kept))
        members: dict[tuple[int, ...], list[int]] = {}
        for i, context in enumerate(kept):
            members.setdefault(context, []).append(i)
        states: list[Any] = [None] * len(pairs)
        per_token = self._kv_bytes_per_token()
        by_length = sorted(range(len(order)), key=lambda i: len(order[i]))
        for batch in self._batches(by_length, [len(c) for c in order]):
            ids, mask, positions = self._left_padded([list(order[i]) for i in batch])
            cache = self._new_cache()
            last = self._hidden(ids, mask, positions, cache)[:, -1]
            lengths = mask.sum(dim=1)
            rows = [(slot, p) for slot, i in enumerate(batch) for p in members[order[i]]]
            width = ids.shape[1]
            start = 0
            while start < len(rows):
                longest = len(pairs[rows[start][1]][1])
                take = 1
                while start + take < len(rows):
                    longest_next = max(longest, len(pairs[rows[start + take][1]][1]))
                    rows_next = take + 1
                    if (
                        rows_next * (width + longest_next) * per_token > self.settings.kv_cache_mb * 2**20
                        or rows_next * longest_next > self.settings.forward_tokens
                    ):
                        break
                    longest, take = longest_next, rows_next
                chunk = rows[start : start + take]
                start += take
                slots = torch.tensor([slot for slot, _ in chunk], dtype=torch.long, device=self.device)
                tails = [list(pairs[p][1][:-1]) for _, p in chunk]  # the last target needs no input position
                span = max(len(t) for t in tails)
                follow: Any = None
                if span:
                    tail_ids = torch.full((len(chunk), span), int(self.tokenizer.pad_token_id or 0), dtype=torch.long)
                    tail_mask = torch.zeros((len(chunk), span), dtype=torch.long)
                    for r, tail in enumerate(tails):
                        tail_ids[r, : len(tail)] = torch.tensor(tail, dtype=torch.long)
                        tail_mask[r, : len(tail)] = 1
                    tail_ids, tail_mask = tail_ids.to(self.device), tail_mask.to(self.device)
                    rows_cache = self._select_rows(cache, slots)
                    full_mask = torch.cat([mask[slots], tail_mask], dim=1)
                    tail_positions = lengths[slots][:, None] + torch.arange(span, device=self.device)[None, :]
                    follow = self._hidden(tail_ids, full_mask, tail_positions, rows_cache)
                for r, (slot, p) in enumerate(chunk):
                    parts = [last[slot][None, :]]
                    if len(tails[r]):
                        parts.append(follow[r, : len(tails[r])])
                    states[p] = torch.cat(parts, dim=0)
        return self._score_states(states, [list(x) for _, x in pairs], torch)

    def _score_states(self, states: list[Any], targets: list[list[int]], torch: Any) -> list[Scored]:
        """Project hidden ``states`` (one ``[n_i, hidden]`` per row) onto the vocabulary in
        chunks and read the log-probability of each row's targets."""
        if not states:
            return []
        flat = torch.cat(states, dim=0)
        wanted = torch.tensor([t for row in targets for t in row], dtype=torch.long, device=flat.device)
        logprobs, greedy = self._project(flat, wanted)
        out, start = [], 0
        for row in targets:
            end = start + len(row)
            out.append(Scored(float(logprobs[start:end].double().sum()), len(row), bool(greedy[start:end].all())))
            start = end
        return out

    def _project(self, flat: Any, wanted: Any) -> tuple[Any, Any]:
        import torch

        vocab = int(self.config.vocab_size)
        step = max(1, (self.settings.logits_mb * 2**20) // (4 * vocab))
        logprobs, greedy = [], []
        with torch.inference_mode(), self._autocast():
            for start in range(0, flat.shape[0], step):
                logits = self._logits(flat[start : start + step])
                targets = wanted[start : start + step]
                logprobs.append(logits.log_softmax(dim=-1).gather(1, targets[:, None])[:, 0])
                greedy.append(logits.argmax(dim=-1) == targets)
        return torch.cat(logprobs), torch.cat(greedy)

    def _logits(self, states: Any) -> Any:
        import torch

        logits = self.head(states).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def _hidden(self, ids: Any, mask: Any, positions: Any, cache: Any = None) -> Any:
        import torch

        kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "use_cache": cache is not None}
        if cache is not None:
            kwargs[self.cache_arg] = cache
        with torch.inference_mode(), self._autocast():
            return self.decoder(**kwargs).last_hidden_state

    def _autocast(self) -> Any:
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast_bf16)

    def _left_padded(self, sequences: list[list[int]]) -> tuple[Any, Any, Any]:
        import torch

        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), int(self.tokenizer.pad_token_id or 0), dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    def _batches(self, order: list[int], lengths: list[int]) -> Iterator[list[int]]:
        """``order`` (sorted by length) cut into batches of at most ``forward_tokens`` padded tokens."""
        batch: list[int] = []
        for i in order:
            if batch and (len(batch) + 1) * max(lengths[i], max(lengths[j] for j in batch)) > self.settings.forward_tokens:
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def _new_cache(self) -> Any:
        from harness.models.continuous_batching import new_cache

        return new_cache(int(self.config.num_hidden_layers))

    def _select_rows(self, cache: Any, rows: Any) -> Any:
        """A new cache holding ``rows`` of ``cache`` (copied: the continuation appends to it)."""
        out = self._new_cache()
        for source, target in zip(cache.layers, out.layers):
            target.update(source.keys[rows], source.values[rows])
        return out

    def _kv_bytes_per_token(self) -> int:
        config = self.config
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        element = next(self.model.parameters()).element_size()
        return int(2 * config.num_hidden_layers * heads * head_dim * element)

    def _check_head(self) -> None:
        """Once: the chunked projection must give forward()'s log-probs on a short probe."""
        if self._head_checked:
            return
        import torch

        probe = [self.prefix_id] + [int(t) % int(self.config.vocab_size) for t in (11, 42, 7, 99, 5)]
        ids = torch.tensor([probe], dtype=torch.long, device=self.device)
        mask = torch.ones_like(ids)
        positions = torch.arange(len(probe), device=self.device)[None, :]
        with torch.inference_mode(), self._autocast():
            reference = self.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[0].float().log_softmax(dim=-1)
            ours = self._logits(self._hidden(ids, mask, positions)[0]).log_softmax(dim=-1)
        gap = float((reference - ours).abs().max())
        if gap > HEAD_CHECK_TOL:
            raise LikelihoodUnsupported(
                f"{type(self.model).__name__}: its output head does more than a linear layer and a soft cap "
                f"(log-probs differ by {gap:.2g} nats on a probe); likelihood scoring does not support this architecture"
            )
        self._head_checked = True
