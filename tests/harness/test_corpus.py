from __future__ import annotations

from pathlib import Path

import pytest

from harness.api.errors import DataError
from harness.corpus import content_hash, load_corpus, slugify

DOC = """---
title: Refresh
topic: ddr5
version: 1
---
# DDR5 refresh

Intro.

## tRFC, tREFI & same-bank refresh

Body one.

### Details (x4/x8)

Deep.

```
# not a heading inside a fence
```

## Refresh management

Body two.

## Refresh management
"""


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("tRFC, tREFI & same-bank refresh", "trfc-trefi-same-bank-refresh"),
        ("Details (x4/x8)", "details-x4x8"),
        ("  `BL16` burst  ", "bl16-burst"),
        ("DDR4 → DDR5", "ddr4-ddr5"),
    ],
)
def test_slugify(heading: str, slug: str) -> None:
    assert slugify(heading) == slug


def test_sections_anchor_nest_and_skip_fences(tmp_path: Path) -> None:
    (tmp_path / "ddr5").mkdir()
    (tmp_path / "ddr5" / "refresh.md").write_text(DOC)
    corpus = load_corpus(tmp_path)
    anchors = [s.anchor for s in corpus.documents[0].sections]
    assert anchors == [
        "ddr5/refresh.md#ddr5-refresh",
        "ddr5/refresh.md#trfc-trefi-same-bank-refresh",
        "ddr5/refresh.md#details-x4x8",
        "ddr5/refresh.md#refresh-management",
        "ddr5/refresh.md#refresh-management-1",
    ]
    parent = corpus.section("ddr5/refresh.md#trfc-trefi-same-bank-refresh")
    child = corpus.section("ddr5/refresh.md#details-x4x8")
    assert parent is not None and child is not None
    assert "Deep." in parent.text and "Body two." not in parent.text
    assert parent.start_line <= child.start_line <= child.end_line <= parent.end_line
    lines = DOC.splitlines()
    assert lines[parent.start_line - 1] == "## tRFC, tREFI & same-bank refresh"


def test_front_matter_errors_name_file_and_fix(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: x\n---\n# A\n")
    with pytest.raises(DataError, match=r"a\.md:1: front matter: missing topic, version"):
        load_corpus(tmp_path)


def test_missing_and_empty_corpus(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(DataError, match="no .md documents"):
        load_corpus(tmp_path)


def test_content_hash_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(DOC)
    first = content_hash(tmp_path)
    (tmp_path / "a.md").write_text(DOC + "\nmore\n")
    assert content_hash(tmp_path) != first
