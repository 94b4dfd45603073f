"""Combine the run folders of sharded runs into one run, as if it had run in one go.

    python -m harness run --shard 0/2 --output-dir runs/s0 &    # on two machines or cores
    python -m harness run --shard 1/2 --output-dir runs/s1
    python -m harness merge runs/s0 runs/s1 --output-dir runs/all

The shards must agree on what makes answers comparable: the benchmark file (sha256), the
decoding settings (``max_new_tokens``, ``seed``) and every shared system's fingerprint; a
mismatch is an error naming both folders. Samples are deduplicated by (system, item id) -- the
first folder given wins -- and the item snapshots are united (an id whose item differs between
shards is an error). ``run.json`` is rebuilt: per-system counters are summed, ``wall_s`` is the
slowest shard's (they run in parallel), ``merged_from`` lists the inputs, and the metrics are
recomputed from the merged samples. The status is ``complete`` only when every input was complete
and every system answered every item. ``likelihood.jsonl`` rows (``--mode likelihood|all``) are
merged the same way, one per (system, item or document), and their measures recomputed.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from harness.api.errors import ConfigError, DataError
from harness.runlog import (
    ITEMS_SNAPSHOT,
    LIKELIHOOD_SAMPLES,
    RUN_JSON,
    RUN_SCHEMA,
    RUN_SCHEMA_VERSION,
    SAMPLES,
    iter_jsonl,
    load_run,
    write_json_atomic,
    write_text_atomic,
)

log = logging.getLogger(__name__)

MUST_AGREE = ("max_new_tokens", "seed")  # run config fields that change answers
SUMMED = ("generated", "cached", "reused_from_run_dir", "generation_wall_s")  # per-system counters


def merge_runs(run_dirs: Sequence[Path], output_dir: Path) -> Path:
    """Write the merged run into ``output_dir`` (new or empty) and return it."""
    if not run_dirs:
        raise ConfigError("merge: no run folders given; pass the shard folders, e.g. runs/s0 runs/s1")
    dirs = [Path(d) for d in run_dirs]
    output_dir = Path(output_dir)
    if any(d.resolve() == output_dir.resolve() for d in dirs):
        raise ConfigError(f"--output-dir {output_dir} is one of the inputs; pick a new folder")
    if output_dir.exists() and any(output_dir.iterdir()):
        raise ConfigError(f"--output-dir {output_dir} is not empty; pick a new folder so no run is overwritten")
    runs = [load_run(d) for d in dirs]
    _check_compatible(dirs, runs)
    items = _merge_items(dirs)
    samples, duplicates = _merge_samples(dirs)
    names = list(dict.fromkeys(name for run in runs for name in run.get("systems", {})))
    answered = {name: {s["id"] for s in samples if s.get("system") == name} for name in names}
    missing = missing_shards(runs)
    if missing:
        log.warning("shards %s are not among the inputs; the merged run is partial", ", ".join(missing))
    complete = not missing and all(run.get("status") == "complete" for run in runs) and all(answered[n] >= set(items) for n in names)

    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / ITEMS_SNAPSHOT, "".join(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n" for obj in items.values()))
    write_text_atomic(output_dir / SAMPLES, "".join(json.dumps(s, ensure_ascii=False, sort_keys=True) + "\n" for s in samples))
    doc = _run_doc(dirs, runs, names, items, complete, duplicates)
    doc["missing_shards"] = missing
    write_json_atomic(output_dir / RUN_JSON, doc)
    baseline = runs[0].get("config", {}).get("baseline_system", "vanilla")
    from harness.runner import summarize

    doc["metrics"] = summarize(output_dir, None, names, baseline)  # grades the merged samples afresh
    scores = _merge_likelihood(dirs)
    if scores:
        from harness.scoring.gradebook import load_items
        from harness.scoring.likelihood import likelihood_metrics, report_pairs

        write_text_atomic(output_dir / LIKELIHOOD_SAMPLES, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in scores))
        stored = (runs[0].get("metrics") or {}).get("likelihood", {}).get("pairs")
        pairs = stored or report_pairs(Path(str(runs[0].get("benchmark", {}).get("path", "."))))
        doc["metrics"]["likelihood"] = likelihood_metrics(scores, load_items(output_dir), names, pairs)
    write_json_atomic(output_dir / RUN_JSON, doc)
    log.info("merged %d runs (%d samples, %d duplicates dropped) into %s", len(dirs), len(samples), duplicates, output_dir)
    return output_dir


def _merge_likelihood(dirs: Sequence[Path]) -> list[dict[str, Any]]:
    """The shards' ``likelihood.jsonl`` rows, one per (system, kind, id): the first folder wins
    (every shard scores the documents; only one copy is kept)."""
    seen: set[tuple[Any, Any, Any]] = set()
    rows = []
    for folder in dirs:
        for row in iter_jsonl(folder / LIKELIHOOD_SAMPLES):
            key = (row.get("system"), row.get("kind"), row.get("id"))
            if key not in seen:
                seen.add(key)
                rows.append(row)
    return rows


def missing_shards(runs: Sequence[dict[str, Any]]) -> list[str]:
    """``I/N`` specs absent from the inputs, when every input is a shard of the same N."""
    specs = [run.get("config", {}).get("shard") for run in runs]
    if not specs or any(not spec for spec in specs):
        return []
    from harness.runner import parse_shard

    parsed = [parse_shard(str(spec)) for spec in specs]
    counts = {count for _, count in parsed}
    if len(counts) != 1:
        return []
    count = counts.pop()
    return [f"{i}/{count}" for i in sorted(set(range(count)) - {index for index, _ in parsed})]


def _check_compatible(dirs: Sequence[Path], runs: Sequence[dict[str, Any]]) -> None:
    first_dir, first = dirs[0], runs[0]
    fingerprints: dict[str, tuple[Path, Any]] = {}
    for folder, run in zip(dirs, runs):
        sha, first_sha = run.get("benchmark", {}).get("sha256"), first.get("benchmark", {}).get("sha256")
        if sha != first_sha:
            raise DataError(
                f"{folder}: benchmark sha256 {str(sha)[:12]} differs from {first_dir}'s {str(first_sha)[:12]}; merge only shards of the same benchmark file"
            )
        for key in MUST_AGREE:
            if run.get("config", {}).get(key) != first.get("config", {}).get(key):
                raise DataError(
                    f"{folder}: config.{key} = {run['config'].get(key)!r} differs from {first_dir}'s {first['config'].get(key)!r}; "
                    "rerun the shard with the same settings"
                )
        for name, meta in run.get("systems", {}).items():
            fp = meta.get("fingerprint")
            if fp is None:
                continue  # the system failed before it was built; nothing to compare
            if name in fingerprints and fingerprints[name][1] != fp:
                raise DataError(
                    f"{folder}: system '{name}' has a different fingerprint than in {fingerprints[name][0]} "
                    "(other model, adapter or index); rerun the shard with the same version"
                )
            fingerprints.setdefault(name, (folder, fp))


def _merge_items(dirs: Sequence[Path]) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for folder in dirs:
        path = folder / ITEMS_SNAPSHOT
        if not path.exists():
            raise DataError(f"{path}: item snapshot missing; was {folder} written by python -m harness run?")
        for obj in iter_jsonl(path, tolerate_truncated_tail=False):
            item_id = str(obj.get("id"))
            if item_id in items and items[item_id] != obj:
                raise DataError(
                    f"{path}: item {item_id!r} differs from the one in {origin[item_id] / ITEMS_SNAPSHOT}; the shards used different benchmark files"
                )
            items.setdefault(item_id, obj)
            origin.setdefault(item_id, folder)
    return items


def _merge_samples(dirs: Sequence[Path]) -> tuple[list[dict[str, Any]], int]:
    seen: set[tuple[str, str]] = set()
    merged: list[dict[str, Any]] = []
    duplicates = 0
    for folder in dirs:
        for sample in iter_jsonl(folder / SAMPLES):
            key = (str(sample.get("system")), str(sample.get("id")))
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            merged.append(sample)
    return merged, duplicates


def _run_doc(
    dirs: Sequence[Path], runs: Sequence[dict[str, Any]], names: Sequence[str], items: dict[str, Any], complete: bool, duplicates: int
) -> dict[str, Any]:
    first = runs[0]
    systems: dict[str, Any] = {}
    for name in names:
        metas = [run["systems"][name] for run in runs if name in run.get("systems", {})]
        base = next((m for m in metas if m.get("fingerprint") is not None), metas[0])
        merged = {k: v for k, v in base.items() if k not in SUMMED and k not in ("status", "error")}
        for key in SUMMED:
            values = [m[key] for m in metas if isinstance(m.get(key), (int, float))]
            if values:
                merged[key] = round(sum(values), 3) if key == "generation_wall_s" else int(sum(values))
        errors = [f"{folder}: {run['systems'][name]['error']}" for folder, run in zip(dirs, runs) if run.get("systems", {}).get(name, {}).get("error")]
        merged["status"] = "complete" if all(m.get("status") == "complete" for m in metas) else "partial"
        if errors:
            merged["errors"] = errors
        merged["shards"] = len(metas)
        systems[name] = merged
    created = min((run.get("created") or "" for run in runs), default=None)
    return {
        "schema": RUN_SCHEMA,
        "schema_version": RUN_SCHEMA_VERSION,
        "status": "complete" if complete else "partial",
        "created": created,
        "finished": datetime.now(timezone.utc).isoformat(),
        "wall_s": max((float(run.get("wall_s") or 0.0) for run in runs), default=0.0),
        "peak_rss_mb": max((float(run["peak_rss_mb"]) for run in runs if run.get("peak_rss_mb") is not None), default=None),  # the largest shard's
        "config": {**first.get("config", {}), "shard": None, "output_dir": None},
        "benchmark": {**first.get("benchmark", {}), "selected_items": len(items)},
        "systems": systems,
        "packages": first.get("packages", {}),
        "command": sys.argv,
        "merged_from": [
            {"run_dir": str(folder), "shard": run.get("config", {}).get("shard"), "status": run.get("status"), "wall_s": run.get("wall_s")}
            for folder, run in zip(dirs, runs)
        ],
        "duplicates_dropped": duplicates,
    }
