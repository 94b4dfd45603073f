"""Chunk embeddings kept across index builds, in SQLite under ``$HARNESS_CACHE/embeddings.sqlite``.

An index build embeds in batches and commits each batch here before the next starts, so a build
killed mid-way keeps what it embedded, and the rerun (or a rebuild after editing one document)
embeds only the chunks it has not seen. The key is a sha256 over the embedding model's weights
hash and the exact text, so vectors never outlive a different model. A row of the wrong size is
dropped with a warning and recomputed.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Sequence

from harness.api.errors import ArtifactError

log = logging.getLogger(__name__)

FILE = "embeddings.sqlite"


def text_key(model_sha256: str, text: str) -> str:
    return hashlib.sha256(f"{model_sha256}\0{text}".encode("utf-8")).hexdigest()


class EmbeddingStore:
    """float32 vectors of width ``dim`` keyed by :func:`text_key`."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = Path(path)
        self.dim = dim
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(f"{self.path}: embedding cache is unreadable ({exc}); delete it (chunks will be embedded again)") from None

    @classmethod
    def default(cls, dim: int) -> "EmbeddingStore":
        from harness.cache_folder import cache_dir

        return cls(cache_dir() / FILE, dim)

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The stored vectors among ``keys`` (numpy float32 arrays of shape ``(dim,)``)."""
        import numpy as np

        found: dict[str, Any] = {}
        bad: list[str] = []
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            for key, blob in rows:
                if not isinstance(blob, bytes) or len(blob) != 4 * self.dim:
                    bad.append(key)
                    continue
                found[key] = np.frombuffer(blob, dtype=np.float32)
        if bad:
            log.warning("dropping %d corrupt embedding rows in %s; they will be recomputed", len(bad), self.path)
            self._db.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in bad])
            self._db.commit()
        return found

    def put_many(self, entries: Iterable[tuple[str, Any]]) -> None:
        """Store and commit (one transaction per call)."""
        import numpy as np

        rows = [(key, np.ascontiguousarray(vector, dtype=np.float32).tobytes()) for key, vector in entries]
        self._db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        self._db.close()
