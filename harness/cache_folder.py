"""The folder every cross-run cache lives in: ``$HARNESS_CACHE``, else ``~/.cache/raq-harness``.

    HARNESS_CACHE=/tmp/raq python -m harness run --limit 2    # caches go to /tmp/raq instead

What lives there: converted model weights (``models/``), the generation and grade caches
(``generations.sqlite``, ``grades.sqlite``), retrieval indexes and chunk vectors (``index/``,
``embeddings.sqlite``), teacher targets (``teacher-cache/``), training checkpoints
(``train-checkpoints/``) and the file-hash memo (``sha256-memo.json``).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$HARNESS_CACHE`` or ``~/.cache/raq-harness``; created on demand."""
    root = Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "raq-harness")
    root.mkdir(parents=True, exist_ok=True)
    return root
