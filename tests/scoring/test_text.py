"""Table-driven edge cases of the short-answer grader."""

from __future__ import annotations

import pytest

from harness.scoring.text import canonical, grade_text

# (case, response, accepted variants, correct, extracted)
CASES = [
    ("exact", "It is a 1T1C cell.", ["1T1C"], True, "1T1C"),
    ("hyphen in response", "It is a 1T-1C cell.", ["1T1C"], True, "1T-1C"),
    ("hyphen in variant", "a **1T1C** cell", ["1T-1C"], True, "1T1C"),
    ("spaces vs none", "the bankgroup field", ["bank group"], True, "bankgroup"),
    ("case and hyphen", "Bank-Group bits select it", ["bank group"], True, "Bank-Group"),
    ("plural", "DDR5 has 8 bank groups", ["bank group"], True, "bank groups"),
    ("plural -es", "two buses", ["bus"], True, "buses"),
    ("plural -ies", "the memories", ["memory"], True, "memories"),
    ("acronym plural", "two ECCs", ["ECC"], True, "ECCs"),
    ("number word -> digit", "six transistors", ["6 transistors"], True, "six transistors"),
    ("digit -> number word", "uses 6 transistors", ["six transistors"], True, "6 transistors"),
    ("compound number word", "twenty-four banks", ["24 banks"], True, "twenty-four banks"),
    ("whole token only", "a BGA package", ["BG"], False, None),
    ("whole token only, inside a word", "ERASE it", ["RAS"], False, None),
    ("token present", "the BG bits", ["BG"], True, "BG"),
    ("any variant", "one-transistor one-capacitor", ["1T1C", "one-transistor one-capacitor"], True, "one-transistor one-capacitor"),
    ("order matters", "group bank", ["bank group"], False, None),
    ("empty response", "", ["1T1C"], False, None),
    ("unicode fullwidth", "ＤＲＡＭ cell", ["DRAM"], True, "ＤＲＡＭ"),
    ("ligature", "a ﬁnFET", ["finfet"], True, "ﬁnFET"),
]


@pytest.mark.parametrize(("case", "response", "accept", "correct", "extracted"), CASES, ids=[c[0] for c in CASES])
def test_text_edge_case(case: str, response: str, accept: list[str], correct: bool, extracted: str | None) -> None:
    score = grade_text(response, accept)
    assert (score.correct, score.extracted) == (correct, extracted)
    assert score.value_correct is None and score.unit_correct is None


@pytest.mark.parametrize(
    ("a", "b"), [("group", "groups"), ("bus", "buses"), ("case", "cases"), ("memory", "memories"), ("bias", "biases"), ("die", "dies"), ("loss", "losses")]
)
def test_singular_and_plural_share_a_key(a: str, b: str) -> None:
    assert canonical(a) == canonical(b)
