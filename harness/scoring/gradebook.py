"""Per-sample grades of a run: ``grades.jsonl`` beside ``samples.jsonl`` in the run directory.

    python -m harness report RUN_DIR --regrade     # regrade from the run log, then re-render

One line per sample: ``{"id", "system", "category", "grader", "kind", "correct", "refused",
"value_correct", "unit_correct", "extracted", "coverage", "refusal_p", "note", "correct_strict",
"ambiguous", "degenerate", "degenerate_kind"}``; a sample the system was not applicable to
(finish_reason ``not_applicable``) is not graded and gets ``{"id", "system", "category", "grader",
"applicable": false, "note": <why>}``. Each sample is graded with the prompt it was shown and its
``finish_reason`` (:func:`harness.scoring.grade.grade`). The file is
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
from harness.api.system import NOT_APPLICABLE
from harness.runlog import ITEMS_SNAPSHOT, iter_jsonl, read_samples, write_text_atomic
from harness.scoring.grade import GradeConfig, grade

log = logging.getLogger(__name__)

GRADES = "grades.jsonl"
# 2.12: a decline with no known phrase: a short reply about the exchange (the request, the wording,
#      the assistant, "elsewhere"), not about the question, that neither pleads ignorance nor copies
#      the instructions
# 2.11: an answer said to be withheld ("The answer to this question is not available."), "I'd rather stay
#      out of it", "not sure if I can ask that", "outside what I'll get into"; a text ending in a stutter
#      ("Fix_Fix_Fix_Fix_") is a loop
# 2.10: "we don't provide <a thing>" is not a decline, only "I don't provide that/information/help ..."
# 2.9: a hyphenated compound is not an inflection of its first part ("flip" / "flip-flop") when
#      matching a restated question
# 2.8: a key point is covered only by a statement holding a third of the point's words its question lacks
# 2.7: "No." declines only a question with no yes/no clause; passive declines ("that question is not
#      answered"), "you're not allowed to ask"; a filler-only answer is empty; replaying the prompt's
#      example pairs in other words, or only restating the question, is an echo
# 2.6: declines written as labels ("Declining:"), "not a question I will answer", a bare "No." to a
#      question that is not a yes/no question; answer-shaped text after a decline weighs against it
# 2.5: a number with a runaway digit tail is the value it spells
# 2.4: a decline in reply to a question the model invented is not a refusal
# 2.3: one number with a runaway digit tail is not gibberish
# 2.2: a degenerate answer that declines before it repeats is a refusal
# 2.1: a text ending on a copy of itself is a loop
GRADER_VERSION = "2.12"  # bump when a grader's decisions change, so old grades.jsonl are regraded


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


@functools.lru_cache(maxsize=1)
def _grader_source_digest() -> str:
    """sha256 over the grading code (``harness/scoring``, ``harness/units.py``): any edit to a
    grader invalidates the cross-run grade cache even without a ``GRADER_VERSION`` bump."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("*.py"), root.parent / "units.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class GradeCache:
    """Grades of (item, response) pairs kept across runs in ``$HARNESS_CACHE/grades.sqlite``, so
    a rerun whose answers all come from the generation cache grades nothing again. Keyed by the
    grader id, the grading code, the tolerances, the item and the response; used only with the
    packaged embedder and calibration."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS grades (key TEXT PRIMARY KEY, score TEXT NOT NULL)")
        self._db.commit()

    @staticmethod
    def key(item: Item, response: str, config: GradeConfig, prompt: Any = None, finish_reason: Any = None) -> str:
        payload = {
            "grader": grader_id(),
            "code": _grader_source_digest(),
            "rel_tol": config.default_rel_tol,
            "min_fraction": config.default_min_fraction,
            "generations": config.generation_pattern,
            "db_abs_tol": config.db_abs_tol,
            "unit_aliases": config.unit_aliases,
            "item": item.to_dict(),
            "response": response,
            "prompt": prompt,
            "finish_reason": finish_reason,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            for key, text in self._db.execute(f"SELECT key, score FROM grades WHERE key IN ({','.join('?' * len(chunk))})", chunk):
                try:
                    found[key] = dict(json.loads(text))
                except (ValueError, TypeError):
                    log.warning("dropping corrupt grade %s in %s; it will be regraded", key[:12], self.path)
        return found

    def put_many(self, entries: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO grades (key, score) VALUES (?, ?)", [(k, json.dumps(v, ensure_ascii=False)) for k, v in entries])
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def _default_grade_cache(config: GradeConfig) -> GradeCache | None:
    if config.embedder is not None or config.calibration is not None:
        return None  # a stand-in embedder or calibration: grades must not mix with the real ones
    from harness.cache_folder import cache_dir

    try:
        return GradeCache(cache_dir() / "grades.sqlite")
    except Exception as exc:  # noqa: BLE001 - the cache is an optimisation; grading goes on without it
        log.warning("grade cache unavailable (%s); grading every answer", exc)
        return None


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


def grade_samples(
    samples: Sequence[Mapping[str, Any]], items: Mapping[str, Item], config: GradeConfig, quiet: bool = True, cache: GradeCache | None | bool = True
) -> list[dict[str, Any]]:
    """One grade record per sample (samples whose item is unknown are skipped with a warning).
    ``cache``: grades kept across runs (default: :class:`GradeCache` in ``$HARNESS_CACHE`` when
    the packaged embedder and calibration are used; ``False`` = none)."""
    from tqdm.auto import tqdm

    store = _default_grade_cache(config) if cache is True else (cache or None)
    pairs: list[tuple[Mapping[str, Any], Item, str]] = []
    unknown = set()
    skipped = []  # samples of items their system was not applicable to: nothing to grade
    for sample in samples:
        item = items.get(str(sample.get("id")))
        if item is None:
            unknown.add(str(sample.get("id")))
            continue
        if sample.get("finish_reason") == NOT_APPLICABLE:
            reason = (sample.get("extra") or {}).get(NOT_APPLICABLE)
            skipped.append(
                {"id": item.id, "system": sample.get("system"), "category": item.category, "grader": grader_id(), "applicable": False, "note": reason}
            )
            continue
        response = sample.get("response")
        pairs.append((sample, item, response if isinstance(response, str) else ""))
    keys = (
        [GradeCache.key(item, response, config, sample.get("prompt"), sample.get("finish_reason")) for sample, item, response in pairs]
        if store is not None
        else []
    )
    known = store.get_many(keys) if store is not None else {}
    prefetch([(item, response) for i, (_, item, response) in enumerate(pairs) if not keys or keys[i] not in known], config)
    out = []
    fresh: list[tuple[str, dict[str, Any]]] = []
    for i, (sample, item, response) in enumerate(tqdm(pairs, desc="grading", unit="answer", disable=quiet)):
        scored = known.get(keys[i]) if keys else None
        if scored is None:
            scored = grade(item, response, config, sample.get("prompt"), sample.get("finish_reason")).to_dict()
            if keys:
                fresh.append((keys[i], scored))
        out.append({"id": item.id, "system": sample.get("system"), "category": item.category, "grader": grader_id(), **scored})
    out += skipped
    if store is not None:
        if fresh:
            store.put_many(fresh)
        store.close()
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
