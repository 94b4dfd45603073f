"""The worked examples of docs/analysis.md run as written (here on a synthetic run laid out like
the committed baseline; tests/harness/analysis/test_baseline.py runs them on the real one)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import REPO
from tests.scoring.runs import BAD, GOOD, make_run

DOC = REPO / "docs" / "analysis.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def run_examples(cwd: Path) -> list[dict[str, Any]]:
    """Execute every ``python`` block of docs/analysis.md with ``cwd`` as the working folder;
    returns each block's namespace (printed output is swallowed)."""
    spaces = []
    before = Path.cwd()
    os.chdir(cwd)
    try:
        for number, code in enumerate(examples(), start=1):
            namespace: dict[str, Any] = {"__name__": f"docs_analysis_example_{number}"}
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"{DOC}:example {number}", "exec"), namespace)
            spaces.append(namespace)
    finally:
        os.chdir(before)
    return spaces


def test_docs_have_the_three_examples() -> None:
    assert len(examples()) == 3


def test_docs_examples_run(tmp_path: Path) -> None:
    mixed = {k: (GOOD if k.startswith("st-a") else BAD)[k] for k in GOOD}
    make_run(tmp_path / "reports" / "baseline", {"vanilla": BAD, "lora": BAD, "lora-kd": mixed, "rag": GOOD})
    make_run(tmp_path / "runs" / "later", {"vanilla": BAD, "rag": BAD})
    shutil.copytree(tmp_path / "reports" / "baseline", tmp_path / "runs" / "again")
    kd, tags, history = run_examples(tmp_path)
    assert sorted(kd["kd_wins"]["id"]) == ["st-a-001", "st-a-002", "st-a-003", "st-a-004"]
    assert tags["by_tag"].loc["ddr5", "rag"] == 1.0 and tags["by_tag"].loc["ddr5", "items"] == 3
    assert history["accuracy"].shape == (3, 4)  # three runs x four systems
    assert history["accuracy"].xs("later", level="run_id")["rag"].tolist() == [0.0]
