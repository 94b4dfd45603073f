"""Generation cache: (system fingerprint, request, decoding settings) -> result, in SQLite; and
the likelihood cache beside it (:class:`LikelihoodCache`, a second table of the same file).

SQLite gives atomic commits, so a run killed mid-batch keeps every batch committed before the
kill. The key is a sha256 over the canonical JSON of the fingerprint and the request
(``GenerationRequest.to_dict``: prompt/messages, max_new_tokens, stop, temperature, and the seed
only when sampling: a greedy answer does not depend on it) plus the item fields the system reads
(``item_fields``: ``rag-oracle`` reads ``gold_passages``, so editing an item's gold passages
regenerates its answer). The fingerprint of a local model carries the resolved dtype and device,
the generation code's version and the model libraries' versions. A row whose JSON no longer decodes
is dropped with a warning and regenerated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Generic, Iterable, Mapping, Sequence, TypeVar

from harness.api.errors import ArtifactError
from harness.api.likelihood import LoglikelihoodResult
from harness.api.system import GenerationRequest, GenerationResult

log = logging.getLogger(__name__)
R = TypeVar("R", GenerationResult, LoglikelihoodResult)

SCHEMA_VERSION = 2  # 2: greedy requests no longer key on the seed; item fields a system reads are keyed


def cache_key(fingerprint: Mapping[str, Any], request: GenerationRequest, item_fields: Sequence[str] = ()) -> str:
    """The answer's identity: what the system is, what it was asked, and what else it reads."""
    asked = {k: v for k, v in request.to_dict().items() if k != "id"}
    if request.temperature == 0.0:
        asked.pop("seed")
    payload: dict[str, Any] = {"v": SCHEMA_VERSION, "fingerprint": fingerprint, "request": asked}
    if item_fields:
        payload["item"] = {name: request.item.get(name) for name in sorted(item_fields)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class _ResultTable(Generic[R]):
    """One SQLite table of ``key -> result JSON``, committed per call to :meth:`put_many`. A
    subclass names its table, its result type and the words of its messages."""

    table: str
    result_type: type[R]
    what: str  # "generation", "likelihood": the cache in error messages
    redo: str  # what happens to a dropped row: "regenerated", "recomputed"
    lost: str  # what deleting the file costs: "answers will be regenerated"
    entry: str  # a row in warnings: "cache entry", "likelihood cache entry"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path), timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, system TEXT, result TEXT NOT NULL, created REAL)")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(f"{path}: {self.what} cache is unreadable ({exc}); delete it ({self.lost}) or pass --no-cache") from None

    def get_many(self, keys: Iterable[str]) -> dict[str, R]:
        keys = list(keys)
        found: dict[str, R] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self._db.execute(f"SELECT key, result FROM {self.table} WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            for key, blob in rows:
                try:
                    found[key] = self.result_type.from_dict(json.loads(blob))  # type: ignore[attr-defined]
                except (ValueError, KeyError, TypeError):
                    log.warning("dropping corrupt %s %s in %s; it will be %s", self.entry, key[:12], self.path, self.redo)
                    self._db.execute(f"DELETE FROM {self.table} WHERE key = ?", (key,))
                    self._db.commit()
        return found

    def put_many(self, system: str, entries: Iterable[tuple[str, R]]) -> None:
        now = time.time()
        self._db.executemany(
            f"INSERT OR REPLACE INTO {self.table} (key, system, result, created) VALUES (?, ?, ?, ?)",
            [(key, system, json.dumps(result.to_dict(), sort_keys=True), now) for key, result in entries],  # type: ignore[attr-defined]
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()


class GenerationCache(_ResultTable[GenerationResult]):
    table, result_type, what, redo = "generations", GenerationResult, "generation", "regenerated"
    lost, entry = "answers will be regenerated", "cache entry"


def likelihood_key(fingerprint: Mapping[str, Any], version: Mapping[str, Any], request: Mapping[str, Any]) -> str:
    """Key of one scored text: the system's fingerprint, the likelihood code's version and
    settings (:meth:`~harness.models.likelihood.LikelihoodSettings.fingerprint`) and what was
    scored (:meth:`~harness.api.likelihood.LoglikelihoodRequest.to_dict`, or a rolling text's
    sha256)."""
    payload = {"v": SCHEMA_VERSION, "fingerprint": fingerprint, "likelihood": version, "request": request}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class LikelihoodCache(_ResultTable[LoglikelihoodResult]):
    """Key -> :class:`LoglikelihoodResult`, committed per batch like generations."""

    table, result_type, what, redo = "likelihoods", LoglikelihoodResult, "likelihood", "recomputed"
    lost, entry = "scores will be recomputed", "likelihood cache entry"
