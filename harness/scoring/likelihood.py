"""Likelihood measures from a run's ``likelihood.jsonl``: pure functions of the rows and items.

    python -m harness run --mode likelihood --systems vanilla,lora,lora-kd --limit 20
    python -m harness report RUN_DIR          # the "Likelihood" section is built from these

Per system (:func:`likelihood_metrics` -> ``metrics["likelihood"]["per_system"][name]``):

* ``reference_bpb`` -- mean over items of the reference answer's bits per byte given the
  system's prompt (lower is better), with a 95 % bootstrap CI; ``reference_bpb_by_type`` splits it
  by answer type (numeric, text, keypoints).
* ``mc_acc`` / ``mc_acc_norm`` -- lm-evaluation-harness's multiple-choice accuracy: the choice
  with the highest summed log-probability, or the highest log-probability per byte of its text,
  is the key. ``mc_chance`` is the mean of 1 / number of choices.
* ``error_types`` -- per distractor error type: items that have such a distractor (``n``), items
  whose top choice (``acc`` rule) was one (``fell``) and the share.
* ``corpus_bpb`` / ``heldout_bpb`` -- total bits over total bytes of the corpus documents and of
  the held-out documents (``loglikelihood_rolling``).

Paired comparisons (:func:`paired_comparison`) for each (a, b) of the pair list on the items both
systems scored: per-item bits-per-byte difference a - b (negative: a assigns the reference more
probability) with a t-based 95 % CI, paired t-test and Wilcoxon signed-rank p-values, and exact
McNemar on multiple-choice correctness.

Edge cases: ties in ``choose`` go to the first choice in the item's (shuffled) order; a system
with no rows of a kind has None for that measure; fewer than two paired items give None for the
CI and p-values; Wilcoxon with every difference zero gives p = 1.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from harness.api.items import Item
from harness.scoring import stats

DEFAULT_PAIRS = (("lora-kd", "lora"), ("lora", "vanilla"), ("rag", "vanilla"), ("rag+lora-kd", "rag"), ("teacher", "lora-kd"))
ANSWER_TYPES = ("numeric", "text", "keypoints")


def report_pairs(benchmark_path: Path) -> list[list[str]]:
    """The (a, b) system pairs a report compares: ``[report] pairs`` of the benchmark.toml beside
    the items file when it has one, else :data:`~harness.scoring.likelihood.DEFAULT_PAIRS`."""
    import tomllib

    try:
        pairs = tomllib.loads((Path(benchmark_path).parent / "benchmark.toml").read_text(encoding="utf-8")).get("report", {}).get("pairs")
    except (OSError, tomllib.TOMLDecodeError):
        pairs = None
    if isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs):
        return [list(p) for p in pairs]
    return [list(p) for p in DEFAULT_PAIRS]


def choose(texts: Sequence[str], logprobs: Sequence[float]) -> tuple[int, int]:
    """(index by summed log-prob, index by log-prob per UTF-8 byte of the choice text) -- lm-eval's
    ``acc`` and ``acc_norm`` picks (it normalises by characters; bytes here, equal for ASCII)."""
    raw = max(range(len(logprobs)), key=lambda i: (logprobs[i], -i))
    norm = max(range(len(logprobs)), key=lambda i: (logprobs[i] / max(1, len(texts[i].encode("utf-8"))), -i))
    return raw, norm


def mc_outcome(item: Item, logprobs: Sequence[float]) -> dict[str, Any]:
    """What the row of ``item`` records about its choices' log-probs."""
    texts = [c.text for c in item.choices]
    raw, norm = choose(texts, logprobs)
    return {
        "pick": raw,
        "pick_norm": norm,
        "acc": item.choices[raw].correct,
        "acc_norm": item.choices[norm].correct,
        "pick_error": item.choices[raw].error,
        "pick_norm_error": item.choices[norm].error,
        "n_choices": len(texts),
    }


def _mean_ci(values: Sequence[float]) -> tuple[float | None, list[float] | None]:
    ci = stats.bootstrap_ci(values)
    return stats.mean(values), (ci.to_list() if ci is not None else None)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def system_measures(rows: Sequence[Mapping[str, Any]], items: Mapping[str, Item]) -> dict[str, Any]:
    """One system's measures from its rows (item and document rows)."""
    item_rows = [r for r in rows if r.get("kind") == "item"]
    bpb = {str(r["id"]): float(r["reference"]["bits_per_byte"]) for r in item_rows if (r.get("reference") or {}).get("bits_per_byte") is not None}
    mean_bpb, ci_bpb = _mean_ci(list(bpb.values()))
    mc = [r for r in item_rows if r.get("mc")]
    acc = [1.0 if r["mc"]["acc"] else 0.0 for r in mc]
    acc_norm = [1.0 if r["mc"]["acc_norm"] else 0.0 for r in mc]
    mean_acc, ci_acc = _mean_ci(acc)
    mean_norm, ci_norm = _mean_ci(acc_norm)
    by_type: dict[str, float | None] = {}
    for kind in ANSWER_TYPES:
        values = [v for i, v in bpb.items() if i in items and items[i].answer.type == kind]
        by_type[kind] = _round(stats.mean(values))
    errors: dict[str, dict[str, Any]] = {}
    for row in mc:
        item = items.get(str(row["id"]))
        if item is None:
            continue
        for error in sorted({c.error for c in item.choices if c.error}):
            entry = errors.setdefault(error, {"n": 0, "fell": 0})
            entry["n"] += 1
            entry["fell"] += int(row["mc"].get("pick_error") == error)
    for entry in errors.values():
        entry["share"] = round(entry["fell"] / entry["n"], 4) if entry["n"] else None
    out: dict[str, Any] = {
        "n_items": len(item_rows),
        "reference_n": len(bpb),
        "reference_bpb": _round(mean_bpb),
        "reference_bpb_ci": ci_bpb,
        "reference_bpb_by_type": by_type,
        "mc_n": len(mc),
        "mc_acc": _round(mean_acc),
        "mc_acc_ci": ci_acc,
        "mc_acc_norm": _round(mean_norm),
        "mc_acc_norm_ci": ci_norm,
        "mc_chance": _round(stats.mean([1 / r["mc"]["n_choices"] for r in mc])),
        "error_types": dict(sorted(errors.items())),
    }
    for kind in ("corpus", "heldout"):
        docs = [r for r in rows if r.get("kind") == kind]
        total_bytes = sum(int(r["bytes"]) for r in docs)
        bits = sum(-float(r["logprob"]) / math.log(2) for r in docs)
        out[f"{kind}_bpb"] = _round(bits / total_bytes) if total_bytes else None
        out[f"{kind}_documents"] = len(docs)
    return out


def paired_comparison(a_rows: Iterable[Mapping[str, Any]], b_rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """System a against system b on the items both scored (see the module docstring)."""
    from scipy import stats as sps

    a_items = {str(r["id"]): r for r in a_rows if r.get("kind") == "item"}
    b_items = {str(r["id"]): r for r in b_rows if r.get("kind") == "item"}
    shared = [i for i in a_items if i in b_items]

    def bpb(row: Mapping[str, Any]) -> float | None:
        value = (row.get("reference") or {}).get("bits_per_byte")
        return None if value is None else float(value)

    pairs = [(bpb(a_items[i]), bpb(b_items[i])) for i in shared]
    diffs = [x - y for x, y in pairs if x is not None and y is not None]
    reference: dict[str, Any] = {"n": len(diffs), "mean_difference": _round(stats.mean(diffs)), "ci": None, "t_p": None, "wilcoxon_p": None}
    reference["a_lower"] = sum(1 for d in diffs if d < 0)
    if len(diffs) >= 2:
        sd = float(sps.tstd(diffs))
        half = float(sps.t.ppf(0.975, len(diffs) - 1)) * sd / math.sqrt(len(diffs))
        mean = sum(diffs) / len(diffs)
        reference["ci"] = [round(mean - half, 4), round(mean + half, 4)]
        reference["t_p"] = _round(float(sps.ttest_1samp(diffs, 0.0).pvalue), 6) if sd > 0 else 1.0  # = paired t on (a, b)
        reference["wilcoxon_p"] = _round(float(sps.wilcoxon(diffs).pvalue), 6) if any(d != 0 for d in diffs) else 1.0
    mc_shared = [i for i in shared if a_items[i].get("mc") and b_items[i].get("mc")]
    a_ok = [bool(a_items[i]["mc"]["acc"]) for i in mc_shared]
    b_ok = [bool(b_items[i]["mc"]["acc"]) for i in mc_shared]
    test = stats.mcnemar_exact(a_ok, b_ok)
    mc = {
        "n": len(mc_shared),
        "difference": _round(stats.mean([float(x) - float(y) for x, y in zip(a_ok, b_ok)])),  # acc(a) - acc(b)
        "a_only": test.a_only,  # items only a got right
        "b_only": test.b_only,
        "p": _round(test.p_value, 6),
    }
    return {"reference_bpb": reference, "mc_acc": mc}


def likelihood_metrics(
    rows: Sequence[Mapping[str, Any]], items: Mapping[str, Item], systems: Sequence[str], pairs: Sequence[Sequence[str]] = DEFAULT_PAIRS
) -> dict[str, Any]:
    """``run.json`` ``metrics["likelihood"]``: per-system measures and the paired comparisons of
    ``pairs`` whose both systems have rows."""
    by_system: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_system.setdefault(str(row.get("system")), []).append(row)
    names = [s for s in systems if s in by_system] + sorted(s for s in by_system if s not in systems)
    compared = []
    for a, b in pairs:
        if a in by_system and b in by_system:
            compared.append({"a": a, "b": b, **paired_comparison(by_system[a], by_system[b])})
    return {
        "per_system": {name: system_measures(by_system[name], items) for name in names},
        "pairs": [list(p) for p in pairs],
        "comparisons": compared,
    }
