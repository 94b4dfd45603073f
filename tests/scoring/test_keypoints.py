"""Key-point grader: structure with a fake embedder; paraphrase with the real MiniLM (integration)."""

from __future__ import annotations

import pytest

from harness.scoring.keypoints import adds_to_question, content_words, grade_keypoints, segments

POINTS = ["the bit is stored as charge on a capacitor", "the charge leaks away over time", "refresh reads and rewrites the row before the charge is lost"]
FULL = "The bit is stored as charge on a capacitor. The charge leaks away over time. Refresh reads and rewrites the row before the charge is lost."


def test_exact_restatement_covers_everything(fake_config) -> None:
    score = grade_keypoints(POINTS, FULL, 0.6, fake_config.get_embedder(), fake_config.get_calibration())
    assert score.coverage == 1.0 and score.correct is True


def test_empty_response_covers_nothing(fake_config) -> None:
    score = grade_keypoints(POINTS, "", 0.6, fake_config.get_embedder(), fake_config.get_calibration())
    assert score.coverage == 0.0 and score.correct is False


def test_min_fraction_boundary(fake_config) -> None:
    two_of_three = "The bit is stored as charge on a capacitor. The charge leaks away over time."
    embedder, calibration = fake_config.get_embedder(), fake_config.get_calibration()
    assert grade_keypoints(POINTS, two_of_three, 0.6, embedder, calibration).correct is True
    assert grade_keypoints(POINTS, two_of_three, 0.7, embedder, calibration).correct is False
    assert grade_keypoints(POINTS, two_of_three, 2 / 3, embedder, calibration).correct is True


FEEDBACK = (
    "Explain how the four negative-feedback topologies change the input and output resistances of an amplifier and which amplifier type each one stabilises."
)
SHUNT_SHUNT = "shunt-shunt stabilises a transimpedance amplifier: both resistances lowered"


@pytest.mark.parametrize(
    ("response", "adds"),
    [
        ("The four feedback topologies change the input and output resistances of an amplifier.", False),  # baseline rag:ckt-q-010
        ("The shunt-shunt feedback topology stabilises the output resistance.", False),  # 1 of its 4 new words: too few
        ("Shunt-shunt feedback lowers both resistances, which suits a transimpedance amplifier.", True),
        ("Shunt-shunt feedback does not lower both resistances of a transimpedance amplifier.", False),  # the opposite polarity
    ],
)
def test_a_point_needs_words_its_question_lacks(response: str, adds: bool) -> None:
    assert adds_to_question(SHUNT_SHUNT, response, FEEDBACK) is adds
    assert adds_to_question(SHUNT_SHUNT, response, "") is True  # question not known: no check


def test_restating_the_question_covers_no_point(fake_config) -> None:
    embedder, calibration = fake_config.get_embedder(), fake_config.get_calibration()
    question = "Explain how a DRAM cell stores a bit, why the charge leaks away over time, and what refresh does."
    echo = "A DRAM cell stores a bit. The charge leaks away over time. Refresh does something."
    assert grade_keypoints(POINTS, echo, 0.6, embedder, calibration, question).coverage < grade_keypoints(POINTS, echo, 0.6, embedder, calibration).coverage


def test_segments_pair_adjacent_sentences() -> None:
    assert segments("A one. B two. C three.") == ["A one.", "B two.", "C three.", "A one. B two.", "B two. C three."]


def test_content_words_fold_plurals_and_suffixes() -> None:
    assert content_words("Refreshing the rows") == content_words("refresh row")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("response", "covered"),
    [
        (FULL, [True, True, True]),
        (
            "Each DRAM cell keeps its data as a small amount of stored charge in a capacitor, which slowly drains through leakage, "
            "so the controller periodically re-reads and re-writes every row before the data disappears.",
            [True, True, True],
        ),
        ("Refresh is a command the controller issues every 3.9 us.", [False, False, False]),
        ("DRAM stands for dynamic random-access memory.", [False, False, False]),
    ],
)
def test_paraphrase_with_minilm(response: str, covered: list[bool], minilm_config) -> None:
    from harness.scoring.keypoints import covered_points

    assert covered_points(POINTS, response, minilm_config.get_embedder(), minilm_config.get_calibration()) == covered


@pytest.mark.integration
def test_held_out_accuracy_matches_the_committed_report(minilm_config) -> None:
    from harness.scoring.fitting import evaluate

    calibration = minilm_config.get_calibration()
    measured = evaluate(calibration, minilm_config.get_embedder(), "test")
    assert measured["keypoint_pairs"]["accuracy"] >= 0.7
    assert measured["keypoint_pairs"]["accuracy"] == pytest.approx(calibration.report["test"]["keypoint_pairs"]["accuracy"], abs=1e-4)
