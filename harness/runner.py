"""Run systems over a benchmark: batched, cached, resumable, one model in memory at a time.

    python -m harness run --systems vanilla --limit 5

For each system: build one request per item from the benchmark's prompt template, serve what
the generation cache already holds, generate the rest in batches, and after every batch append
the samples (fsync) and commit them to the cache (systems with ``generate_stream`` hand answers
over as they finish, so a kill loses only the rows in flight). A run killed at any point and started again
regenerates nothing that finished. ``run.json`` is rewritten atomically at the start (status
``running``) and the end (``complete`` with metrics).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from harness.api.errors import ArtifactError, ConfigError, DataError, GenerationError, HarnessError
from harness.api.items import Item
from harness.api.system import NOT_APPLICABLE, SENT_PROMPT, ChatMessage, Closeable, GenerationRequest, GenerationResult, Selective, StreamingSystem, System
from harness.benchmark import Benchmark, load_benchmark
from harness.cache import GenerationCache, LikelihoodCache, cache_key
from harness.likelihood_runner import ITEMS_PER_CALL, LikelihoodPass, load_documents, read_likelihood
from harness.registry import Registry
from harness.runlog import ITEMS_SNAPSHOT, RUN_JSON, RUN_SCHEMA, RUN_SCHEMA_VERSION, SAMPLES, SampleWriter, iter_jsonl, write_json_atomic
from harness.scoring.likelihood import report_pairs

log = logging.getLogger(__name__)

CHUNK = 16  # requests per generate() call for systems without generate_stream, when --batch-size is unset
TRACKED_PACKAGES = ("raq-harness", "torch", "transformers", "peft", "faiss-cpu", "sentence-transformers", "llama-index-core", "pint", "scipy", "numpy")


@dataclass(frozen=True)
class RunConfig:
    systems: str = "all"  # "all" or comma-separated registry names
    benchmark: str | None = None  # items.jsonl path; None = bundled RAQ benchmark
    limit: int | None = None  # first N items (after sharding); None = all
    sample: int | None = None  # N items drawn stratified by category and topic (seeded by ``seed``); None = all
    output_dir: str | None = None  # None = runs/<timestamp>-<config hash>
    batch_size: int | None = None  # rows per forward pass; None = each system picks (local models: automatic)
    max_new_tokens: int = 192  # completion budget per answer, tokens
    seed: int = 0  # sampling seed (greedy decoding ignores it)
    use_cache: bool = True  # serve identical requests from the generation cache
    quiet: bool = False  # no progress bars
    shard: str | None = None  # "I/N": run the I-th of N deterministic slices (0-based)
    system_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> factory kwargs
    baseline_system: str = "vanilla"  # paired comparisons are against this system
    mode: str = "all"  # generate (answers only) | likelihood (scores only) | all (both, per system)
    corpus: str | None = None  # likelihood: documents the adapters trained on; None = the bundled corpus, "none" = skip
    heldout: str | None = None  # likelihood: domain documents no adapter saw; None = benchmarks/raq/heldout, "none" = skip

    def __post_init__(self) -> None:
        from harness.likelihood_runner import MODES

        if self.mode not in MODES:
            raise ConfigError(f"--mode: {self.mode!r} is not a mode; use one of {', '.join(MODES)}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {self.limit}")
        if self.sample is not None and self.sample < 1:
            raise ConfigError(f"--sample must be >= 1, got {self.sample}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 1 <= self.max_new_tokens <= 8192:
            raise ConfigError(f"--max-new-tokens must be in 1..8192, got {self.max_new_tokens}")
        if self.shard is not None:
            parse_shard(self.shard)


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ConfigError(f"--shard: expected I/N such as 0/4, got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard: need 0 <= I < N, got {text!r}")
    return index, count


def select_items(items: Sequence[Item], shard: str | None, limit: int | None, sample: int | None = None, seed: int = 0) -> list[Item]:
    """Deterministic slice: shard by a stable hash of the item id, draw a stratified ``sample``
    (:func:`stratified_sample`), then keep the first ``limit``."""
    chosen = list(items)
    if shard is not None:
        index, count = parse_shard(shard)
        chosen = [it for it in chosen if int(hashlib.sha256(it.id.encode()).hexdigest(), 16) % count == index]
    if sample is not None:
        chosen = stratified_sample(chosen, sample, seed)
    return chosen[:limit] if limit is not None else chosen


def item_topic(item: Item) -> str:
    """The topic an item belongs to: its id up to the first hyphen (``ddr5``, ``ckt``, ``phy`` in RAQ)."""
    return item.id.split("-", 1)[0]


def stratified_sample(items: Sequence[Item], n: int, seed: int = 0) -> list[Item]:
    """``n`` items spread over the (category, topic) strata in proportion to their sizes.

    Every category gets at least one item when ``n`` allows it; the remaining places go by
    largest remainder. Within a stratum the order is a seeded hash of the item id, so the same
    ``n`` and ``seed`` always give the same items. The result keeps the benchmark's order.
    """
    if n >= len(items):
        return list(items)
    strata: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        strata.setdefault((item.category, item_topic(item)), []).append(item)
    for members in strata.values():
        members.sort(key=lambda it: hashlib.sha256(f"{seed}:{it.id}".encode()).hexdigest())
    quota = {key: n * len(members) / len(items) for key, members in strata.items()}
    take = {key: int(q) for key, q in quota.items()}
    for category in sorted({key[0] for key in strata}):  # each category at least once
        keys = [k for k in strata if k[0] == category]
        if sum(take[k] for k in keys) == 0 and sum(take.values()) < n:
            take[max(keys, key=lambda k: quota[k])] += 1
    by_remainder = sorted(strata, key=lambda k: (take[k] - quota[k], k))
    for key in by_remainder:
        if sum(take.values()) >= n:
            break
        if take[key] < len(strata[key]):
            take[key] += 1
    picked = {it.id for key, members in strata.items() for it in members[: take[key]]}
    return [it for it in items if it.id in picked]


def build_request(item: Item, benchmark: Benchmark, config: RunConfig) -> GenerationRequest:
    prompt = benchmark.config.prompt
    messages = []
    if prompt.system:
        messages.append(ChatMessage("system", prompt.system))
    messages.append(ChatMessage("user", prompt.render(item.question)))
    return GenerationRequest(id=item.id, messages=tuple(messages), max_new_tokens=config.max_new_tokens, seed=config.seed, item=item.public_fields())


def package_versions(names: Sequence[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Python and the installed version of each distribution in ``names`` (absent ones left out)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def source_revision() -> dict[str, Any] | None:
    """The git commit of this checkout and whether it has uncommitted changes (None outside a
    git checkout or without git). Read when a run starts: that is the code that generates."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode != 0 or status.returncode != 0:
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def config_hash(config: RunConfig, benchmark: Benchmark, names: Sequence[str]) -> str:
    payload = {
        "systems": list(names),
        "benchmark": benchmark.sha256,
        "limit": config.limit,
        "shard": config.shard,
        "max_new_tokens": config.max_new_tokens,
        "seed": config.seed,
    }
    if config.sample is not None:
        payload["sample"] = config.sample
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:8]


def default_output_dir(config: RunConfig, benchmark: Benchmark, names: Sequence[str]) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / f"{stamp}-{config_hash(config, benchmark, names)}"


def prepare_output_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{path}: output directory is not writable ({exc.strerror}); pass --output-dir to a writable folder") from None
    return path


def check_resume(run_dir: Path, config: RunConfig, benchmark: Benchmark) -> dict[str, Any]:
    """Before answers are added to a folder that already holds some: the benchmark file and the
    answer-changing settings must be the ones they were made with (as ``merge`` requires of
    shards). Returns each earlier system's fingerprint, checked when the system's turn comes."""
    from harness.merge import MUST_AGREE
    from harness.runlog import load_run

    if not (run_dir / RUN_JSON).exists() or not any(True for _ in iter_jsonl(run_dir / SAMPLES)):
        return {}
    earlier = load_run(run_dir)
    where = run_dir / RUN_JSON
    sha, then = benchmark.describe().get("sha256"), earlier.get("benchmark", {}).get("sha256")
    if then is not None and sha != then:
        raise DataError(f"{where}: its answers are for benchmark sha256 {str(then)[:12]}, not {str(sha)[:12]} ({benchmark.path}); pass a new --output-dir")
    for key in MUST_AGREE:
        now, before = getattr(config, key), earlier.get("config", {}).get(key)
        if key in earlier.get("config", {}) and now != before:
            raise DataError(f"{where}: config.{key} was {before!r} for the answers already there, now {now!r}; use the same setting or a new --output-dir")
    return {name: meta["fingerprint"] for name, meta in earlier.get("systems", {}).items() if meta.get("fingerprint") is not None}


def sample_record(item: Item, system: str, request: GenerationRequest, result: GenerationResult, cached: bool, prompt_text: Any = None) -> dict[str, Any]:
    extra = dict(result.extra)
    sent = extra.pop(SENT_PROMPT, None)  # the prompt the system really used, when it rewrote ours
    if prompt_text is None and sent is not None:
        prompt_text = sent
    return {
        "id": item.id,
        "system": system,
        "category": item.category,
        "question": item.question,
        "prompt": prompt_text if prompt_text is not None else [m.to_dict() for m in request.messages or ()] or request.prompt,
        "response": result.text,
        "latency_s": round(result.latency_s, 6),
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "finish_reason": result.finish_reason,
        "cached": cached,
        "extra": extra,
    }


def not_applicable_record(item: Item, system: str, request: GenerationRequest, reason: str) -> dict[str, Any]:
    """The sample of an item ``system`` cannot do: no answer, finish_reason ``not_applicable``,
    the reason under ``extra["not_applicable"]``. Never cached; graded as not applicable."""
    return sample_record(item, system, request, GenerationResult(item.id, "", finish_reason=NOT_APPLICABLE, extra={NOT_APPLICABLE: reason}), cached=False)


class Runner:
    def __init__(self, config: RunConfig, registry: Registry | None = None, progress: Callable[..., Any] | None = None) -> None:
        self.config = config
        self.registry = registry or Registry.from_entry_points()
        self._progress_factory = progress
        self._overall: Any = None  # the whole-run progress line (multi-system runs only)
        self._run_tokens = 0  # completion tokens generated so far in this run, for its tok/s
        self._run_started = time.perf_counter()
        self._resumed_fingerprints: dict[str, Any] = {}  # per system, from the run.json of the folder resumed into
        self._systems_meta: dict[str, Any] = {}
        self._checkpoint: Callable[[], None] = lambda: None  # rewrites run.json mid-run

    def _progress(self, total: int, initial: int, desc: str) -> Any:
        if self._progress_factory is not None:
            return self._progress_factory(total=total, initial=initial, desc=desc)
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit="item", disable=self.config.quiet, file=sys.stderr, dynamic_ncols=True)

    def run(self) -> Path:
        config = self.config
        names = self.registry.resolve(config.systems)
        benchmark = load_benchmark(config.benchmark)
        items = select_items(benchmark.items, config.shard, config.limit, config.sample, config.seed)
        if not items:
            raise ConfigError(
                f"no items selected from {benchmark.path} (shard {config.shard}, sample {config.sample}, limit {config.limit}); widen --shard/--sample/--limit"
            )
        prepared = self._preflight(names)
        run_dir = prepare_output_dir(Path(config.output_dir) if config.output_dir else default_output_dir(config, benchmark, names))
        self._resumed_fingerprints = check_resume(run_dir, config, benchmark)
        if self._resumed_fingerprints:  # systems built by the preflight are checked before any answer is generated
            answered = Counter(s.get("system") for s in iter_jsonl(run_dir / SAMPLES))
            for name, built in prepared.items():
                self._check_same_version(run_dir, name, dict(built.fingerprint), answered[name])
        snapshot = run_dir / ITEMS_SNAPSHOT
        snapshot_text = "".join(json.dumps(it.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for it in items)
        from harness.runlog import write_text_atomic

        write_text_atomic(snapshot, snapshot_text)
        cache = None
        if config.use_cache:
            from harness.models.sources import cache_dir

            cache = GenerationCache(cache_dir() / "generations.sqlite")
        started = time.time()
        self._source = source_revision()
        systems_meta: dict[str, Any] = {}
        run_doc = self._run_doc(config, benchmark, names, items, systems_meta, "running", started)
        write_json_atomic(run_dir / RUN_JSON, run_doc)
        failures: list[str] = []
        writer = SampleWriter(run_dir / SAMPLES)
        generating = config.mode != "likelihood"
        scoring = self._likelihood_pass(run_dir, benchmark) if config.mode != "generate" else None
        self._overall = self._progress(total=len(items) * len(names), initial=0, desc="all systems") if len(names) > 1 and generating else None
        self._run_tokens, self._run_started = 0, time.perf_counter()

        def checkpoint() -> None:
            write_json_atomic(run_dir / RUN_JSON, self._run_doc(config, benchmark, names, items, systems_meta, "running", started))

        self._systems_meta, self._checkpoint = systems_meta, checkpoint
        try:
            for name in names:
                system: System | None = prepared.pop(name, None)
                try:
                    system = system or self._create(name, self._options(name))
                    meta = self._run_system(name, items, benchmark, run_dir, writer, cache, system) if generating else self._system_meta(name, system)
                    if scoring is not None:
                        meta["likelihood"] = scoring.run(name, system, items, lambda it: build_request(it, benchmark, config))
                    systems_meta[name] = meta
                except HarnessError as exc:
                    log.error("system %s failed: %s", name, exc)
                    systems_meta[name] = {**systems_meta.get(name, {}), "status": "failed", "error": str(exc)}
                    failures.append(f"{name}: {exc}")
                finally:
                    if isinstance(system, Closeable):
                        system.close()
                write_json_atomic(run_dir / RUN_JSON, self._run_doc(config, benchmark, names, items, systems_meta, "running", started))
        finally:
            if self._overall is not None:
                self._overall.close()
            writer.close()
            if cache is not None:
                cache.close()
            if scoring is not None and scoring.cache is not None:
                scoring.cache.close()
        status = "complete" if not failures else "partial"
        run_doc = self._run_doc(config, benchmark, names, items, systems_meta, status, started)
        run_doc["metrics"] = summarize(run_dir, benchmark, names, config.baseline_system) if generating else {"per_system": {}}
        if scoring is not None:
            from harness.scoring.likelihood import likelihood_metrics

            run_doc["metrics"]["likelihood"] = likelihood_metrics(read_likelihood(run_dir), {it.id: it for it in items}, names, report_pairs(benchmark.path))
        write_json_atomic(run_dir / RUN_JSON, run_doc)
        if failures:
            raise GenerationError(f"{len(failures)} system(s) failed ({'; '.join(failures)}); completed answers are kept in {run_dir}")
        return run_dir

    def _run_doc(
        self, config: RunConfig, benchmark: Benchmark, names: Sequence[str], items: Sequence[Item], systems_meta: Mapping[str, Any], status: str, started: float
    ) -> dict[str, Any]:
        return {
            "schema": RUN_SCHEMA,
            "schema_version": RUN_SCHEMA_VERSION,
            "status": status,
            "created": datetime.fromtimestamp(started, timezone.utc).isoformat(),
            "finished": datetime.now(timezone.utc).isoformat() if status != "running" else None,
            "wall_s": round(time.time() - started, 3),
            "config": {
                **{k: v for k, v in asdict(config).items() if k != "system_options"},
                "system_options": {k: dict(v) for k, v in config.system_options.items()},
            },
            "benchmark": {**benchmark.describe(), "selected_items": len(items), "snapshot": ITEMS_SNAPSHOT},
            "systems": {name: systems_meta.get(name, {"status": "pending"}) for name in names},
            "packages": package_versions(),
            "source": getattr(self, "_source", None),  # git commit + dirty flag at the start of the run
            "command": sys.argv,
            "peak_rss_mb": peak_rss_mb(),
        }

    def _check_same_version(self, run_dir: Path, name: str, fingerprint: Mapping[str, Any], answers: int) -> None:
        earlier = self._resumed_fingerprints.get(name)
        if answers and earlier is not None and earlier != fingerprint:
            changed = sorted(k for k in set(earlier) | set(fingerprint) if earlier.get(k) != fingerprint.get(k))
            raise DataError(
                f"{run_dir / RUN_JSON}: system '{name}' has {answers} answers from a different version ({', '.join(changed)} changed); "
                "pass a new --output-dir or delete its rows from samples.jsonl"
            )

    def _options(self, name: str) -> dict[str, Any]:
        options = dict(self.config.system_options.get(name, {}))
        if self.config.batch_size is not None:
            options.setdefault("batch_size", self.config.batch_size)
        return options

    def _likelihood_pass(self, run_dir: Path, benchmark: Benchmark) -> LikelihoodPass:
        """The scorer of ``--mode likelihood|all``: the benchmark's items plus the corpus and held-out documents."""
        from harness.benchmark import DEFAULT_CORPUS, DEFAULT_HELDOUT

        cache = None
        if self.config.use_cache:
            from harness.models.sources import cache_dir

            cache = LikelihoodCache(cache_dir() / "generations.sqlite")

        def folder(value: str | None, default: Path) -> Path | None:
            return None if value is not None and value.lower() == "none" else Path(value) if value else default

        documents = load_documents(folder(self.config.corpus, DEFAULT_CORPUS), folder(self.config.heldout, DEFAULT_HELDOUT))
        return LikelihoodPass(run_dir, cache, documents, self._progress, items_per_call=self.config.batch_size or ITEMS_PER_CALL)

    def _system_meta(self, name: str, system: System) -> dict[str, Any]:
        """A system's run.json record when it generates nothing (``--mode likelihood``)."""
        entry = self.registry.get(name)
        return {
            "status": "complete",
            "distribution": entry.distribution,
            "entry_point": entry.target,
            "options": dict(self._options(name)),
            "fingerprint": dict(system.fingerprint),
            "generated": 0,
            "cached": 0,
        }

    def _preflight(self, names: Sequence[str]) -> dict[str, System]:
        """Create every system and read its fingerprint before any answer is generated, so bad
        options, a stale, corrupt or mismatched adapter or index stop the run at once (exit 2)
        instead of after hours of other systems. Other failures are left to the system's turn."""
        prepared: dict[str, System] = {}
        for name in names:
            try:
                system = self._create(name, self._options(name))
                dict(system.fingerprint)
            except (ConfigError, ArtifactError):
                raise
            except Exception as exc:  # noqa: BLE001 - reported when the system's turn comes
                log.debug("preflight of %s deferred: %s", name, exc)
                continue
            prepared[name] = system
        return prepared

    def _run_system(
        self,
        name: str,
        items: Sequence[Item],
        benchmark: Benchmark,
        run_dir: Path,
        writer: SampleWriter,
        cache: GenerationCache | None,
        system: System | None = None,
    ) -> dict[str, Any]:
        system_started = time.perf_counter()
        options = self._options(name)
        entry = self.registry.get(name)
        system = system or self._create(name, options)
        fingerprint = dict(system.fingerprint)
        done = {s["id"] for s in iter_jsonl(run_dir / SAMPLES) if s.get("system") == name}
        self._check_same_version(run_dir, name, fingerprint, len(done))
        self._systems_meta[name] = {"status": "running", "fingerprint": fingerprint}  # so a kill mid-system can still be checked on resume
        self._checkpoint()
        built = {it.id: build_request(it, benchmark, self.config) for it in items}
        skipped = not_applicable(system, name, list(built.values()))
        todo = [it for it in items if it.id not in done]
        writer.write(not_applicable_record(it, name, built[it.id], skipped[it.id]) for it in todo if it.id in skipped)
        todo = [it for it in todo if it.id not in skipped]
        requests = {it.id: built[it.id] for it in todo}
        item_fields = tuple(getattr(system, "item_fields", ()) or ())
        keys = {it.id: cache_key(fingerprint, requests[it.id], item_fields) for it in todo}
        hits = cache.get_many(keys.values()) if cache is not None else {}
        by_id = {it.id: it for it in items}
        cached_samples = [sample_record(by_id[i], name, requests[i], hits[keys[i]], cached=True) for i in requests if keys[i] in hits]
        writer.write(cached_samples)
        pending = [requests[i] for i in requests if keys[i] not in hits]
        finished = len(items) - len(todo) + len(cached_samples)  # earlier, not applicable or cached
        bar = self._progress(total=len(items), initial=finished, desc=name)
        overall = self._overall
        if overall is not None:
            overall.update(finished)
        generated = retries = 0
        tokens = {"prompt": 0, "completion": 0, "loop_stops": 0, "loop_budget_unspent": 0}
        gen_started = time.perf_counter()
        try:
            # Sort by question length so each batch pads little; commit after every batch.
            pending.sort(key=lambda r: len(r.question))
            for chunk, results in self._batches(system, name, pending):
                if cache is not None:
                    cache.put_many(name, [(keys[r.id], res) for r, res in zip(chunk, results)])
                writer.write(sample_record(by_id[r.id], name, r, res, cached=False) for r, res in zip(chunk, results))
                generated += len(chunk)
                retries += sum(max(0, int(res.extra.get("attempts", 1)) - 1) for res in results)
                for request, res in zip(chunk, results):
                    tokens["prompt"] += res.prompt_tokens
                    tokens["completion"] += res.completion_tokens
                    self._run_tokens += res.completion_tokens
                    if res.finish_reason == "loop":
                        tokens["loop_stops"] += 1
                        tokens["loop_budget_unspent"] += max(0, request.max_new_tokens - res.completion_tokens)
                bar.update(len(chunk))
                if overall is not None:
                    overall.update(len(chunk))
                    overall.set_postfix_str(f"{name}, {self._run_tokens / max(1e-9, time.perf_counter() - self._run_started):.0f} tok/s", refresh=False)
        finally:
            bar.close()
        return {
            "status": "complete",
            "distribution": entry.distribution,
            "entry_point": entry.target,
            "options": {k: v for k, v in options.items()},
            "fingerprint": fingerprint,
            "reused_from_run_dir": len(done),
            "not_applicable": len(skipped),  # items the system cannot do (no answer generated or scored)
            "cached": len(cached_samples),
            "generated": generated,
            "retries": retries,  # extra attempts by systems that report them (served endpoints)
            "generation_wall_s": round(time.perf_counter() - gen_started, 3),
            "wall_s": round(time.perf_counter() - system_started, 3),  # creation, cache look-ups, model load and generation
            "prompt_tokens": tokens["prompt"],  # of the answers generated in this run (cached ones excluded)
            "completion_tokens": tokens["completion"],
            "loop_stops": tokens["loop_stops"],  # answers ended early because they started repeating
            "loop_budget_unspent": tokens["loop_budget_unspent"],  # completion tokens the loop stop did not spend
        }

    def _batches(self, system: System, name: str, pending: list[GenerationRequest]) -> Iterator[tuple[list[GenerationRequest], list[GenerationResult]]]:
        """(requests, results) as they finish: streamed by systems that implement
        ``generate_stream`` (continuous batching), else one ``generate`` call per chunk."""
        if not pending:
            return
        if isinstance(system, StreamingSystem):
            seen: set[int] = set()
            stream = system.generate_stream(pending)
            while True:
                try:
                    batch = next(stream)
                except StopIteration:
                    break
                except HarnessError:
                    raise
                except Exception as exc:
                    raise GenerationError(f"system '{name}' failed after {len(seen)} of {len(pending)} answers: {type(exc).__name__}: {exc}") from exc
                for index, result in batch:
                    if not 0 <= index < len(pending) or index in seen or result.id != pending[index].id:
                        raise GenerationError(
                            f"system '{name}' streamed result {index} ({result.id!r}) twice, "
                            "out of range or for the wrong request; generate_stream must yield each request's index once"
                        )
                    seen.add(index)
                yield [pending[i] for i, _ in batch], [r for _, r in batch]
            if len(seen) != len(pending):
                raise GenerationError(
                    f"system '{name}' stopped with {len(pending) - len(seen)} of {len(pending)} requests unanswered; generate_stream must yield every request"
                )
            return
        step = self.config.batch_size or CHUNK
        for start in range(0, len(pending), step):
            chunk = pending[start : start + step]
            try:
                results = system.generate(chunk)
            except HarnessError:
                raise
            except Exception as exc:
                raise GenerationError(f"system '{name}' failed on items {chunk[0].id}..{chunk[-1].id}: {type(exc).__name__}: {exc}") from exc
            if len(results) != len(chunk) or [r.id for r in results] != [r.id for r in chunk]:
                raise GenerationError(
                    f"system '{name}' returned {len(results)} results for {len(chunk)} requests (or out of order); "
                    "a System must return one result per request, in order"
                )
            yield chunk, results

    def _create(self, name: str, options: dict[str, Any]) -> System:
        try:
            return self.registry.create(name, **options)
        except HarnessError:
            raise
        except Exception as exc:
            raise GenerationError(f"system '{name}' could not be created: {type(exc).__name__}: {exc}") from None


def not_applicable(system: System, name: str, requests: Sequence[GenerationRequest]) -> dict[str, str]:
    """``{item id: reason}`` of the items ``system`` says it cannot do (:class:`Selective`), with
    one warning line naming how many and why."""
    if not isinstance(system, Selective):
        return {}
    skipped = {str(k): str(v) for k, v in system.not_applicable(requests).items()}
    if skipped:
        reasons = Counter(skipped.values())
        why = next(iter(reasons)) if len(reasons) == 1 else "; ".join(f"{reason}: {count}" for reason, count in reasons.items())
        log.warning("%s: not applicable to %d of %d items (%s); reported as not applicable and left out of its scores", name, len(skipped), len(requests), why)
    return skipped


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, MiB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux


def summarize(run_dir: Path, benchmark: Benchmark | None, names: Sequence[str], baseline: str) -> dict[str, Any]:
    """Per-system metrics. Uses the scoring package (graders + statistics) on the run log.
    ``benchmark=None`` (a merged run) grades against the run's item snapshot."""
    from harness.scoring.metrics import run_metrics

    return run_metrics(run_dir, benchmark, list(names), baseline)
