"""The generic graders carry no domain rules: a tiny PCIe benchmark (not DDR5) declares its own
categories and generation rule in benchmark.toml, and RAQ's DDR/HBM rule applies only where a
benchmark declares it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.api.errors import DataError
from harness.benchmark import BENCHMARKS_DIR, load_benchmark, load_config
from harness.scoring.grade import GradeConfig, grade_answer
from harness.scoring.gradebook import grader_id
from harness.scoring.metrics import compute_metrics
from harness.scoring.numeric import grade_numeric
from tests.scoring.fakes import HashEmbedder, pattern_only_calibration

PCIE_TOML = """name = "pcie-mini"
version = "0.1.0"
[categories.link]
description = "Lane rates and link bandwidth."
[categories.protocol]
description = "Terms of the transaction layer."
[grading]
generation_pattern = '\\bPCIe\\s*\\d\\.\\d'
"""
PCIE_ITEMS = [
    {
        "id": "p1",
        "category": "link",
        "question": "What is the raw per-lane rate of PCIe 4.0, in GT/s?",
        "answer": {"type": "numeric", "value": 16, "unit": "GT/s"},
    },
    {"id": "p2", "category": "protocol", "question": "Which PCIe layer issues TLPs?", "answer": {"type": "text", "accept": ["transaction layer"]}},
]
OTHER_GENERATION_FIRST = "PCIe 5.0 is 32 GT/s. PCIe 4.0 is 16 GT/s."  # no marker, no "=": the first stated result wins unless it is an aside


@pytest.fixture
def pcie(tmp_path: Path) -> Path:
    (tmp_path / "benchmark.toml").write_text(PCIE_TOML)
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in PCIE_ITEMS))
    return path


def test_a_benchmark_declares_its_own_categories(pcie: Path) -> None:
    benchmark = load_benchmark(pcie)
    assert list(benchmark.config.categories) == ["link", "protocol"] and [i.category for i in benchmark.items] == ["link", "protocol"]
    pcie.write_text(pcie.read_text() + json.dumps({**PCIE_ITEMS[0], "id": "p3", "category": "reasoning"}) + "\n")
    with pytest.raises(DataError, match=r":3: category: unknown category 'reasoning'; use one of link, protocol \(declared in benchmark.toml\)"):
        load_benchmark(pcie)


def test_the_generation_rule_is_the_benchmarks(pcie: Path) -> None:
    benchmark = load_benchmark(pcie)
    config = GradeConfig.from_benchmark(benchmark.config, embedder=HashEmbedder(), calibration=pattern_only_calibration())
    numeric = benchmark.items[0]
    assert grade_answer(numeric, OTHER_GENERATION_FIRST, config).correct  # PCIe 5.0's clause is an aside here
    assert grade_numeric(numeric.question, OTHER_GENERATION_FIRST, 16, "GT/s", 0.02).extracted == "32 GT/s"  # no rule declared: no aside
    raq = load_config(BENCHMARKS_DIR / "raq" / "benchmark.toml").generation_pattern
    assert grade_numeric(numeric.question, OTHER_GENERATION_FIRST, 16, "GT/s", 0.02, raq).extracted == "32 GT/s"  # RAQ's DDR rule knows nothing of PCIe
    ddr = "DDR4 used 1.2 V; DDR5 uses 1.1 V."
    question = "What is the nominal VDD of DDR5?"
    assert grade_numeric(question, ddr, 1.1, "V", 0.02, raq).correct and not grade_numeric(question, ddr, 1.1, "V", 0.02).correct


def test_metrics_use_the_benchmarks_categories(pcie: Path) -> None:
    benchmark = load_benchmark(pcie)
    config = GradeConfig.from_benchmark(benchmark.config, embedder=HashEmbedder(), calibration=pattern_only_calibration())
    answers = list(zip(benchmark.items, [OTHER_GENERATION_FIRST, "The data link layer."]))
    samples = [{"id": i.id, "system": "vanilla", "category": i.category, "response": r} for i, r in answers]
    grades = [{"id": i.id, "system": "vanilla", "category": i.category, "grader": grader_id(), **grade_answer(i, r, config).to_dict()} for i, r in answers]
    items = {i.id: i for i in benchmark.items}
    metrics = compute_metrics(grades, samples, items, ["vanilla"], "vanilla")["per_system"]["vanilla"]
    assert [(c, v["accuracy"]) for c, v in metrics["accuracy_by_category"].items()] == [("link", 1.0), ("protocol", 0.0)]
    assert metrics["probe_n"] == 0 and metrics["false_refusal_rate"] is None
