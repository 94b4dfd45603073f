"""``manifest.json``: the provenance of an adapter folder, and the check that it is still current.

    python -m harness train lora          # writes adapters/shipped/lora/{adapter_*,manifest.json}

An adapter folder is a plain PEFT folder (``adapter_config.json`` + ``adapter_model.safetensors``,
loadable with ``PeftModel.from_pretrained``) plus ``manifest.json`` recording: the base model and
its weights hash, the teacher (KD only: model, weights hash, adapter hash), the KD path and aligned
fraction, the corpus path and hash, the full config and how it was given (file + ``--set``), seed,
tokens seen, first and final losses, wall time, tokens/s, package versions, the adapter's own hash
and the exact command that rebuilds it.

:func:`check_adapter` refuses an adapter whose files were altered, whose base weights, corpus,
derived training data, teacher adapter or config file changed -- with the command that rebuilds
it in the message. The recorded config is the adapter's meaning: loading never substitutes
today's defaults, and :func:`rebuild_command` adds ``--set`` values for defaults changed since.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.api.errors import ArtifactError
from harness.benchmark import DEFAULT_CORPUS, REPO_ROOT

SCHEMA = "raq-harness/adapter-manifest"
SCHEMA_VERSION = 2  # 2: derived data, held-out evaluations, epochs completed, early stopping (version 1 manifests read the same)
MANIFEST = "manifest.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
SHIPPED_DIR = REPO_ROOT / "adapters" / "shipped"


def shipped_dir(name: str) -> Path:
    """Where the default adapter of ``name`` (lora, teacher, lora-kd, or a sweep point) lives."""
    return SHIPPED_DIR / name


def display_path(path: Path | str) -> str:
    """Repo-relative when inside the repo (so manifests and commands are portable), else absolute."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(resolved)


def repo_path(text: str) -> Path:
    """Inverse of :func:`display_path`."""
    path = Path(text)
    return path if path.is_absolute() else REPO_ROOT / path


def adapter_sha256(folder: Path) -> str:
    """sha256 over the adapter config and weights (the adapter's identity in fingerprints)."""
    digest = hashlib.sha256()
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        path = Path(folder) / name
        if not path.exists():
            raise ArtifactError(f"{folder}: {name} is missing; not a PEFT adapter folder (retrain it, see {MANIFEST} 'command')")
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train_command(kind: str, output: Path | None = None, config_file: str | None = None, overrides: Sequence[str] = (), corpus: str | None = None) -> str:
    """The canonical ``python -m harness train`` command for these arguments (``--output`` only
    when it is not the default ``adapters/shipped/<kind>``)."""
    parts = ["python", "-m", "harness", "train", kind]
    if config_file:
        parts += ["--config", config_file]
    if corpus:
        parts += ["--corpus", corpus]
    if overrides:
        parts += ["--set", *overrides]
    if output is not None and Path(output).resolve() != shipped_dir(kind).resolve():
        parts += ["--output", display_path(output)]
    return " ".join(shlex.quote(p) for p in parts)


def write_manifest(folder: Path, data: Mapping[str, Any]) -> None:
    from harness.runlog import write_json_atomic

    write_json_atomic(Path(folder) / MANIFEST, {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **data})


def read_manifest(folder: Path, hint: str = "") -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    fix = hint or "train it with `python -m harness train KIND --output DIR`"
    if not path.exists():
        raise ArtifactError(f"{folder}: no adapter here ({MANIFEST} missing); {fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArtifactError(f"{path}: unreadable manifest ({exc}); {fix}") from None
    if data.get("schema") != SCHEMA:
        raise ArtifactError(f"{path}: schema {data.get('schema')!r} is not {SCHEMA!r}; {fix}")
    if not isinstance(data.get("schema_version"), int) or data["schema_version"] > SCHEMA_VERSION:
        seen = data.get("schema_version")
        raise ArtifactError(f"{path}: manifest schema_version {seen!r} is not one this raq-harness reads (1..{SCHEMA_VERSION}); upgrade raq-harness")
    return data


def verify_weights(folder: Path, manifest: Mapping[str, Any], command: str | None = None) -> str:
    """Check the safetensors file opens and the files hash to the manifest's ``adapter_sha256``
    (``command``, the one that rebuilds the adapter, goes into the error messages)."""
    from safetensors import SafetensorError, safe_open

    if command is None:
        command = str(manifest.get("command", "python -m harness train ..."))
        if "--output" not in command and manifest.get("kind") and Path(folder).resolve() != shipped_dir(str(manifest["kind"])).resolve():
            command += f" --output {display_path(folder)}"  # the recorded command writes the shipped folder, not this one
    weights = Path(folder) / ADAPTER_WEIGHTS
    try:
        with safe_open(str(weights), framework="pt") as handle:
            list(handle.keys())
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{weights}: corrupt safetensors ({exc}); retrain with: {command}") from None
    actual = adapter_sha256(folder)
    if actual != manifest.get("adapter_sha256"):
        raise ArtifactError(
            f"{folder}: adapter files do not match manifest.json (sha256 {actual[:12]} vs {str(manifest.get('adapter_sha256'))[:12]}): "
            f"modified or corrupt; retrain with: {command}"
        )
    return actual


def recorded_spec(manifest: Mapping[str, Any]) -> Any:
    """The :class:`adapters.config.TrainSpec` an adapter was trained with, read from its manifest
    (fields the manifest predates take their legacy values, never today's defaults)."""
    from adapters.config import spec_from_record

    return spec_from_record(str(manifest["kind"]), manifest["config"])


def rebuild_command(manifest: Mapping[str, Any], folder: Path) -> str:
    """The ``python -m harness train`` command that rebuilds this adapter today: the recorded
    config file and ``--set`` values, plus ``--set`` values for every field whose default has
    changed since, and ``--output`` when ``folder`` is not the kind's shipped folder."""
    from adapters.config import reproducing_overrides

    kind = str(manifest["kind"])
    config_file = manifest.get("config_file")
    overrides = reproducing_overrides(recorded_spec(manifest), repo_path(config_file) if config_file else None, manifest.get("overrides", []))
    corpus = manifest.get("corpus", {}).get("path")
    return train_command(kind, folder, config_file, overrides, corpus if corpus and corpus != display_path(DEFAULT_CORPUS) else None)


def check_adapter(folder: Path, kind: str, model: str | None = None) -> dict[str, Any]:
    """The manifest of the adapter at ``folder`` after checking it is intact and current.

    Raises :class:`ArtifactError` naming what changed and the command that retrains it: another
    base model or base weights, a changed corpus, a retrained teacher, or a recorded config that
    its config file and ``--set`` values no longer give. The recorded config is the adapter's
    meaning: a default changed since training does not make it stale.
    """
    from harness.api.errors import ConfigError
    from harness.corpus import content_hash
    from harness.models.sources import resolve

    manifest = read_manifest(folder, hint=f"train it with `{train_command(kind)}`" if Path(folder).resolve() == shipped_dir(kind).resolve() else "")
    command = manifest.get("command", train_command(kind))
    if manifest.get("kind") != kind:
        raise ArtifactError(
            f"{folder}: holds a {manifest.get('kind')!r} adapter, not {kind!r}; point this system at a {kind} adapter or train one with `{train_command(kind)}`"
        )
    try:
        recorded = recorded_spec(manifest)
        command = rebuild_command(manifest, folder)
    except ConfigError as exc:
        raise ArtifactError(f"{folder}: stale adapter: its recorded config is no longer valid ({exc}); retrain with: {command}") from None
    adapter_sha = verify_weights(folder, manifest, command)
    base = manifest["base_model"]
    if model is not None and model != base["name"]:
        raise ArtifactError(
            f"{folder}: adapter was trained for base model {base['name']!r}, not {model!r}; "
            f"use model={base['name']!r} or train one with `python -m harness train {kind} --set base={model}`"
        )
    current_base = resolve(base["name"]).weights_sha256
    if current_base != base["weights_sha256"]:
        raise ArtifactError(
            f"{folder}: stale adapter: base model {base['name']} weights changed "
            f"(sha256 {base['weights_sha256'][:12]} -> {current_base[:12]}); retrain with: {command}"
        )
    corpus_path = repo_path(manifest["corpus"]["path"])
    current_corpus = content_hash(corpus_path) if corpus_path.is_dir() else "(missing)"
    if current_corpus != manifest["corpus"]["sha256"]:
        raise ArtifactError(
            f"{folder}: stale adapter: corpus {manifest['corpus']['path']} changed "
            f"(sha256 {manifest['corpus']['sha256'][:12]} -> {current_corpus[:12]}); retrain with: {command}"
        )
    from adapters.config import load_spec

    config_file = manifest.get("config_file")
    try:
        requested = load_spec(kind, repo_path(config_file) if config_file else None, manifest.get("overrides", []), base=recorded)
    except ConfigError as exc:
        raise ArtifactError(f"{folder}: stale adapter: its config file or --set values no longer load ({exc}); retrain with: {command}") from None
    if requested != recorded:
        changed = _diff(recorded.to_dict(), requested.to_dict())
        raise ArtifactError(f"{folder}: stale adapter: config changed since training ({changed}); retrain with: {command}")
    _check_derived(folder, manifest, command)
    teacher = manifest.get("teacher")
    if teacher and teacher.get("adapter"):
        teacher_folder = repo_path(teacher["adapter"])
        current_teacher = adapter_sha256(teacher_folder) if (teacher_folder / ADAPTER_WEIGHTS).exists() else "(missing)"
        if current_teacher != teacher["adapter_sha256"]:
            raise ArtifactError(
                f"{folder}: stale adapter: teacher adapter {teacher['adapter']} changed "
                f"(sha256 {teacher['adapter_sha256'][:12]} -> {current_teacher[:12]}); retrain with: {command}"
            )
    return {**manifest, "adapter_sha256": adapter_sha}


def _check_derived(folder: Path, manifest: Mapping[str, Any], command: str) -> None:
    """Derived training data: the generator version (derived on the fly) or the file's examples."""
    derived = manifest.get("derived")
    if not derived:
        return
    from adapters.derived import DERIVED_VERSION, examples_sha256, read_derived

    if derived["source"] == "corpus":
        if derived["version"] != DERIVED_VERSION:
            raise ArtifactError(
                f"{folder}: stale adapter: the derived-data generator changed (version {derived['version']} -> {DERIVED_VERSION}); retrain with: {command}"
            )
        return
    path = repo_path(derived["source"])
    current = examples_sha256(read_derived(path)[1]) if path.is_file() else "(missing)"
    if current != derived["sha256"]:
        raise ArtifactError(
            f"{folder}: stale adapter: derived data {derived['source']} changed (sha256 {derived['sha256'][:12]} -> {current[:12]}); retrain with: {command}"
        )


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    changes = []
    for table in sorted(set(old) | set(new)):
        a, b = old.get(table, {}), new.get(table, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                changes.append(f"{table}.{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return "; ".join(changes[:3]) + (" ..." if len(changes) > 3 else "")
