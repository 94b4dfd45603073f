"""The likelihood half of a run: score reference answers, multiple-choice options and documents
for one system, cached and resumable, one line per item or document in ``likelihood.jsonl``.

    python -m harness run --mode likelihood --systems vanilla,lora --limit 20
    python -m harness run --mode all            # default: generate, then score, per system

For each item the requests share the item's generation prompt (the same
:func:`~harness.runner.build_request`, so RAG systems put the same retrieved passages in the
context): the reference answer (:meth:`~harness.api.items.Answer.stated`) and each choice. Numeric
and text answers follow :data:`ANSWER_PREFIX`, the line the benchmark's prompt asks numbers to be
given on; key points follow the prompt directly. Documents are the corpus the adapters were
trained on and the held-out folder no adapter saw, scored whole by ``loglikelihood_rolling``.

Every result is committed to the likelihood cache (key: system fingerprint, likelihood version,
request) and each finished item or document is appended (fsync) to ``likelihood.jsonl`` after
each call, so a killed run recomputes nothing that finished. Whole-document scores depend only on
the weights, so they are cached under the model's fingerprint: ``rag`` reuses ``vanilla``'s.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from harness.api.errors import GenerationError, HarnessError
from harness.api.items import Item
from harness.api.likelihood import LikelihoodSystem, LikelihoodUnsupported, LoglikelihoodRequest, LoglikelihoodResult, bits_per_byte
from harness.api.system import GenerationRequest
from harness.cache import LikelihoodCache, likelihood_key
from harness.runlog import LIKELIHOOD_SAMPLES, SampleWriter, iter_jsonl

log = logging.getLogger(__name__)

MODES = ("generate", "likelihood", "all")  # run --mode
ANSWER_PREFIX = "Final answer:"  # numeric and text answers are scored after it (the benchmark's prompt asks for this line)
ITEMS_PER_CALL = 16  # items per loglikelihood() call (run --batch-size overrides it); a kill loses at most one call's work
DOCUMENTS_PER_CALL = 4  # documents per loglikelihood_rolling() call


@dataclass(frozen=True)
class Document:
    kind: str  # "corpus" (adapters trained on it) or "heldout" (no adapter saw it)
    id: str  # path relative to its folder
    text: str  # the body, front matter removed


def load_documents(corpus: Path | None, heldout: Path | None) -> list[Document]:
    """Corpus and held-out document bodies, as the adapters' training reads a corpus."""
    from harness.corpus import load_corpus

    out = []
    for kind, root in (("corpus", corpus), ("heldout", heldout)):
        if root is not None and Path(root).is_dir():
            out += [Document(kind, d.path, d.body.strip()) for d in load_corpus(Path(root)).documents if d.body.strip()]
    return out


def item_requests(item: Item, request: GenerationRequest) -> list[LoglikelihoodRequest]:
    """The reference answer (id ``ITEM/ref``) then each choice (``ITEM/choice-N``), all on ``request``."""
    prefix = ANSWER_PREFIX if item.answer.type in ("numeric", "text") else ""
    out = []
    reference = item.answer.stated()
    if reference:
        out.append(LoglikelihoodRequest(f"{item.id}/ref", request, reference, answer_prefix=prefix))
    out += [LoglikelihoodRequest(f"{item.id}/choice-{n}", request, c.text, answer_prefix=prefix) for n, c in enumerate(item.choices)]
    return out


def item_row(item: Item, name: str, requests: Sequence[LoglikelihoodRequest], results: Mapping[str, LoglikelihoodResult], cached: bool) -> dict[str, Any]:
    from harness.scoring.likelihood import mc_outcome

    def scored(request: LoglikelihoodRequest) -> dict[str, Any]:
        result = results[request.id]
        return {
            "logprob": round(result.logprob, 6),
            "tokens": result.tokens,
            "bytes": len(request.continuation.encode("utf-8")),
            "bits_per_byte": _round(bits_per_byte(result.logprob, request.continuation)),
            "greedy": result.greedy,
        }

    by_id = {r.id: r for r in requests}
    reference = by_id.get(f"{item.id}/ref")
    choices = [by_id[f"{item.id}/choice-{n}"] for n in range(len(item.choices))]
    first = results[requests[0].id]
    return {
        "kind": "item",
        "id": item.id,
        "system": name,
        "category": item.category,
        "answer_type": item.answer.type,
        "reference": {"text": reference.continuation, **scored(reference)} if reference is not None else None,
        "choices": [scored(c) for c in choices] or None,
        "mc": mc_outcome(item, [results[c.id].logprob for c in choices]) if choices else None,
        "context_tokens": first.context_tokens,
        "cached": cached,
        "extra": {k: v for k, v in first.extra.items() if k not in ("attempts",)},
    }


def document_row(document: Document, name: str, result: LoglikelihoodResult, cached: bool) -> dict[str, Any]:
    return {
        "kind": document.kind,
        "id": document.id,
        "system": name,
        "logprob": round(result.logprob, 6),
        "tokens": result.tokens,
        "bytes": len(document.text.encode("utf-8")),
        "bits_per_byte": _round(bits_per_byte(result.logprob, document.text)),
        "cached": cached,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class LikelihoodPass:
    """Scores one system at a time into ``run_dir/likelihood.jsonl``."""

    def __init__(
        self, run_dir: Path, cache: LikelihoodCache | None, documents: Sequence[Document], progress: Callable[..., Any], items_per_call: int = ITEMS_PER_CALL
    ) -> None:
        self.path = Path(run_dir) / LIKELIHOOD_SAMPLES
        self.cache = cache
        self.documents = list(documents)
        self.progress = progress
        self.items_per_call = max(1, items_per_call)

    def run(self, name: str, system: Any, items: Sequence[Item], build: Callable[[Item], GenerationRequest]) -> dict[str, Any]:
        """Score ``items`` and the documents with ``system``; the ``likelihood`` entry of its run.json
        record. A system without the capability, or whose server cannot score, is skipped with one
        log line (status ``unsupported``)."""
        started = time.perf_counter()
        if not isinstance(system, LikelihoodSystem):
            log.warning("%s: no likelihood capability (loglikelihood); its likelihood measures are skipped", name)
            return {"status": "unsupported", "error": f"{type(system).__name__} does not implement loglikelihood"}
        done = {(r.get("kind"), r.get("id")) for r in iter_jsonl(self.path) if r.get("system") == name}
        todo_items = [it for it in items if ("item", it.id) not in done and (it.answer.stated() or it.choices)]
        todo_docs = [d for d in self.documents if (d.kind, d.id) not in done]
        bar = self.progress(
            total=len(items) + len(self.documents), initial=len(items) + len(self.documents) - len(todo_items) - len(todo_docs), desc=f"{name} likelihood"
        )
        writer = SampleWriter(self.path)
        counts = {"items": 0, "documents": 0, "cached_items": 0, "cached_documents": 0}
        timings: dict[str, float] = {}
        try:
            for phase, work in (
                ("items", lambda: self._items(name, system, todo_items, build, writer, bar, counts)),
                ("documents", lambda: self._documents(name, system, todo_docs, writer, bar, counts)),
            ):
                wall, cpu = time.perf_counter(), time.process_time()
                work()
                timings[f"{phase}_wall_s"] = round(time.perf_counter() - wall, 3)
                timings[f"{phase}_cpu_s"] = round(time.process_time() - cpu, 3)  # this process's CPU seconds: what the work costs on a machine it shares
        except LikelihoodUnsupported as exc:
            log.warning("%s", exc)
            return {"status": "unsupported", "error": str(exc), **counts}
        except HarnessError:
            raise
        except Exception as exc:
            raise GenerationError(f"system '{name}' failed while scoring likelihoods: {type(exc).__name__}: {exc}") from exc
        finally:
            bar.close()
            writer.close()
        return {"status": "complete", "reused_from_run_dir": len(done), **counts, **timings, "wall_s": round(time.perf_counter() - started, 3)}

    def _items(
        self, name: str, system: Any, items: Sequence[Item], build: Callable[[Item], GenerationRequest], writer: SampleWriter, bar: Any, counts: dict[str, int]
    ) -> None:
        fingerprint = dict(system.fingerprint)
        version = _version(system)
        requests = {it.id: item_requests(it, build(it)) for it in items}
        keys = {r.id: likelihood_key(fingerprint, version, r.to_dict()) for reqs in requests.values() for r in reqs}
        hits = self.cache.get_many(keys.values()) if self.cache is not None else {}
        pending: list[Item] = []
        for item in items:
            if all(keys[r.id] in hits for r in requests[item.id]):
                results = {r.id: hits[keys[r.id]] for r in requests[item.id]}
                writer.write([item_row(item, name, requests[item.id], results, cached=True)])
                counts["cached_items"] += 1
                bar.update(1)
            else:
                pending.append(item)
        pending.sort(key=lambda it: len(it.question))  # similar prompt lengths share a call
        for chunk in _chunks(pending, self.items_per_call):
            asked = [r for it in chunk for r in requests[it.id] if keys[r.id] not in hits]
            results = system.loglikelihood(asked)
            if len(results) != len(asked):
                raise GenerationError(
                    f"system '{name}' returned {len(results)} likelihoods for {len(asked)} requests; loglikelihood must answer each, in order"
                )
            fresh = {r.id: res for r, res in zip(asked, results)}
            if self.cache is not None:
                entries: dict[str, LoglikelihoodResult] = {}
                for request, result in zip(asked, results):  # a numeric key is both the reference and a choice: one key, the reference's record
                    if request.id.endswith("/ref") or keys[request.id] not in entries:
                        entries[keys[request.id]] = result if request.id.endswith("/ref") else _slim(result)
                self.cache.put_many(name, entries.items())
            rows = []
            for item in chunk:
                merged = {r.id: fresh.get(r.id) or hits[keys[r.id]] for r in requests[item.id]}
                rows.append(item_row(item, name, requests[item.id], merged, cached=False))
            writer.write(rows)
            counts["items"] += len(chunk)
            bar.update(len(chunk))

    def _documents(self, name: str, system: Any, documents: Sequence[Document], writer: SampleWriter, bar: Any, counts: dict[str, int]) -> None:
        if not documents:
            return
        fingerprint = dict(getattr(system, "model_fingerprint", system.fingerprint))
        version = _version(system)
        keys = {(d.kind, d.id): likelihood_key(fingerprint, version, {"rolling": hashlib.sha256(d.text.encode("utf-8")).hexdigest()}) for d in documents}
        hits = self.cache.get_many(keys.values()) if self.cache is not None else {}
        cached = [d for d in documents if keys[(d.kind, d.id)] in hits]
        writer.write(document_row(d, name, hits[keys[(d.kind, d.id)]], cached=True) for d in cached)
        counts["cached_documents"] += len(cached)
        bar.update(len(cached))
        pending = sorted((d for d in documents if keys[(d.kind, d.id)] not in hits), key=lambda d: len(d.text))
        for chunk in _chunks(pending, DOCUMENTS_PER_CALL):
            results = system.loglikelihood_rolling([d.text for d in chunk])
            if len(results) != len(chunk):
                raise GenerationError(f"system '{name}' returned {len(results)} rolling likelihoods for {len(chunk)} texts")
            if self.cache is not None:
                self.cache.put_many(name, [(keys[(d.kind, d.id)], res) for d, res in zip(chunk, results)])
            writer.write(document_row(d, name, res, cached=False) for d, res in zip(chunk, results))
            counts["documents"] += len(chunk)
            bar.update(len(chunk))


def _version(system: Any) -> dict[str, Any]:
    from harness.models.likelihood import LIKELIHOOD_VERSION

    return {"code": LIKELIHOOD_VERSION, **dict(getattr(system, "likelihood_fingerprint", {}) or {})}


def _slim(result: LoglikelihoodResult) -> LoglikelihoodResult:
    """What the cache keeps of a choice: its copy of the retriever's record is dropped (the reference keeps it)."""
    return LoglikelihoodResult(result.id, result.logprob, result.tokens, result.greedy, result.context_tokens)


def _chunks(values: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def read_likelihood(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``likelihood.jsonl`` (empty when it has none)."""
    return list(iter_jsonl(Path(run_dir) / LIKELIHOOD_SAMPLES))
