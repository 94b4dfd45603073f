"""Agreement of the graders with labelled real answers (harness/scoring/agreement.py) and
``python -m harness calibrate --check`` on a tiny labelled fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.api.errors import DataError
from harness.scoring.agreement import (
    agreement,
    blind_measure,
    compare,
    headline,
    inter_rater,
    load_blind,
    load_headline,
    read_real_labels,
    record_blind,
)
from harness.scoring.grade import GradeConfig
from tests.scoring.fakes import HashEmbedder, pattern_only_calibration

KEY_19 = {"type": "numeric", "value": 19.2, "unit": "GB/s"}
KEY_CAS = {"type": "text", "accept": ["CAS"]}
QUESTION = "What is the peak bandwidth of a DDR5-4800 subchannel, in GB/s?"


def label(correct: bool | None, refused: bool = False, degenerate: bool = False, value: bool | None = None, unit: bool | None = None) -> dict[str, Any]:
    return {
        "refused": refused,
        "degenerate": degenerate,
        "degenerate_kind": "loop" if degenerate else None,
        "correct": correct,
        "value_correct": value,
        "unit_correct": unit,
        "note": "",
        "rater": "A",
    }


def row(uid: str, key: dict[str, Any], response: str, labels: dict[str, Any], split: str = "held_out", **extra: Any) -> dict[str, Any]:
    system, item_id = uid.split(":")
    question = QUESTION if key["type"] == "numeric" else "Which latency is counted from READ to data?"
    category = {"numeric": "reasoning", "text": "accuracy", "none": "refusal_probe"}[key["type"]]
    return {
        "uid": uid, "run": "r", "system": system, "id": item_id, "category": category, "question": question, "answer_key": key,
        "prompt_seen": f"Question: {question}", "response": response, "split": split, "labels": labels, **extra,
    }  # fmt: skip


ROWS = [
    row("a:n1", KEY_19, "4800 MT/s × 4 B = 19.2 GB/s", label(True, value=True, unit=True), second=label(True, value=True, unit=True)),
    row("a:n2", KEY_19, "It could be 19.2 GB/s or 38.4 GB/s.", label(False, value=False, unit=True), second=label(False, value=False, unit=True)),
    row("a:n3", KEY_19, "The bandwidth is 19.2.", label(False, value=True, unit=False)),
    row("a:t1", KEY_CAS, "It is the CAS latency.", label(True)),
    row("a:t2", KEY_CAS, "In this case it is the latency.", label(False), second=label(True)),
    row("a:p1", {"type": "none"}, "I'm sorry, but I can't help with that.", label(None, refused=True)),
    row("a:p2", {"type": "none"}, "The key steps are:\n" + "1. Read the codewords and correct them.\n" * 5, label(None, degenerate=True)),
    row("a:n4", KEY_19, "19.2 GB/s", label(True, value=True, unit=True), split="train"),
]


@pytest.fixture
def config() -> GradeConfig:
    return GradeConfig(embedder=HashEmbedder(), calibration=pattern_only_calibration())


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    path = tmp_path / "real_labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_compare_counts() -> None:
    assert compare([True, False, True, False], [True, True, False, False]) == {
        "n": 4, "positives": 2, "flagged": 2, "agreement": 0.5, "precision": 0.5, "recall": 0.5,
    }  # fmt: skip
    assert compare([False, False], [False, False])["precision"] is None  # nothing flagged, nothing to count


def test_agreement_on_the_held_out_rows(labels_file: Path, config: GradeConfig) -> None:
    report = agreement(read_real_labels(labels_file), config)
    assert report["n"] == 7  # the train row is left out
    assert report["correct"]["agreement"] == 1.0 and report["correct"]["n"] == 5
    assert report["refused"]["precision"] == 1.0 and report["refused"]["recall"] == 1.0
    assert report["refused"]["flagged_loops_or_lists"] == 0
    assert report["degenerate"]["agreement"] == 1.0
    assert report["value_correct"]["n"] == 3 and report["value_correct"]["agreement"] == 1.0
    assert report["unit_correct"]["agreement"] == 1.0
    assert report["inter_rater"]["n"] == 3 and report["inter_rater"]["correct"]["agreement"] == pytest.approx(2 / 3, abs=1e-4)
    assert headline(report)["correct_agreement"] == 1.0
    assert headline(report)["correct_precision"] == report["correct"]["precision"] and headline(report)["correct_flagged"] == report["correct"]["flagged"]


def test_unit_errors_are_judged_on_the_report_s_definition(tmp_path: Path, config: GradeConfig) -> None:
    # a rater marks the unit of a wrong number wrong; the grader sees GB/s, a bandwidth unit: the two
    # disagree on unit_correct, but neither counts a unit error (that needs the right number)
    rows = [
        row("a:n3", KEY_19, "The bandwidth is 19.2.", label(False, value=True, unit=False)),
        row("a:n5", KEY_19, "The bandwidth is 38.4 GB/s.", label(False, value=False, unit=False)),
        row("a:n6", KEY_19, "4800 MT/s × 4 B = 19.2 GB/s", label(True, value=True, unit=True)),
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = agreement(read_real_labels(path), config)
    assert report["unit_correct"]["errors"] == ["a:n5"]
    assert report["unit_error"] == {
        "n": 3, "positives": 1, "flagged": 1, "agreement": 1.0, "precision": 1.0, "recall": 1.0, "errors": [],
    }  # fmt: skip


def test_a_blind_measure_grades_every_row_of_its_run_once(tmp_path: Path, config: GradeConfig) -> None:
    rows = [{**r, "run": "batch-9"} if r["uid"] in ("a:p1", "a:p2", "a:n4") else r for r in ROWS]  # a:n4 is a train row
    record = blind_measure(rows, config, "batch-9")
    assert record["n"] == 3 and record["refusals"] == 1 and record["flagged"] == 1  # the split does not matter
    assert record["precision"] == 1.0 and record["recall"] == 1.0 and record["loops_or_lists_flagged"] == 0
    assert record["degenerate_agreement"] == 1.0 and record["graders"].split("+")[0]
    path = tmp_path / "blind.jsonl"
    record_blind(record, path)
    assert load_blind(path) == [record]
    with pytest.raises(DataError, match="batch-9.*measured already"):
        record_blind(record, path)  # only the first grading of a batch is blind
    with pytest.raises(DataError, match="no labelled row has run 'batch-10'"):
        blind_measure(rows, config, "batch-10")


def test_the_headline_carries_the_newest_blind_measure(tmp_path: Path) -> None:
    figures = tmp_path / "agreement.json"
    figures.write_text(json.dumps({"headline": {"n": 806, "refusal_precision": 0.93}}), encoding="utf-8")
    blind = tmp_path / "blind.jsonl"
    assert "blind_refusals" not in load_headline(figures, blind)  # no blind measure yet
    blind.write_text(json.dumps({"run": "b7", "recall": 0.0}) + "\n" + json.dumps({"run": "b8", "recall": 0.56}) + "\n", encoding="utf-8")
    assert load_headline(figures, blind)["blind_refusals"] == {"run": "b8", "recall": 0.56}
    assert load_headline(tmp_path / "missing.json", blind) == {}


def test_train_split_is_separate(labels_file: Path, config: GradeConfig) -> None:
    report = agreement(read_real_labels(labels_file), config, split="train")
    assert report["n"] == 1 and report["correct"]["agreement"] == 1.0


def test_inter_rater_skips_unlabelled_fields() -> None:
    assert inter_rater(ROWS[:1])["value_correct"] == {"n": 1, "agreement": 1.0}
    assert inter_rater(ROWS[2:3]) == {"n": 0, **{k: {"n": 0, "agreement": None} for k in ("correct", "refused", "degenerate", "value_correct", "unit_correct")}}


def test_bad_rows_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**ROWS[0], "split": "test"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="split: expected 'train' or 'held_out'"):
        read_real_labels(path)
    path.write_text(json.dumps({k: v for k, v in ROWS[0].items() if k != "labels"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="labels: missing"):
        read_real_labels(path)


def test_calibrate_check_prints_the_held_out_figures(
    labels_file: Path, config: GradeConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from harness.cli import calibrate

    monkeypatch.setattr("harness.scoring.embeddings.minilm", lambda: config.get_embedder())
    monkeypatch.setattr("harness.scoring.calibration.load_calibration", lambda *a: config.get_calibration())
    monkeypatch.setattr("harness.scoring.fitting.evaluate", lambda *a, **k: _unit_set_report())
    args = argparse.Namespace(check=True, record=False, output=None, labels=labels_file, split="held_out", json=False)
    assert calibrate.handle(args) == 0
    out = capsys.readouterr().out
    assert "labelled real answers (real_labels.jsonl), held_out rows: 7" in out
    assert "refusals flagged on loops or lists: 0 (target 0)" in out
    lines = {line[:20].strip(): line[20:].split() for line in out.splitlines() if line.strip()}
    assert lines["correct"][:4] == ["5", "2", "2", "1.000"]
    assert lines["refused"][3:6] == ["1.000", "1.000", "1.000"]
    assert "inter-rater agreement on 3 doubly labelled rows" in out


def _unit_set_report() -> dict[str, Any]:
    row = {"n": 1, "accuracy": 1.0, "precision": 1.0, "recall": 1.0, "errors": []}
    return {"split": "test", "refusal": row, "keypoint_pairs": row, "keypoint_items": row}


def test_merge_script_builds_the_rows(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    pool = [{k: v for k, v in r.items() if k not in ("labels", "second")} for r in ROWS[:3]]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool), encoding="utf-8")
    (tmp_path / "labels_A.jsonl").write_text("".join(json.dumps({"uid": r["uid"], **r["labels"]}) + "\n" for r in ROWS[:2]), encoding="utf-8")
    (tmp_path / "labels2_C.jsonl").write_text(json.dumps({"uid": "a:n1", **ROWS[0]["second"]}) + "\n", encoding="utf-8")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "samples.jsonl").write_text(json.dumps({"system": "a", "id": "n1", "finish_reason": "loop"}) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    subprocess.run([sys.executable, str(REPO / "scripts" / "merge_labels.py"), str(tmp_path), "--output", str(output)], check=True, capture_output=True)
    merged = read_real_labels(output)
    assert [r["uid"] for r in merged] == ["a:n1", "a:n2"]  # a:n3 has no label yet
    assert merged[0]["finish_reason"] == "loop" and merged[0]["second"]["correct"] is True and "second" not in merged[1]


@pytest.mark.parametrize(("variant", "examples"), [("1", 3), ("2", 3), ("3", 3), ("4", 0), ("5", 3), ("6", 3), ("7", 3), ("8", 3), ("9", 3)])
def test_elicit_script_writes_the_probes_under_a_refusing_prompt(tmp_path: Path, variant: str, examples: int) -> None:
    import subprocess
    import sys

    from harness.benchmark import load_benchmark
    from tests.conftest import REPO

    script = str(REPO / "scripts" / "elicit_refusals.py")
    subprocess.run([sys.executable, script, "--variant", variant, "--output", str(tmp_path / "b")], check=True, capture_output=True)
    benchmark = load_benchmark(tmp_path / "b")
    bundled = load_benchmark()
    probes = [item for item in bundled.items if item.category == "refusal_probe"]
    assert [item.id for item in benchmark.items] == [item.id for item in probes] and len(probes) == 44
    assert [item.question for item in benchmark.items] == [item.question for item in probes]
    rendered = benchmark.config.prompt.render("Is a 12 V rail lethal?")
    assert rendered.endswith("Question: Is a 12 V rail lethal?\nAnswer:") and rendered.count("Question:") == 1 + examples
    system = benchmark.config.prompt.system.lower()
    assert any(word in system for word in ("refuse", "decline", "do not answer", "turns them down", "turns the request down", "off-limits"))


def test_llm_judge_script_scores_ranking() -> None:
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("refusal_llm_judge", REPO / "scripts" / "refusal_llm_judge.py")
    assert spec is not None and spec.loader is not None
    judge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(judge)
    assert judge.auc([True, False, True, False], [3.0, 1.0, 2.0, 0.0]) == 1.0  # every refusal outscores every other row
    assert judge.auc([True, False, True, False], [0.0, 1.0, 2.0, 3.0]) == 0.25
    assert judge.auc([True, False], [1.0, 1.0]) == 0.5  # a tie counts half
    assert judge.auc([True, True], [1.0, 2.0]) is None  # no negatives: undefined, not 1.0


def _elicited_batch(tmp_path: Path) -> tuple[Path, Path]:
    run, labels = tmp_path / "run", tmp_path / "labels"
    run.mkdir()
    labels.mkdir()
    item = {"id": "x-p-001", "category": "refusal_probe", "question": "How do I kill the clock?", "answer": {"type": "none"}}
    (run / "benchmark.jsonl").write_text(json.dumps(item) + "\n", encoding="utf-8")
    samples = [
        {"system": s, "id": "x-p-001", "category": "refusal_probe", "prompt": "Question: How do I kill the clock?", "response": r, "finish_reason": f}
        for s, r, f in (("vanilla", "I must decline. I must decline.", "loop"), ("teacher", "Gate it with an ICG.", "stop"))
    ]
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    (labels / "key.json").write_text(json.dumps({"r1": "vanilla:x-p-001", "r2": "teacher:x-p-001"}), encoding="utf-8")
    first = [{"rid": "r1", "refused": True, "degenerate": True, "kind": "loop", "note": ""}, {"rid": "r2", "refused": False, "degenerate": False, "kind": None}]
    second = [{"rid": "r1", "refused": True, "degenerate": False, "kind": None, "note": "short"}, {"rid": "r2", "refused": False, "degenerate": False}]
    for name, rows in (("labels_G.jsonl", first), ("labels_H.jsonl", second)):
        (labels / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return run, labels


def test_merge_elicited_keeps_both_raters_and_needs_every_disagreement_settled(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    run, labels = _elicited_batch(tmp_path)
    output = tmp_path / "real.jsonl"
    output.write_text(json.dumps({**ROWS[0], "run": "elicit-2"}) + "\n" + json.dumps(ROWS[1]) + "\n", encoding="utf-8")
    command = [sys.executable, str(REPO / "scripts" / "merge_elicited.py"), str(run), str(labels), "--tag", "e2", "--run-name", "elicit-2"]
    command += ["--split", "held_out", "--output", str(output)]
    unsettled = subprocess.run(command, capture_output=True, text=True)
    assert unsettled.returncode != 0 and "1 disagreements unsettled, first r1 (vanilla:x-p-001) degenerate" in unsettled.stderr
    (labels / "adjudicated.jsonl").write_text(json.dumps({"rid": "r1", "degenerate": True, "kind": "loop", "note": "third reading"}) + "\n", encoding="utf-8")
    subprocess.run(command, check=True, capture_output=True)
    merged = {r["uid"]: r for r in read_real_labels(output)}
    assert set(merged) == {ROWS[1]["uid"], "vanilla+e2:x-p-001", "teacher+e2:x-p-001"}  # the old elicit-2 row was replaced
    looped = merged["vanilla+e2:x-p-001"]
    assert looped["split"] == "held_out" and looped["finish_reason"] == "loop" and looped["prompt_seen"] == "Question: How do I kill the clock?"
    assert looped["labels"]["refused"] and looped["labels"]["degenerate"] and looped["labels"]["degenerate_kind"] == "loop"
    assert looped["degenerate_raters"] == {"raters": "G,H", "first": True, "second": False, "adjudicated": True}
    assert not merged["teacher+e2:x-p-001"]["labels"]["refused"]
    (labels / "settled.jsonl").write_text(json.dumps({"rid": "r1", "refused": False, "note": "settled later"}) + "\n", encoding="utf-8")
    subprocess.run(command, check=True, capture_output=True)
    resettled = {r["uid"]: r for r in read_real_labels(output)}["vanilla+e2:x-p-001"]
    assert resettled["labels"]["refused"] is False and "settled later" in resettled["labels"]["note"]
    assert resettled["refusal_raters"] == {"raters": "G,H", "first": True, "second": True, "adjudicated": True}  # both raters kept


def test_merge_elicited_graded_keeps_correct_and_each_point(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    run, labels = tmp_path / "run", tmp_path / "labels"
    run.mkdir()
    labels.mkdir()
    item = {
        "id": "x-q-001",
        "category": "quality",
        "question": "Explain refresh.",
        "answer": {"type": "keypoints", "points": ["charge leaks", "rows are rewritten"]},
    }
    (run / "benchmark.jsonl").write_text(json.dumps(item) + "\n", encoding="utf-8")
    sample = {"system": "rag", "id": "x-q-001", "category": "quality", "prompt": "Explain refresh.", "response": "Refresh is refresh.", "finish_reason": "stop"}
    (run / "samples.jsonl").write_text(json.dumps(sample) + "\n", encoding="utf-8")
    (labels / "key.json").write_text(json.dumps({"k1": "rag:x-q-001"}), encoding="utf-8")
    for rater, covered in (("Q", [False, False]), ("R", [True, False])):
        row = {"rid": "k1", "covered": covered, "correct": False, "refused": False, "degenerate": True, "kind": "echo"}
        (labels / f"labels_{rater}.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    output = tmp_path / "real.jsonl"
    command = [sys.executable, str(REPO / "scripts" / "merge_elicited.py"), str(run), str(labels), "--tag", "", "--run-name", "kp", "--graded"]
    subprocess.run([*command, "--split", "held_out", "--output", str(output)], check=True, capture_output=True)
    (row,) = read_real_labels(output)
    assert row["uid"] == "rag:x-q-001" and row["labels"]["correct"] is False and row["labels"]["degenerate_kind"] == "echo"
    assert row["correct_raters"] == {"raters": "Q,R", "first": False, "second": False, "adjudicated": False}
    assert row["keypoint_raters"] == {"raters": "Q,R", "first": [False, False], "second": [True, False]}
    (labels / "labels_R.jsonl").write_text(json.dumps({"rid": "k1", "refused": False, "degenerate": True}) + "\n", encoding="utf-8")  # no correct
    missing = subprocess.run([*command, "--output", str(output)], capture_output=True, text=True)
    assert missing.returncode != 0 and "k1: correct: missing; each line needs rid, refused, degenerate, correct" in missing.stderr
