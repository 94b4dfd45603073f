"""Derived training data: the kinds on a hand-made document, determinism, the file format, the
chat/plain rendering, and the contamination check over it (real corpus: 0 test questions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.derived import (
    DERIVED_KINDS,
    Example,
    counts,
    derive,
    derive_corpus,
    examples_sha256,
    facts,
    read_derived,
    render,
    write_derived,
)
from harness.api.errors import DataError
from harness.benchmark import BENCHMARKS_DIR, DEFAULT_CORPUS, load_benchmark
from harness.contamination import question_overlaps
from tests.adapters.conftest import byte_bpe_tokenizer, write_corpus

DOC = (
    "ddr5/refresh.md",
    "DDR5 refresh",
    """# DDR5 refresh

## Refresh window

DDR5 specifies a 32 ms refresh window at normal operating temperatures. The window is divided into 8192 slots.

A latch is transparent during one phase of the clock. This is called time borrowing.

- **Same-bank refresh**: REFsb commands, which are allowed only in FGR mode.

## Cycle times

| Density | tRFC1 | tRFCsb |
|---|---|---|
| 8 Gb | 195 ns | 115 ns |
| 16 Gb | 295 ns | 130 ns |

```
tREFI = 99 ms in a code block is never a source
```
""",
)


def test_each_kind_on_a_hand_made_document() -> None:
    found = facts([DOC])
    quantities = [f for f in found if f.kind == "quantity"]
    assert [f.answer for f in quantities] == ["32 ms"]  # "8192 slots" has no unit; code blocks are skipped
    assert quantities[0].cue == "DDR5 specifies a [value] refresh window at normal operating temperatures."
    assert quantities[0].source == "ddr5/refresh.md#refresh-window" and quantities[0].section == "Refresh window"
    terms = {f.answer: f for f in found if f.kind == "term"}
    assert terms["time borrowing"].cue == "A latch is transparent during one phase of the clock. This is called [term]."  # the sentence before "This"
    assert terms["Same-bank refresh"].cue == "REFsb commands, which are allowed only in FGR mode."
    table = [(f.extra[1], f.extra[2], f.answer) for f in found if f.kind == "table"]
    assert table == [("8 Gb", "tRFC1", "195 ns"), ("16 Gb", "tRFC1", "295 ns"), ("8 Gb", "tRFCsb", "115 ns"), ("16 Gb", "tRFCsb", "130 ns")]
    examples = derive([DOC])
    assert counts(examples) == {"quantity": 3, "term": 6, "table": 12}  # three forms per fact
    row = [e for e in examples if e.kind == "table" and "16 Gb" in e.question + e.answer and "295 ns" in e.question + e.answer]
    assert row and all(e.source == "ddr5/refresh.md#cycle-times" for e in row)


def test_derivation_is_deterministic_and_seeded() -> None:
    first, again = derive([DOC], seed=0), derive([DOC], seed=0)
    assert first == again and examples_sha256(first) == examples_sha256(again)
    other = derive([DOC], seed=1)
    assert counts(other) == counts(first) and other != first  # the same facts, other question forms
    assert len({(e.question, e.answer) for e in first}) == len(first)  # no duplicate pairs


def test_write_and_read_back(tmp_path: Path) -> None:
    examples = derive([DOC])
    path = tmp_path / "derived.jsonl"
    write_derived(path, examples, "abc", seed=0)
    header, back = read_derived(path)
    assert back == examples
    assert header["corpus_sha256"] == "abc" and header["counts"] == counts(examples)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"schema": "something-else"}) + "\n")
    with pytest.raises(DataError, match="not a derived-examples file .*corpus derive --output"):
        read_derived(bad)


def test_rendering_in_chat_and_plain_form() -> None:
    example = Example("quantity", "a.md", "What is [value]?", "32 ms")
    tokenizer = byte_bpe_tokenizer()
    assert render(example, tokenizer, "plain") == "Question: What is [value]?\nAnswer: 32 ms"
    assert render(example, tokenizer, "chat") == "Question: What is [value]?\nAnswer: 32 ms"  # no chat template: the plain form
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    assert render(example, tokenizer, "chat") == "<user>What is [value]?\n<assistant>32 ms"


def test_real_corpus_derived_data_shares_no_8gram_with_test_or_dev_questions() -> None:
    examples = derive_corpus(DEFAULT_CORPUS)
    assert all(n > 100 for n in counts(examples).values()), counts(examples)
    documents = [f"{e.question}\n{e.answer}" for e in examples]
    for split in ("items.jsonl", "dev.jsonl"):
        items = load_benchmark(BENCHMARKS_DIR / "raq" / split).items
        shared = [o.id for o in question_overlaps(((it.id, it.question) for it in items), documents, n=8) if o.shared]
        assert shared == [], f"{split}: {shared}"


def test_contamination_reports_a_test_question_carried_into_the_derived_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.main import main

    item = next(it for it in load_benchmark(BENCHMARKS_DIR / "raq" / "items.jsonl").items if it.id == "ddr5-a-009")
    corpus = write_corpus(tmp_path / "corpus", repeat=1, docs={"ddr5/copied.md": ("Copied", "ddr5", f"# Notes\n\n{item.question} It is 3.9 us.\n")})
    assert main(["corpus", "contamination", "--corpus", str(corpus)]) == 0
    printed = capsys.readouterr().out
    assert "examples (quantity" in printed
    derived_lines = [line for line in printed.splitlines() if "items.jsonl" in line and "with the derived data" in line]
    assert derived_lines and "262 questions, 1 share a 8-gram with the derived data" in derived_lines[0], printed
    assert "ddr5-a-009" in printed
    # the same through a written file
    examples = derive_corpus(corpus)
    assert sum(counts(examples)[kind] for kind in DERIVED_KINDS) == len(examples) > 0
    path = tmp_path / "derived.jsonl"
    write_derived(path, examples, "x", seed=0)
    assert main(["corpus", "contamination", "--corpus", str(corpus), "--derived", str(path)]) == 0
    assert "1 share a 8-gram with the derived data" in capsys.readouterr().out


def test_derive_cli_prints_counts_and_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.main import main

    corpus = write_corpus(tmp_path / "corpus")
    out = tmp_path / "derived.jsonl"
    assert main(["corpus", "derive", "--corpus", str(corpus), "--output", str(out), "--variants", "2"]) == 0
    printed = capsys.readouterr().out
    header, examples = read_derived(out)
    assert printed.splitlines()[-2].split() == ["total", str(len(examples))] and printed.splitlines()[-1] == f"wrote {out}"
    assert header["counts"] == counts(examples) and header["seed"] == 0
    assert main(["corpus", "derive", "--corpus", str(corpus), "--variants", "9"]) == 2
    assert "allowed 1..5" in capsys.readouterr().err
