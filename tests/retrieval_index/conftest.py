"""Fixtures for the retrieval tests: a tiny corpus written in the test, and a deterministic
bag-of-words embedder standing in for MiniLM in unit tests (the integration tests use MiniLM)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

REFRESH = """---
title: Refresh notes
topic: ddr5
version: 1
---

# DRAM refresh

Cells leak charge, so every row is refreshed within the retention window.

## Refresh interval

The average refresh interval tREFI is 3.9 microseconds at normal temperature.
Above 85 C the interval halves to 1.95 microseconds because leakage doubles.

### Refresh cycle time

tRFC is the time one refresh command blocks the device: 295 ns for 16 Gb parts.

## Examples

First example section.

## Examples

Second section with the same heading gets a numbered slug.

```
# not a heading, inside a fence
```
"""

MOSFET = (
    """---
title: MOSFET basics
topic: devices
version: 1
---

Text before the first heading belongs to the document as a whole.

# MOSFET square law

## Overview

## Saturation current

In saturation the drain current is half of mu Cox W over L times the overdrive squared.
"""
    + "\n".join(f"Sentence {i} about transconductance gm equals two times drain current over overdrive voltage." for i in range(40))
    + "\n"
)

NOTES = "Plain text notes about metastability and synchronizer flip-flops.\n"


def write_corpus(root: Path) -> Path:
    (root / "ddr5").mkdir(parents=True, exist_ok=True)
    (root / "devices").mkdir(parents=True, exist_ok=True)
    (root / "ddr5" / "refresh.md").write_text(REFRESH, encoding="utf-8")
    (root / "devices" / "mosfet.md").write_text(MOSFET, encoding="utf-8")
    (root / "notes.txt").write_text(NOTES, encoding="utf-8")
    (root / "README.md").write_text("# Not indexed\n", encoding="utf-8")
    return root


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


class BagOfWordsEmbedder:
    """Hashes lower-cased words into 384 buckets and normalises: texts sharing words are close.
    Same interface as :class:`harness.models.minilm.MiniLMEmbedder`."""

    dim = 384

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str], progress: bool = False, desc: str = "") -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


@pytest.fixture
def bow() -> BagOfWordsEmbedder:
    return BagOfWordsEmbedder()
