"""Retrieval metrics: hit@k and MRR of retrieved chunks against each item's gold passages.

    python -m harness index eval                      # without generating (the retrieval plugin)
    retrieval_metrics_for_run(samples, items)         # from a run log: what systems recorded in extra["retrieved"]

Computed from the samples alone, so the core needs no retrieval plugin to score any system that
records ``extra["retrieved"] = [{"anchor": ...}, ...]``, best first.

A gold passage is a section anchor ``doc-path#slug``; a section contains its sub-sections. A
retrieved chunk *hits* a gold passage when

* its anchor equals the gold anchor, or
* its anchor is a section of the same document whose line range lies inside the gold section's
  range (a sub-section), using :mod:`harness.corpus` line numbers, or
* the gold passage is a bare ``doc-path`` (the whole document) and the chunk comes from it.

Edge cases: items without gold passages are left out (``n`` counts the items scored); a gold
anchor missing from the corpus can only match exactly and is listed under ``unknown_gold``;
``hit@k`` for k deeper than the recorded list is ``None`` (not 0); MRR is the mean of
1/rank of the first hit within the recorded list (0 when none hits).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from harness.corpus import Section, section_spans

KS = (1, 3, 5, 10)  # cut-offs reported everywhere


class GoldMatcher:
    """Decides whether a chunk anchor falls inside a gold passage."""

    def __init__(self, spans: Mapping[str, Section]) -> None:
        self.spans = dict(spans)

    @classmethod
    def for_corpus(cls, root: Path | str | None = None) -> "GoldMatcher":
        from harness.benchmark import DEFAULT_CORPUS

        root = Path(root) if root is not None else DEFAULT_CORPUS
        return cls(section_spans(root) if root.is_dir() else {})

    def is_hit(self, anchor: str, gold: str) -> bool:
        if anchor == gold:
            return True
        gold_doc, sep, _ = gold.partition("#")
        chunk_doc = anchor.partition("#")[0]
        if not sep:
            return chunk_doc == gold_doc
        if chunk_doc != gold_doc:
            return False
        outer, inner = self.spans.get(gold), self.spans.get(anchor)
        return outer is not None and inner is not None and outer.start_line <= inner.start_line and inner.end_line <= outer.end_line

    def first_hit_rank(self, anchors: Sequence[str], gold: Sequence[str]) -> int | None:
        """1-based rank of the first anchor inside any gold passage, or None."""
        for rank, anchor in enumerate(anchors, start=1):
            if any(self.is_hit(anchor, g) for g in gold):
                return rank
        return None

    def unknown(self, gold: Iterable[str]) -> list[str]:
        return sorted({g for g in gold if "#" in g and g not in self.spans})


def summarize_ranks(ranks: Sequence[int | None], depth: int, ks: Sequence[int] = KS) -> dict[str, Any]:
    """``{"n", "hit@1", "hit@1_ci", ..., "mrr"}`` for first-hit ranks over lists ``depth`` long
    (``hit@k_ci``: the Wilson 95% interval of the hit rate, present where the rate is)."""
    from harness.scoring.stats import wilson_ci

    n = len(ranks)
    out: dict[str, Any] = {"n": n}
    for k in ks:
        hits = sum(1 for r in ranks if r is not None and r <= k)
        out[f"hit@{k}"] = (hits / n if n else None) if k <= depth else None
        interval = wilson_ci(hits, n) if out[f"hit@{k}"] is not None else None
        if interval is not None:
            out[f"hit@{k}_ci"] = interval.to_list()
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n if n else None
    return out


def summarize_by_category(rows: Sequence[tuple[str, int | None]], depth: int, ks: Sequence[int] = KS) -> dict[str, Any]:
    """Overall and per-category summaries of ``(category, first-hit rank)`` rows."""
    per: dict[str, list[int | None]] = defaultdict(list)
    for category, rank in rows:
        per[category].append(rank)
    return {
        "depth": depth,
        "all": summarize_ranks([r for _, r in rows], depth, ks),
        "per_category": {c: summarize_ranks(per[c], depth, ks) for c in sorted(per)},
    }


def _gold_and_category(item: Any) -> tuple[str, str, tuple[str, ...]]:
    if isinstance(item, Mapping):
        return str(item["id"]), str(item.get("category", "?")), tuple(item.get("gold_passages") or ())
    return item.id, item.category, tuple(item.gold_passages)


def retrieval_metrics_for_run(samples: Iterable[Mapping[str, Any]], items: Iterable[Any], corpus_root: Path | str | None = None) -> dict[str, Any]:
    """Per system that recorded ``extra["retrieved"]``: hit@1/3/5/10 and MRR, overall and per
    category, against the items' gold passages.

    ``samples`` are samples.jsonl records; ``items`` are :class:`~harness.api.items.Item` objects
    or their dicts (``benchmark.jsonl``); ``corpus_root`` is the corpus the gold anchors point
    into (default: the bundled corpus). Returns ``{system: {"depth", "all", "per_category",
    "unknown_gold"}}``; systems without retrieval are absent.
    """
    gold_by_id: dict[str, tuple[str, tuple[str, ...]]] = {}
    for item in items:
        item_id, category, gold = _gold_and_category(item)
        gold_by_id[item_id] = (category, gold)
    matcher: GoldMatcher | None = None
    rows: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    depth: dict[str, int] = {}
    unknown: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        retrieved = (sample.get("extra") or {}).get("retrieved")
        category, gold = gold_by_id.get(str(sample.get("id")), ("?", ()))
        if not isinstance(retrieved, list) or not gold:
            continue
        matcher = matcher or GoldMatcher.for_corpus(corpus_root)
        system = str(sample.get("system"))
        anchors = [str(r.get("anchor", "")) for r in retrieved if isinstance(r, Mapping)]
        depth[system] = min(depth.get(system, len(anchors)), len(anchors))
        rows[system].append((category, matcher.first_hit_rank(anchors, gold)))
        unknown[system].update(matcher.unknown(gold))
    return {system: {**summarize_by_category(rows[system], depth[system]), "unknown_gold": sorted(unknown[system])} for system in sorted(rows)}
