"""The index manifest: what an index folder was built from, and the checks run before using it.

    python -m harness index build --docs benchmarks/corpus   # writes manifest.json beside the index

An index folder holds ``index.faiss``, ``chunks.jsonl`` and ``manifest.json``. The manifest
records the corpus content hash, the embedding model (name, package, weights sha256), the chunking
and index parameters, counts, build timings, and the size and sha256 of the two data files.

Loading checks, in order: the manifest parses and has this schema; each data file exists with the
recorded size and sha256 (else: corrupt or truncated, the file is named); the corpus, embedding
model and parameters still match (else: stale, with the exact rebuild command). Nothing stale or
damaged is ever used silently.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.api.errors import ArtifactError

SCHEMA = "raq-harness/retrieval-index"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
CHUNKS_FILE = "chunks.jsonl"


def canonical_hash(data: Any, length: int = 64) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()[:length]


def file_digest(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


@dataclass(frozen=True)
class IndexIdentity:
    """Everything that determines an index's contents. ``params_hash`` names the folder (with the
    corpus hash); ``index_hash`` goes into system fingerprints."""

    corpus_hash: str  # harness.corpus.content_hash of the docs folder
    embedding: Mapping[str, Any]  # embedder.model_identity()
    chunking: Mapping[str, Any]  # ChunkingConfig.to_dict()
    index: Mapping[str, Any]  # IndexConfig.build_params()

    @property
    def params(self) -> dict[str, Any]:
        return {"embedding": dict(self.embedding), "chunking": dict(self.chunking), "index": dict(self.index)}

    @property
    def params_hash(self) -> str:
        return canonical_hash(self.params, 12)

    @property
    def index_hash(self) -> str:
        return canonical_hash({"corpus_hash": self.corpus_hash, **self.params}, 16)

    def folder_name(self) -> str:
        return f"{self.corpus_hash[:12]}-{self.params_hash}"


def build_command(docs: Path | str, out: Path | str, chunking: Mapping[str, Any], index: Mapping[str, Any]) -> str:
    """The exact CLI line that (re)builds an index with these parameters."""
    parts = ["python", "-m", "harness", "index", "build", "--docs", str(docs), "--out", str(out)]
    parts += ["--chunk-size", str(chunking["chunk_size"]), "--chunk-overlap", str(chunking["chunk_overlap"]), "--index-type", str(index["type"])]
    return " ".join(shlex.quote(p) for p in parts)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ArtifactError(f"{folder}: index folder not found; build it with: python -m harness index build --docs DIR --out {shlex.quote(str(folder))}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(
            f"{path}: manifest missing, so {folder} is not a usable index; rebuild with: "
            f"python -m harness index build --docs DIR --out {shlex.quote(str(folder))}"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"{path}: manifest is corrupt ({exc}); rebuild with: python -m harness index build --docs DIR --out {shlex.quote(str(folder))}"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ArtifactError(f"{path}: not a retrieval-index manifest (schema {data.get('schema') if isinstance(data, dict) else None!r}); rebuild the index")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ArtifactError(
            f"{path}: manifest schema_version {data.get('schema_version')!r}, this harness reads {SCHEMA_VERSION}; rebuild with: {rebuild_hint(folder, data)}"
        )
    return data


def rebuild_hint(folder: Path, manifest: Mapping[str, Any]) -> str:
    try:
        return build_command(manifest["docs"], folder, manifest["chunking"], manifest["index"])
    except (KeyError, TypeError):
        return f"python -m harness index build --docs DIR --out {shlex.quote(str(folder))}"


def verify_files(folder: Path, manifest: Mapping[str, Any]) -> None:
    """Raise :class:`ArtifactError` naming the first data file that is missing, truncated or
    altered since the build."""
    hint = rebuild_hint(folder, manifest)
    for name in (INDEX_FILE, CHUNKS_FILE):
        expected = (manifest.get("files") or {}).get(name)
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"{path}: index file missing; rebuild with: {hint}")
        if not isinstance(expected, dict):
            raise ArtifactError(f"{folder / MANIFEST}: files.{name}: no size/sha256 recorded; rebuild with: {hint}")
        size = path.stat().st_size
        if size != expected.get("bytes"):
            raise ArtifactError(f"{path}: corrupt or truncated index file ({size} bytes, manifest says {expected.get('bytes')}); rebuild with: {hint}")
        if file_digest(path)["sha256"] != expected.get("sha256"):
            raise ArtifactError(f"{path}: corrupt index file (sha256 differs from the manifest); rebuild with: {hint}")


def staleness(manifest: Mapping[str, Any], current: IndexIdentity) -> list[str]:
    """What differs between the index on disk and what the caller needs (empty = fresh)."""
    reasons = []
    if manifest.get("corpus_hash") != current.corpus_hash:
        reasons.append(f"corpus changed (built from {str(manifest.get('corpus_hash'))[:12]}, now {current.corpus_hash[:12]})")
    for key in ("embedding", "chunking", "index"):
        built, wanted = manifest.get(key), dict(getattr(current, key))
        if built != wanted:
            diffs = sorted(k for k in set(built or {}) | set(wanted) if (built or {}).get(k) != wanted.get(k))
            reasons.append(f"{key} parameters changed ({', '.join(f'{k}: {(built or {}).get(k)!r} -> {wanted.get(k)!r}' for k in diffs)})")
    return reasons
