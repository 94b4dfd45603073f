"""Self-consistency with the shipped benchmarks: an answer that states the key, in the key's own
unit, is graded correct; the bare number is a unit error (unless the key has no unit)."""

from __future__ import annotations

import pytest

from harness.benchmark import BENCHMARKS_DIR, load_benchmark
from harness.scoring.numeric import grade_numeric
from harness.scoring.text import grade_text

FILES = [p for p in (BENCHMARKS_DIR / "raq" / "items.jsonl", BENCHMARKS_DIR / "raq" / "dev.jsonl", BENCHMARKS_DIR / "starter" / "items.jsonl") if p.exists()]


def _items(kind: str) -> list:
    out = []
    for path in FILES:
        benchmark = load_benchmark(path)
        out += [(benchmark.config.default_rel_tol, item) for item in benchmark.items if item.answer.type == kind]
    return out


NUMERIC = _items("numeric")
TEXT = _items("text")


@pytest.mark.skipif(not NUMERIC, reason="no benchmark files")
@pytest.mark.parametrize("template", ["Final answer: {value} {unit}", "So the result is {value:g} {unit}.", "{value:.6g} {unit}"])
def test_stating_the_key_is_correct(template: str) -> None:
    failures = []
    for default_tol, item in NUMERIC:
        a = item.answer
        response = template.format(value=a.value, unit=a.unit)
        score = grade_numeric(item.question, response, a.value, a.unit, a.rel_tol or default_tol)
        if not score.correct:
            failures.append(f"{item.id}: {response!r} -> {score.extracted!r} {score.note}")
    assert not failures, "\n".join(failures)


@pytest.mark.skipif(not NUMERIC, reason="no benchmark files")
def test_bare_number_is_a_unit_error_when_the_key_has_a_unit() -> None:
    from harness.units import is_plain_number_unit

    failures = []
    for default_tol, item in NUMERIC:
        a = item.answer
        score = grade_numeric(item.question, f"Final answer: {a.value}", a.value, a.unit, a.rel_tol or default_tol)
        expected = (True, True) if is_plain_number_unit(a.unit) and a.unit.lower() not in {"db"} else (True, False)
        if a.unit.strip() in {"%"}:
            expected = (True, False)
        if (score.value_correct, score.unit_correct) != expected:
            failures.append(f"{item.id} ({a.unit}): {(score.value_correct, score.unit_correct)}")
    assert not failures, "\n".join(failures)


@pytest.mark.skipif(not TEXT, reason="no benchmark files")
def test_every_accepted_variant_is_accepted() -> None:
    failures = [f"{item.id}: {v!r}" for _, item in TEXT for v in item.answer.accept if not grade_text(f"The answer is {v}.", item.answer.accept).correct]
    assert not failures, "\n".join(failures)
