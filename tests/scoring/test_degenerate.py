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
        "short repeated tail after an answer, ending cleanly",
        "The nominal VDD is 1.1 V.\n\nKey steps:\n1. Read the datasheet.\n2. Read the datasheet.\n3. Read the datasheet.",
        "",
        "stop",
        None,
        "The nominal VDD is 1.1 V.\n\nKey steps:\n1. Read the datasheet.\n",
    ),
    ("alternating values keep both in the first copy", "is 1.1 V. is 1.2 V. " * 6, "", None, "loop", "is 1.1 V. is 1.2 V. "),
    ("gibberish", "x = 0.000000000000000 9.99999999999999 1.0000000000000", "", None, "gibberish", "x = 0.000000000000000 9.99999999999999 1.0000000000000"),
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
