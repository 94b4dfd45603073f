from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.main import build_parser, main
from tests.harness.preferences.conftest import vote


def test_commands_are_listed() -> None:
    text = build_parser().format_help()
    assert all(name in text for name in ("rate", "preferences", "judge"))


def test_preferences_prints_markdown_and_json(run3: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [vote("alice", f"q-00{i}", "lora", "lora-kd", "b").to_dict() for i in range(4)]
    (run3 / "preferences.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["preferences", str(run3), "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "## Preferences (blind pairwise)" in out and "| lora vs lora-kd | 4 | 0 | 4 | 0 | 0 | 0%" in out
    assert main(["preferences", str(run3), "--json", "--resamples", "200"]) == 0
    assert json.loads(capsys.readouterr().out)["human"]["bradley_terry"][0]["system"] == "lora-kd"


def test_preferences_without_votes_is_a_one_line_error(run3: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preferences", str(run3)]) == 2
    assert "no votes yet" in capsys.readouterr().err
    assert main(["preferences", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_rate_rejects_bad_input_before_serving(run3: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rate", str(run3), "--port", "70000"]) == 2
    assert "--port must be in 0..65535" in capsys.readouterr().err
    assert main(["rate", str(run3), "--systems", "lora,rag"]) == 2
    assert "'rag' has no answers" in capsys.readouterr().err
    assert main(["rate", str(run3), "--rater", "no spaces"]) == 2
    assert "rater name 'no spaces'" in capsys.readouterr().err
