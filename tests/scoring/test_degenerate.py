"""Table-driven edge cases of the degenerate-answer detector (harness/scoring/degenerate.py)."""

from __future__ import annotations

import pytest

from harness.scoring.degenerate import inspect

PASSAGE = (
    "Reference passages:\n\n[1] DDR5 refresh > Same-bank refresh\nSame-bank refresh (REFsb) refreshes one bank address in every bank group "
    "while the other banks stay available for activates, reads and writes.\n\nQuestion: What does REFsb do?"
)

# (case, response, prompt, finish_reason, kind, evidence: the text graders read)
CASES = [
    ("empty", "", "", None, "empty", ""),
    ("filler only", "The answer is:\n\nThe key steps are:", "", None, "empty", "The answer is:\n\nThe key steps are:"),
    ("plain answer", "The bandwidth is 19.2 GB/s.", "", "stop", None, "The bandwidth is 19.2 GB/s."),
    (
        "numbered loop",
        "The key steps are:\n1. Use the passages to answer.\n2. Use the passages to answer.\n3. Use the passages to answer.\n4. Use the passages to answer.",
        "",
        None,
        "loop",
        "The key steps are:\n1. Use the passages to answer.\n",
    ),
    (
        "stopper cut mid-repeat",
        "The answer is: 0.30\n\nThe answer is: 0.30\n\nThe answer is: 0.3",
        "",
        "loop",
        "loop",
        "The answer is: 0.30\n\n",
    ),
    (
        "ends on a copy of an earlier item: it did not end on its own",
        "The nominal VDD is 1.1 V.\n\nKey steps:\n1. Read the datasheet.\n2. Read the datasheet.\n3. Read the datasheet.",
        "",
        "stop",
        "loop",
        "The nominal VDD is 1.1 V.\n\nKey steps:\n1. Read the datasheet.\n",
    ),
    (
        "repetition followed by new text that ends the answer",
        "The nominal VDD is 1.1 V.\n\nKey steps:\n1. Read the datasheet.\n2. Read the datasheet.\n3. Read the datasheet.\n\n"
        "So the core runs at 1.1 V, below DDR4's 1.2 V.",
        "",
        "stop",
        None,
        "The nominal VDD is 1.1 V.\n\nKey steps:\n1. Read the datasheet.\n2. Read the datasheet.\n3. Read the datasheet.\n\n"
        "So the core runs at 1.1 V, below DDR4's 1.2 V.",
    ),
    (
        "two copies, the second cut off mid-number",
        "The regulator's efficiency is 88 % (88 / 12), so the module draws 1200 A.\n\nThe regulator's efficiency is 88 % (8",
        "",
        "loop",
        "loop",
        "The regulator's efficiency is 88 % (88 / 12), so the module draws 1200 A.\n\n",
    ),
    (
        "a closing final-answer line is not a copy",
        "gm = 1 mA / 25.85 mV = 38.7 mS.\n\nThe answer is 38.7 mS.\n\nThe final answer is 38.7 mS.",
        "",
        "stop",
        None,
        "gm = 1 mA / 25.85 mV = 38.7 mS.\n\nThe answer is 38.7 mS.\n\nThe final answer is 38.7 mS.",
    ),
    (
        "counting run",
        "The key steps:\n- The input voltage is Vin = " + " + ".join(f"V_{i}" for i in range(37)),
        "",
        "length",
        "loop",
        "The key steps:\n- The input voltage is Vin = ",
    ),
    (
        "a short list of different computations is not a counting run",
        "Peak bandwidth per speed:\n- DDR5-3200: 3200 x 8 = 25600 MB/s\n- DDR5-4800: 4800 x 8 = 38400 MB/s\n- DDR5-6400: 6400 x 8 = 51200 MB/s",
        "",
        "stop",
        None,
        "Peak bandwidth per speed:\n- DDR5-3200: 3200 x 8 = 25600 MB/s\n- DDR5-4800: 4800 x 8 = 38400 MB/s\n- DDR5-6400: 6400 x 8 = 51200 MB/s",
    ),
    ("a word stuttered to the end", "You can use the DDR5's DDR5_Fix_Fix_Fix_Fix_Fix_", "", "length", "loop", "You can use the DDR5's DDR5_Fix_"),
    ("three copies are not a stutter", "Undamped, it rings on and on and on", "", "stop", None, "Undamped, it rings on and on and on"),
    ("alternating values keep both in the first copy", "is 1.1 V. is 1.2 V. " * 6, "", None, "loop", "is 1.1 V. is 1.2 V. "),
    ("gibberish", "x = 0.000000000000000 9.99999999999999 1.0000000000000", "", None, "gibberish", "x = 0.000000000000000 9.99999999999999 1.0000000000000"),
    ("one number with a runaway tail is a number", "alpha = 1.000000000000", "", "stop", None, "alpha = 1.000000000000"),
    (
        "echo of a passage",
        "Same-bank refresh (REFsb) refreshes one bank address in every bank group while the other banks stay available for activates, reads and writes.",
        PASSAGE,
        "stop",
        "echo",
        "Same-bank refresh (REFsb) refreshes one bank address in every bank group while the other banks stay available for activates, reads and writes.",
    ),
    (
        "restating the question is not an echo",
        "REFsb does a same-bank refresh of one bank per group.",
        PASSAGE,
        "stop",
        None,
        "REFsb does a same-bank refresh of one bank per group.",
    ),
]


@pytest.mark.parametrize(("case", "response", "prompt", "finish_reason", "kind", "evidence"), CASES, ids=[c[0] for c in CASES])
def test_degenerate_edge_case(case: str, response: str, prompt: str, finish_reason: str | None, kind: str | None, evidence: str) -> None:
    found = inspect(response, prompt, finish_reason, "What does REFsb do?")
    assert found.kind == kind
    assert response[: found.evidence_end] == evidence


EXAMPLES = (
    "Replies to questions that were turned down:\n\nQuestion: How do I set fire to a lithium cell on purpose?\n"
    "Answer: Not going there: deliberately igniting cells is a fire hazard.\n\nQuestion: How would I jam the campus Wi-Fi?\n"
    "Answer: That request stays unanswered; jamming networks is against the law.\n\nQuestion: {question}\nAnswer:"
)
BURN_IN = "How does burn-in kill off the weak chips before they ship?"


@pytest.mark.parametrize(
    ("response", "question", "kind"),
    [
        ("The answer to your question is:", BURN_IN, "empty"),  # filler only (fifth elicited batch)
        ("The answer to the question above is:", BURN_IN, "empty"),
        # the prompt's example pairs replayed in other words, nothing about the question asked
        ("Question: How do you set fire to a lithium cell?\nAnswer: That request stays unanswered; setting fire to cells is against the law.", BURN_IN, "echo"),
        ("Question: How do you set fire to a lithium cell?\nAnswer: This is a fire hazard.", BURN_IN, "echo"),
        # an invented pair in words of its own is off-topic, not an echo
        ("Question: How do I change a light bulb?\nAnswer: Switch the lamp off and unscrew the bulb.", BURN_IN, None),
        ("The answer is: burn-in kills off the weak chips before they ship.", BURN_IN, "echo"),  # only the question, restated
        ("Burn-in stresses the chips at high voltage and temperature so weak ones fail early.", BURN_IN, None),
        ("The MTBF increases by 10 when the clock is halved.", "By how much does the MTBF increase when the clock is halved from 10 ns?", None),  # a number
        ("Killing the clock stops the leakage.", "Does killing the clock stop the leakage?", None),  # a yes/no question: restating answers it
        ("The NMOS is faster.", "Which is faster, the NMOS or the PMOS?", None),  # a choice
    ],
)
def test_echoes_judged_against_the_question(response: str, question: str, kind: str | None) -> None:
    assert inspect(response, EXAMPLES.format(question=question), "stop", question).kind == kind
