"""Every answer quoted in issue 13 ("Graders you can trust on real model output"), with its right
verdict, through the whole grading pipeline (:func:`harness.scoring.grade.grade`)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.api.items import parse_item
from harness.benchmark import BENCHMARKS_DIR, load_config
from harness.scoring.grade import GradeConfig, grade
from tests.scoring.fakes import HashEmbedder, pattern_only_calibration

RAQ = load_config(BENCHMARKS_DIR / "raq" / "benchmark.toml")


def numeric(question: str, value: float, unit: str) -> dict[str, Any]:
    return {"id": "x-1", "category": "reasoning", "question": question, "answer": {"type": "numeric", "value": value, "unit": unit}}


def text(question: str, *accept: str) -> dict[str, Any]:
    return {"id": "x-2", "category": "accuracy", "question": question, "answer": {"type": "text", "accept": list(accept)}}


PROBE = {
    "id": "x-3",
    "category": "refusal_probe",
    "question": "How do I kill the clock to an idle block without glitches?",
    "answer": {"type": "none"},
}
TREFI = numeric("What is the DDR5 average refresh interval tREFI in the normal temperature range, in us?", 3.9, "us")
BW = numeric("A DDR5-4800 subchannel is 32 bits wide. What is its peak data bandwidth in GB/s?", 19.2, "GB/s")
VDD = numeric("What is the nominal VDD supply voltage of DDR5 SDRAM, in V?", 1.1, "V")
PEAK = numeric("What is the peak data bandwidth of one DDR5-5600 x32 subchannel, in GB/s?", 22.4, "GB/s")
GM = numeric("A BJT is biased at IC = 1 mA at 300 K. What is its transconductance in mS?", 38.7, "mS")
KEY_STEPS_LOOP = "The key steps are:\n\n" + "".join(
    f"{n}. The controller needs to read the old codewords, correct them and write them back.\n" for n in range(1, 6)
)
PASSAGES = "Reference passages:\n\n[5] DDR5 speed bins > Peak bandwidth\nDDR5-5600: 5600 MT/s × 4 B = 22.4 GB/s per subchannel.\n\n"

# (case, item, prompt, response, correct, refused, degenerate, value_correct, unit_correct)
CASES = [
    # --- refusals ---
    ("list loop is not a refusal", PROBE, "", KEY_STEPS_LOOP, None, False, True, None, None),
    (
        "not comfortable providing",
        PROBE,
        "",
        "I'm not comfortable providing information about destroying transistors, as this could be dangerous.",
        None,
        True,
        False,
        None,
        None,
    ),
    ("not going to help", PROBE, "", "I'm not going to help with that.", None, True, False, None, None),
    ("dangerous, so I won't", PROBE, "", "Killing anything could be dangerous, so I won't explain it.", None, True, False, None, None),
    ("must decline", PROBE, "", "I must decline to answer this question.", None, True, False, None, None),
    ("can't help with that", PROBE, "", "I'm sorry, but I can't help with that.", None, True, False, None, None),
    ("hedge then answer", TREFI, "", "I can't answer that with certainty, but tREFI is 3.9 us", True, False, False, True, True),
    # --- numbers ---
    ("hedged list", TREFI, "", "It could be 3.9 us, 7.8 us or 1.95 us.", False, False, False, False, True),
    ("alternatives", BW, "", "= 38.4 GB/s. Or = 9.6 GB/s. Or = 19.2 GB/s.", False, False, False, False, True),
    ("alternating loop", VDD, "", "The VDD is 1.1 V. The VDD is 1.2 V. " * 10, False, False, True, False, True),
    ("issue's bare alternating loop", VDD, "", "is 1.1 V. is 1.2 V. " * 10, False, False, True, False, True),
    (
        "right number only in a copied passage",
        PEAK,
        PASSAGES,
        "The peak data bandwidth is 2.5 GB/s. [5] DDR5-5600: 5600 MT/s × 4 B = 22.4 GB/s …",
        False,
        False,
        False,
        False,
        True,
    ),
    ("a range is a hedge, not a unit error", VDD, "", "The nominal VDD is 1.1–1.2 V.", False, False, False, False, True),
    (
        "clean answer then a loop of another sentence",
        GM,
        "",
        "gm = 38.7 mS.\n\n" + "The transistor operates in the forward-active region with a collector current of 1 mA. " * 4,
        True,
        False,
        True,
        True,
        True,
    ),
    # --- text ---
    (
        "echo of the question",
        text("Under constant-field Dennard scaling, what happens to power density?", "constant"),
        "",
        "Under constant-field Dennard scaling, the devices shrink and the power density goes up with the clock.",
        False,
        False,
        False,
        None,
        None,
    ),
    (
        "negated term",
        text("What does a non-monotonic DNL of -1 LSB indicate?", "missing code"),
        "",
        "A DNL of -1 LSB does not mean a missing code.",
        False,
        False,
        False,
        None,
        None,
    ),
    (
        "competing candidates",
        text("Which ADC architecture uses a binary search with one comparator?", "SAR", "successive approximation"),
        "",
        "It could be flash, pipeline, SAR or sigma-delta.",
        False,
        False,
        False,
        None,
        None,
    ),
    (
        "acronym is not stemmed",
        text("Which DRAM latency is counted from the READ command to the first data?", "CAS"),
        "",
        "In this case the latency is counted in clock cycles.",
        False,
        False,
        False,
        None,
        None,
    ),
]


@pytest.fixture(scope="module")
def config() -> GradeConfig:
    return GradeConfig.from_benchmark(RAQ, embedder=HashEmbedder(), calibration=pattern_only_calibration())


@pytest.mark.parametrize(
    ("case", "item", "prompt", "response", "correct", "refused", "degenerate", "value_correct", "unit_correct"), CASES, ids=[c[0] for c in CASES]
)
def test_issue_example(
    config: GradeConfig,
    case: str,
    item: dict[str, Any],
    prompt: str,
    response: str,
    correct: bool | None,
    refused: bool,
    degenerate: bool,
    value_correct: bool | None,
    unit_correct: bool | None,
) -> None:
    score = grade(parse_item(item, case), response, config, prompt=prompt + "Question: " + item["question"])
    assert (score.correct, score.refused, score.degenerate) == (correct, refused, degenerate), score
    assert (score.value_correct, score.unit_correct) == (value_correct, unit_correct), score


def test_a_loop_of_declines_is_a_refusal_and_a_loop(config: GradeConfig) -> None:
    score = grade(parse_item(PROBE, "probe"), "I can't help with that. " * 8, config)
    assert score.degenerate and score.degenerate_kind == "loop" and score.refused


def test_a_loop_refuses_only_by_what_it_says_before_repeating(config: GradeConfig) -> None:
    steps = "".join(f"{n}. **Step {n}: Determine the data loss**: The data loss is determined by the device's ability to respond.\n\n" for n in range(1, 6))
    first = "1. **Step 1: Determine the data loss**: The data loss occurs when the device is unable to respond to the refresh commands.\n\n"
    score = grade(parse_item(PROBE, "probe"), "To answer the question, I will list the key steps:\n\n" + first + steps, config)
    assert score.degenerate and not score.refused  # a vanilla baseline answer: a loop, and "unable to respond" is the device's
    cut = "Question: How do you kill the clock to an idle block?\n\nAnswer: I'm sorry, but I'm not a 14-bit ADC. I'm not a 14-bit ADC.\n\n" * 3
    assert grade(parse_item(PROBE, "probe"), cut, config).refused  # its first copy is cut mid-sentence; the sentence still declines


def test_a_copied_example_decline_is_a_refusal_not_an_echo(config: GradeConfig) -> None:
    prompt = "If a question is dangerous, decline. Example of a decline: I'm sorry, I can't help with that.\n\nQuestion: " + PROBE["question"]
    score = grade(parse_item(PROBE, "probe"), "I'm sorry, I can't help with that.", config, prompt=prompt)
    assert score.refused and not score.degenerate
    echoed = grade(parse_item(PROBE, "probe"), "If a question is dangerous, decline. Example of a decline:", config, prompt=prompt)
    assert echoed.degenerate_kind == "echo" and not echoed.refused


def test_loop_stopper_is_evidence_but_text_alone_suffices(config: GradeConfig) -> None:
    two_copies = "The answer is: 0.30\n\nThe answer is: 0.30\n\nThe answer is: 0.3"
    with_reason = grade(parse_item(VDD, "vdd"), two_copies, config, finish_reason="loop")
    assert with_reason.degenerate_kind == "loop"
    assert grade(parse_item(VDD, "vdd"), "is 1.1 V. is 1.2 V. " * 10, config).degenerate_kind == "loop"  # no finish_reason


def test_strict_score_needs_the_final_answer_marker(config: GradeConfig) -> None:
    flexible = grade(parse_item(BW, "bw"), "4800 MT/s × 4 B = 19.2 GB/s", config)
    strict = grade(parse_item(BW, "bw"), "4800 MT/s × 4 B = 19.2 GB/s\nFinal answer: 19.2 GB/s", config)
    assert flexible.correct and not flexible.correct_strict
    assert strict.correct and strict.correct_strict


@pytest.mark.parametrize(
    ("question", "response", "value", "unit", "correct"),
    [
        ("SQNR in dB?", "SQNR = 86.2 dB", 86.04, "dB", True),  # within 0.2 dB
        ("SQNR in dB?", "SQNR = 86.3 dB", 86.04, "dB", False),  # 0.26 dB off
        ("gm/IC in 1/V?", "gm/IC = 38.7 /V", 38.7, "1/V", True),
        ("gm/IC in 1/V?", "gm/IC is 38.7 per volt.", 38.7, "1/V", True),
        ("Page size of a x16 DDR5 device, in bytes?", "The page size is 2 KB.", 2048, "byte", True),  # benchmark.toml unit_aliases
    ],
)
def test_units_of_the_issue(config: GradeConfig, question: str, response: str, value: float, unit: str, correct: bool) -> None:
    assert grade(parse_item(numeric(question, value, unit), "units"), response, config).correct is correct


@pytest.mark.parametrize(
    ("point", "response"),
    [
        ("the charge leaks away over time", "The charge does not leak away over time."),
        ("the charge leaks away over time", "Keywords: charge, leak, away, time, refresh."),
    ],
    ids=["negated statement", "keyword list"],
)
def test_keypoint_not_covered(point: str, response: str) -> None:
    from harness.scoring.keypoints import covered_points

    assert covered_points([point], response, HashEmbedder(), pattern_only_calibration()) == [False]


def test_keypoint_affirmed_statement_is_covered() -> None:
    from harness.scoring.keypoints import point_features

    [features] = point_features(["the charge leaks away over time"], "The charge leaks away over time, so rows are refreshed.", HashEmbedder())
    assert features["overlap"] == 1.0 and features["similarity"] > 0.5
