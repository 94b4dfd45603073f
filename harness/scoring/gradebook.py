"""Per-sample grades of a run: ``grades.jsonl`` beside ``samples.jsonl`` in the run directory.

    python -m harness report RUN_DIR --regrade     # regrade from the run log, then re-render

One line per sample: ``{"id", "system", "category", "grader", "kind", "correct", "refused",
"value_correct", "unit_correct", "extracted", "coverage", "refusal_p", "note"}``. The file is
derived data: it is rewritten atomically from ``samples.jsonl`` + ``benchmark.jsonl`` and
regenerated whenever it is missing, does not cover the samples, or was made by another grader
version or calibration (``grader`` field, see :func:`grader_id`). ``samples.jsonl`` itself is never modified.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from harness.api.errors import DataError
from harness.api.items import Item, parse_item
from harness.runlog import ITEMS_SNAPSHOT, iter_jsonl, read_samples, write_text_atomic
from harness.scoring.grade import GradeConfig, grade

log = logging.getLogger(__name__)

GRADES = "grades.jsonl"
GRADER_VERSION = "1.0"  # bump when a grader's decisions change, so old grades.jsonl are regraded


@functools.lru_cache(maxsize=1)
def grader_id() -> str:
    """``GRADER_VERSION`` plus a digest of the calibration file: refitting the learned graders
    also makes existing grades stale."""
    from harness.scoring.calibration import CALIBRATION_FILE

    try:
        digest = hashlib.sha256(CALIBRATION_FILE.read_bytes()).hexdigest()[:8]
    except OSError:
        digest = "nocalib"
    return f"{GRADER_VERSION}+{digest}"


def load_items(run_dir: Path, fallback: Iterable[Item] = ()) -> dict[str, Item]:
    """Items of a run, from its ``benchmark.jsonl`` snapshot (or ``fallback`` when absent)."""
    path = Path(run_dir) / ITEMS_SNAPSHOT
    items: dict[str, Item] = {}
    if path.exists():
        for number, obj in enumerate(iter_jsonl(path, tolerate_truncated_tail=False), start=1):
            item = parse_item(obj, f"{path}:{number}")
            items[item.id] = item
        return items
    items = {item.id: item for item in fallback}
    if not items:
        raise DataError(f"{path}: item snapshot not found; this run directory was not written by python -m harness run")
    return items


def grade_config_for(run_dir: Path) -> GradeConfig:
    """Tolerances from the run's benchmark.toml (recorded path), else the benchmark defaults."""
    from harness.benchmark import load_config
    from harness.runlog import load_run

    try:
        bench = load_run(run_dir).get("benchmark", {})
        toml = Path(bench.get("path", "")).parent / "benchmark.toml"
        if bench.get("path") and toml.exists():
            return GradeConfig.from_benchmark(load_config(toml))
    except DataError:
        pass
    return GradeConfig()


def prefetch(pairs: Sequence[tuple[Item | None, str]], config: GradeConfig) -> None:
    """Embed every text the graders will need for these (item, response) pairs in a few large
    batches (much faster than one call per response); the embedder caches the vectors."""
    from harness.scoring.keypoints import segments
    from harness.scoring.refusal import opening

    texts: list[str] = []
    for item, response in pairs:
        if response.strip():
            texts.append(opening(response) or " ")
        if item is not None and item.answer.type == "keypoints":
            texts.extend(item.answer.points)
            texts.extend(segments(response))
    if texts:
        embedder = config.get_embedder()
        for start in range(0, len(texts), 512):
            embedder.encode(texts[start : start + 512])


def grade_samples(samples: Sequence[Mapping[str, Any]], items: Mapping[str, Item], config: GradeConfig, quiet: bool = True) -> list[dict[str, Any]]:
    """One grade record per sample (samples whose item is unknown are skipped with a warning)."""
    from tqdm.auto import tqdm

    prefetch([(items.get(str(s.get("id"))), str(s.get("response") or "")) for s in samples], config)
    out = []
    unknown = set()
    for sample in tqdm(samples, desc="grading", unit="answer", disable=quiet):
        item = items.get(str(sample.get("id")))
        if item is None:
            unknown.add(str(sample.get("id")))
            continue
        score = grade(item, sample.get("response") if isinstance(sample.get("response"), str) else "", config)
        out.append({"id": item.id, "system": sample.get("system"), "category": item.category, "grader": grader_id(), **score.to_dict()})
    if unknown:
        log.warning("%d sample id(s) not in the item snapshot were not graded (e.g. %s)", len(unknown), sorted(unknown)[0])
    return out


def write_grades(run_dir: Path, grades: Sequence[Mapping[str, Any]]) -> Path:
    path = Path(run_dir) / GRADES
    write_text_atomic(path, "".join(json.dumps(g, ensure_ascii=False, sort_keys=True) + "\n" for g in grades))
    return path


def read_grades(run_dir: Path) -> list[dict[str, Any]] | None:
    path = Path(run_dir) / GRADES
    if not path.exists():
        return None
    return list(iter_jsonl(path))


def _current(grades: list[dict[str, Any]] | None, samples: Sequence[Mapping[str, Any]], items: Mapping[str, Item]) -> bool:
    if grades is None:
        return False
    wanted = {(str(s.get("id")), s.get("system")) for s in samples if str(s.get("id")) in items}
    have = {(str(g.get("id")), g.get("system")) for g in grades}
    return wanted == have and all(g.get("grader") == grader_id() for g in grades)


def ensure_grades(
    run_dir: Path, items: Mapping[str, Item] | None = None, config: GradeConfig | None = None, regrade: bool = False, quiet: bool = True
) -> list[dict[str, Any]]:
    """Grades for every sample of ``run_dir``, regrading (and rewriting ``grades.jsonl``) only
    when needed or asked."""
    run_dir = Path(run_dir)
    items = items if items is not None else load_items(run_dir)
    samples = read_samples(run_dir)
    grades = None if regrade else read_grades(run_dir)
    if _current(grades, samples, items):
        return grades or []
    grades = grade_samples(samples, items, config or grade_config_for(run_dir), quiet=quiet)
    write_grades(run_dir, grades)
    return grades
