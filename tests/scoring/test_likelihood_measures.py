"""The likelihood measures as pure functions: acc / acc_norm picks, error-type shares, document
bits per byte and the paired tests, table-driven."""

from __future__ import annotations

import math

import pytest

from harness.api.items import parse_item
from harness.scoring.likelihood import choose, likelihood_metrics, paired_comparison, system_measures


@pytest.mark.parametrize(
    ("texts", "logprobs", "picks"),
    [
        (["a", "bb", "ccc"], [-3.0, -2.0, -4.0], (1, 1)),  # highest sum wins both ways here
        (["a", "bbbbbbbbbb"], [-2.0, -5.0], (0, 1)),  # per byte, the long choice is likelier (-0.5 vs -2.0)
        (["x", "y"], [-1.0, -1.0], (0, 0)),  # ties go to the first choice
        (["µs", "us"], [-2.0, -1.9], (1, 0)),  # bytes, not characters: "µs" is 3 bytes (-0.667 > -0.95)
    ],
)
def test_choose_is_lm_eval_acc_and_acc_norm(texts: list[str], logprobs: list[float], picks: tuple[int, int]) -> None:
    assert choose(texts, logprobs) == picks


ITEM = parse_item(
    {
        "id": "x",
        "category": "reasoning",
        "question": "q?",
        "answer": {"type": "numeric", "value": 22.4, "unit": "GB/s"},
        "choices": [
            {"text": "22.4 GB/s", "correct": True},
            {"text": "179.2 GB/s", "correct": False, "error": "bits-bytes"},
            {"text": "44.8 GB/s", "correct": False, "error": "subchannel-dimm"},
        ],
    },
    "t:1",
)


def row(system: str, item_id: str, bpb: float, acc: bool, pick_error: str | None) -> dict:
    return {
        "kind": "item",
        "id": item_id,
        "system": system,
        "reference": {"bits_per_byte": bpb},
        "mc": {"acc": acc, "acc_norm": acc, "pick_error": pick_error, "n_choices": 3},
    }


def test_system_measures_count_error_types_and_document_bits() -> None:
    items = {"x": ITEM, "y": ITEM}
    rows = [
        row("s", "x", 1.0, False, "bits-bytes"),
        row("s", "y", 3.0, True, None),
        {"kind": "corpus", "id": "a.md", "system": "s", "logprob": -math.log(2) * 10, "bytes": 5},
        {"kind": "corpus", "id": "b.md", "system": "s", "logprob": -math.log(2) * 30, "bytes": 15},
    ]
    m = system_measures(rows, items)
    assert m["reference_bpb"] == 2.0 and m["mc_acc"] == 0.5 and m["mc_chance"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["error_types"] == {"bits-bytes": {"n": 2, "fell": 1, "share": 0.5}, "subchannel-dimm": {"n": 2, "fell": 0, "share": 0.0}}
    assert m["corpus_bpb"] == 2.0 and m["heldout_bpb"] is None and m["corpus_documents"] == 2


def test_paired_comparison_signs_and_mcnemar_counts() -> None:
    a = [row("a", f"i{k}", 1.0 + 0.01 * k, k % 2 == 0, None) for k in range(10)]
    b = [row("b", f"i{k}", 1.5 + 0.02 * k, False, "bits-bytes") for k in range(10)]
    result = paired_comparison(a, b)
    ref, mc = result["reference_bpb"], result["mc_acc"]
    assert ref["n"] == 10 and ref["mean_difference"] < 0 and ref["ci"][1] < 0 and ref["a_lower"] == 10
    assert ref["t_p"] < 0.001 and ref["wilcoxon_p"] < 0.01
    assert (mc["a_only"], mc["b_only"], mc["difference"]) == (5, 0, 0.5) and mc["p"] == pytest.approx(0.0625)


def test_pairs_without_both_systems_are_skipped() -> None:
    metrics = likelihood_metrics([row("lora", "x", 1.0, True, None)], {"x": ITEM}, ["lora"], [["lora", "vanilla"]])
    assert metrics["comparisons"] == [] and metrics["pairs"] == [["lora", "vanilla"]] and list(metrics["per_system"]) == ["lora"]
