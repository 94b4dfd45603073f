"""Grades kept across runs: a second grading of the same answers grades nothing, and anything that
could change a decision (response, item, tolerances, grading code) misses the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.benchmark import load_benchmark
from harness.scoring import gradebook
from harness.scoring.gradebook import GradeCache, grade_samples
from tests.conftest import STARTER
from tests.scoring.runs import BAD, GOOD, fake_grade_config


def samples(answers: dict[str, str], system: str = "s") -> list[dict]:
    return [{"id": i, "system": system, "response": r} for i, r in answers.items()]


def test_second_grading_is_served_from_the_cache_and_equal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = {it.id: it for it in load_benchmark(STARTER).items}
    config = fake_grade_config()
    cache = GradeCache(tmp_path / "grades.sqlite")
    first = grade_samples(samples({**GOOD, **{k: v for k, v in BAD.items() if k.startswith("st-a")}}), items, config, cache=cache)

    def must_not_grade(*args: object, **kwargs: object) -> None:
        raise AssertionError("graded again")

    monkeypatch.setattr(gradebook, "grade", must_not_grade)
    second = grade_samples(
        samples({**GOOD, **{k: v for k, v in BAD.items() if k.startswith("st-a")}}), items, config, cache=GradeCache(tmp_path / "grades.sqlite")
    )
    assert second == first
    with pytest.raises(AssertionError, match="graded again"):  # one changed response misses
        grade_samples(samples({**GOOD, "st-a-001": "1.15 V"}), items, config, cache=GradeCache(tmp_path / "grades.sqlite"))


def test_key_changes_with_anything_that_can_change_a_grade(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    items = list(load_benchmark(STARTER).items)
    config = fake_grade_config()
    base = GradeCache.key(items[0], "answer", config)
    assert GradeCache.key(items[0], "answer", config) == base
    assert GradeCache.key(items[0], "answer.", config) != base
    assert GradeCache.key(items[1], "answer", config) != base
    assert GradeCache.key(items[0], "answer", replace(config, default_rel_tol=0.05)) != base
    gradebook._grader_source_digest.cache_clear()
    monkeypatch.setattr(gradebook, "_grader_source_digest", lambda: "edited")
    assert GradeCache.key(items[0], "answer", config) != base


def test_stand_in_embedders_never_use_the_shared_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    items = {it.id: it for it in load_benchmark(STARTER).items}
    grade_samples(samples(GOOD), items, fake_grade_config())
    assert not (tmp_path / "grades.sqlite").exists()
