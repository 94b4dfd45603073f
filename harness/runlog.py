"""The run log: ``run.json`` (versioned, self-describing) + ``samples.jsonl`` (one line per item x
system) + ``likelihood.jsonl`` (runs with ``--mode likelihood|all``: one line per item or document
x system). Reports, grading and comparisons read only these files.

``samples.jsonl`` is append-only while a run is in progress (each batch is flushed and fsynced);
a truncated last line left by a kill is ignored on resume. ``run.json`` is written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from harness.api.errors import DataError

log = logging.getLogger(__name__)

RUN_SCHEMA = "raq-harness/run"
RUN_SCHEMA_VERSION = 1
SAMPLES = "samples.jsonl"
LIKELIHOOD_SAMPLES = "likelihood.jsonl"  # harness.likelihood_runner: scores of reference answers, choices and documents
RUN_JSON = "run.json"
ITEMS_SNAPSHOT = "benchmark.jsonl"


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def iter_jsonl(path: Path, *, tolerate_truncated_tail: bool = True) -> Iterator[dict[str, Any]]:
    """Yield objects; a last line without a newline that does not parse (a kill mid-write) is
    skipped with a warning; any other bad line is a :class:`DataError` naming file and line."""
    if not path.exists():
        return
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    ends_clean = raw.endswith(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError:
            is_tail = number == len(lines) and not ends_clean
            if tolerate_truncated_tail and is_tail:
                log.warning("%s:%d: ignoring a truncated last line (interrupted write)", path, number)
                return
            raise DataError(f"{path}:{number}: not valid JSON; delete the line or restore the file") from None


def read_samples(run_dir: Path) -> list[dict[str, Any]]:
    return list(iter_jsonl(run_dir / SAMPLES))


def repair_tail(path: Path) -> None:
    """Drop a truncated last line so appends start on a fresh line."""
    if not path.exists():
        return
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        keep = raw[: raw.rfind(b"\n") + 1]
        with path.open("wb") as handle:
            handle.write(keep)
            handle.flush()
            os.fsync(handle.fileno())


class SampleWriter:
    """Appends sample lines durably (flush + fsync per batch)."""

    def __init__(self, path: Path) -> None:
        repair_tail(path)
        self.path = path
        self._handle = path.open("a", encoding="utf-8")

    def write(self, samples: Iterable[dict[str, Any]]) -> None:
        for sample in samples:
            self._handle.write(json.dumps(sample, ensure_ascii=False, sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def load_run(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found; pass a run directory written by python -m harness run") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); rerun the run or restore the file") from None
    if data.get("schema") != RUN_SCHEMA:
        raise DataError(f"{path}: schema: expected {RUN_SCHEMA!r}, got {data.get('schema')!r}; this is not a raq-harness run log")
    if int(data.get("schema_version", 0)) > RUN_SCHEMA_VERSION:
        raise DataError(
            f"{path}: schema_version {data.get('schema_version')} is newer than this harness understands ({RUN_SCHEMA_VERSION}); upgrade raq-harness"
        )
    return data
