"""Training data: the domain corpus as packed causal-LM sequences, with character offsets.

    python -m harness corpus stats        # how many tokens the packing below will see

Every document body (front matter removed) is tokenised on its own, followed by the tokenizer's
end-of-sequence token, and the documents are concatenated into one token stream. The stream is cut
into blocks of ``seq_len`` tokens (the tail shorter than a block is dropped); tokenizers that
start their inputs with BOS (Gemma, Llama) get BOS at the head of every block. Benchmark items
are never read here -- only the corpus folder. Training appends the questions derived from the
corpus (:func:`adapters.derived.training_texts`) as further documents before tokenising.

Each token keeps the character span it covers in one joined corpus text (documents separated by
one newline that no tokenizer sees; EOS is a zero-width token at its document's end; BOS has start
-1). Those offsets let a teacher with another tokenizer read exactly the text of a student block
(:func:`teacher_view`), and let :func:`adapters.losses.align_offsets` pair positions across
tokenizations.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.api.errors import ConfigError, DataError

BOS_START = -1  # start offset recorded for a BOS token: it predicts nothing and is never predicted


@dataclass(frozen=True)
class TokenStream:
    """The whole corpus as one tokenised stream (lists of equal length)."""

    ids: list[int]
    starts: list[int]  # character offset where each token starts in ``text``
    ends: list[int]  # character offset one past each token's last character
    text: str  # the joined corpus text the offsets point into
    documents: int


@dataclass(frozen=True)
class PackedBlocks:
    """Fixed-length training sequences. Tensors are ``[n_blocks, seq_len]`` (torch.long)."""

    input_ids: Any
    starts: Any  # -1 for BOS
    ends: Any
    text: str
    documents: int
    stream_tokens: int  # tokens in the stream before packing (dropped tail included)

    @property
    def n_blocks(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[1])

    def layout_hash(self) -> str:
        """Identity of the sequence layout: token ids and offsets of every block."""
        digest = hashlib.sha256()
        digest.update(str(tuple(self.input_ids.shape)).encode())
        for tensor in (self.input_ids, self.starts, self.ends):
            digest.update(tensor.contiguous().numpy().tobytes())
        return digest.hexdigest()


def corpus_texts(root: Path) -> list[str]:
    """Document bodies of the corpus at ``root`` (sorted by path), front matter removed."""
    from harness.corpus import load_corpus

    corpus = load_corpus(Path(root))
    texts = [d.body.strip() for d in corpus.documents]
    texts = [t for t in texts if t]
    if not texts:
        raise DataError(f"{root}: every document body is empty; add text below the front matter")
    return texts


def eos_id(tokenizer: Any) -> int:
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"tokenizer {getattr(tokenizer, 'name_or_path', '?')} has no EOS token; documents cannot be separated")
    return int(tokenizer.eos_token_id)


def bos_id(tokenizer: Any) -> int | None:
    """The BOS id when the tokenizer puts BOS in front of plain text by default, else None."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return None
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return int(bos) if ids and ids[0] == bos else None


def tokenize_documents(texts: Sequence[str], tokenizer: Any) -> TokenStream:
    """One stream for ``texts``: each document's tokens, then a zero-width EOS at its end."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '?')} is not a fast tokenizer; "
            "character offsets (needed for packing and cross-tokenizer KD) require one"
        )
    eos = eos_id(tokenizer)
    ids: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    offset = 0
    for text in texts:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
            ids.append(int(token))
            starts.append(offset + int(start))
            ends.append(offset + int(end))
        ids.append(eos)
        starts.append(offset + len(text))
        ends.append(offset + len(text))
        offset += len(text) + 1  # the separating newline
    return TokenStream(ids=ids, starts=starts, ends=ends, text="\n".join(texts), documents=len(texts))


def pack(stream: TokenStream, seq_len: int, bos: int | None = None) -> PackedBlocks:
    """Cut ``stream`` into ``[n, seq_len]`` blocks (BOS first when ``bos`` is given)."""
    import torch

    body = seq_len - (1 if bos is not None else 0)
    n_blocks = len(stream.ids) // body
    if n_blocks == 0:
        raise DataError(f"the corpus has {len(stream.ids)} tokens, fewer than one sequence of {body}; add documents or lower seq_len (--set seq_len=...)")
    used = n_blocks * body

    def blocks(values: list[int], head: int) -> Any:
        t = torch.tensor(values[:used], dtype=torch.long).view(n_blocks, body)
        if bos is None:
            return t
        return torch.cat([torch.full((n_blocks, 1), head, dtype=torch.long), t], dim=1)

    return PackedBlocks(
        input_ids=blocks(stream.ids, bos if bos is not None else 0),
        starts=blocks(stream.starts, BOS_START),
        ends=blocks(stream.ends, BOS_START),
        text=stream.text,
        documents=stream.documents,
        stream_tokens=len(stream.ids),
    )


def pack_corpus(root: Path, tokenizer: Any, seq_len: int) -> PackedBlocks:
    """The corpus at ``root`` packed for ``tokenizer``."""
    return pack(tokenize_documents(corpus_texts(root), tokenizer), seq_len, bos_id(tokenizer))


def teacher_view(blocks: PackedBlocks, stream: TokenStream, bos: int | None, block: int) -> tuple[list[int], list[int]]:
    """The teacher's tokens covering exactly the characters of student ``block``.

    Returns ``(ids, starts)``: BOS first when the teacher uses one, then every teacher token
    whose span lies inside the block's span (a token straddling either edge is left out).
    """
    starts = [s for s in blocks.starts[block].tolist() if s != BOS_START]
    ends = [e for e in blocks.ends[block].tolist() if e != BOS_START]
    span_start, span_end = starts[0], max(ends)
    first = bisect.bisect_left(stream.starts, span_start)
    ids: list[int] = [bos] if bos is not None else []
    token_starts: list[int] = [BOS_START] if bos is not None else []
    for index in range(first, len(stream.ids)):
        if stream.starts[index] > span_end or stream.ends[index] > span_end:
            break
        ids.append(stream.ids[index])
        token_starts.append(stream.starts[index])
    return ids, token_starts


def epoch_order(n_blocks: int, seed: int, epoch: int) -> list[int]:
    """Deterministic shuffle of block indices for one epoch."""
    import torch

    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n_blocks, generator=generator).tolist()


def micro_batches(n_blocks: int, batch_size: int, seed: int, epochs: int, rank: int = 0, world: int = 1) -> list[list[int]]:
    """Every micro-batch of the run in order (block indices for process ``rank`` of ``world``).

    Each epoch is a fresh shuffle; each process takes every ``world``-th block of it, trimmed so
    all processes see the same number of batches (DDP needs equal step counts).
    """
    per_rank = n_blocks // world
    if per_rank == 0:
        raise DataError(f"{n_blocks} sequences cannot be shared by {world} processes; add corpus text or use fewer processes")
    out: list[list[int]] = []
    for epoch in range(epochs):
        mine = epoch_order(n_blocks, seed, epoch)[rank::world][:per_rank]
        out.extend(mine[i : i + batch_size] for i in range(0, per_rank, batch_size))
    return out
