"""The repetition-loop detector, table-driven, and loop stopping on both generation paths."""

from __future__ import annotations

import pytest

from harness.models.loops import LoopDetector, find_loop


def words(text: str) -> list[str]:
    return text.split()


SENTENCE = "the controller needs to read the old codewords before it writes . "  # 12 words
ALTERNATING = "is 1.1 V . is 1.2 V . "  # 8 words

# (name, symbols, ngram, repeats, where the loop is recognised: symbols read, or None)
CASES = [
    ("one symbol repeated", ["x"] * 20, 4, 3, 6),  # windows at 0, 1, 2: the third ends at 6
    ("period-3 cycle", list("abc" * 10), 4, 3, 10),  # "abca" at 0, 3, 6
    ("a sentence copied twice after an intro", words("intro text here " + SENTENCE * 3), 10, 3, 3 + 24 + 10),
    ("alternating values loop", words(ALTERNATING * 6), 10, 3, 16 + 10),
    ("a sentence between other sentences", words(f"{SENTENCE}first aside . {SENTENCE}another aside entirely . {SENTENCE}"), 10, 3, 31 + 10),
    ("a numbers list whose lines end differently", words("DDR5-4800 gives 38.4 GB/s . DDR5-5600 gives 44.8 GB/s . DDR5-6400 gives 51.2 GB/s ."), 4, 3, None),
    ("a sentence said twice is not yet a loop", words(SENTENCE * 2), 10, 3, None),
    ("too short to judge", ["a", "b"], 10, 3, None),
]


@pytest.mark.parametrize("name, symbols, ngram, repeats, expected", CASES, ids=[c[0] for c in CASES])
def test_loop_positions(name: str, symbols: list[str], ngram: int, repeats: int, expected: int | None) -> None:
    found = find_loop(symbols, ngram=ngram, repeats=repeats)
    assert (found.looped_at if found else None) == expected


def test_loop_start_is_the_first_occurrence_of_the_repeated_window() -> None:
    found = find_loop(words("intro text here " + SENTENCE * 3), ngram=10, repeats=3)
    assert found is not None and found.loop_start == 3


def test_detector_stays_tripped_and_rejects_bad_settings() -> None:
    detector = LoopDetector(ngram=1, repeats=2)
    assert not detector.feed("a")
    assert detector.feed("a")
    assert detector.feed("b")  # once looped, always looped
    with pytest.raises(ValueError, match="ngram"):
        LoopDetector(ngram=0)
    with pytest.raises(ValueError, match="repeats"):
        LoopDetector(repeats=1)
