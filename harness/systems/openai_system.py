"""The ``openai`` system: any OpenAI-compatible endpoint (vLLM, TGI, llama.cpp server,
``transformers serve``) answers the benchmark.

    python -m harness run --systems smollm-served --system-config served.toml

    # served.toml
    [systems.smollm-served]
    base = "openai"
    base_url = "http://127.0.0.1:8000/v1"
    model = "HuggingFaceTB/SmolLM2-135M-Instruct"   # the name the server knows
    concurrency = 8

Chat requests go to ``/chat/completions``, plain prompts to ``/completions``. Up to
``concurrency`` requests are in flight; 429, 5xx, timeouts and connection errors are retried with
exponential backoff (honouring ``Retry-After``), so a server that restarts within the retry
window loses no item. Other errors (401, 404 for an unknown model, ...) fail at once with the
server's message. Answers stream back to the runner as they finish (:meth:`generate_stream`), so
a run killed or failed mid-way keeps every finished answer and a rerun resumes.

Each result records the server's ``usage`` token counts, the request's wall latency (all tries)
and ``extra = {"attempts": n, "served_model": ...}``. The fingerprint holds the model name, base
URL and the optional ``revision``: the cache cannot see which weights a server holds, so bump
``revision`` when they change.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterator, Mapping, Sequence

from harness.api.errors import ConfigError, GenerationError
from harness.api.likelihood import LikelihoodUnsupported, LoglikelihoodRequest, LoglikelihoodResult, joined
from harness.api.system import GenerationRequest, GenerationResult, in_order

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})  # transient HTTP statuses worth retrying
IGNORED_OPTIONS = ("batch_size", "dtype", "device")  # run-wide options that mean nothing to a remote server


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str  # endpoint root including /v1, e.g. http://127.0.0.1:8000/v1
    model: str  # model name as the server knows it (vLLM: a base or --lora-modules name)
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the key; unset = no auth header
    concurrency: int = 8  # requests in flight at once
    timeout_s: float = 120.0  # per-request timeout, seconds (connect + read)
    max_retries: int = 6  # retries per request on 429/5xx/timeouts/connection errors
    backoff_s: float = 1.0  # first retry wait, seconds; doubles per retry, with +-25 % jitter
    max_backoff_s: float = 30.0  # cap on one retry wait, seconds
    revision: str | None = None  # free text put in the fingerprint (e.g. the served weights' hash)
    extra_body: Mapping[str, Any] | None = None  # fields added to every request body (e.g. {"top_k": 1})
    tokenizer: str | None = None  # likelihood: local model (packaged name, folder, hub id) whose chat template renders chat contexts; None = plain prompts only

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url: {self.base_url!r} is not an http(s) URL; use e.g. http://127.0.0.1:8000/v1")
        if not self.model:
            raise ConfigError("model: empty; give the model name the server serves (GET {base_url}/models lists them)")
        if not 1 <= self.concurrency <= 256:
            raise ConfigError(f"concurrency: {self.concurrency} is out of range; use 1..256")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s: {self.timeout_s} must be > 0 seconds")
        if not 0 <= self.max_retries <= 100:
            raise ConfigError(f"max_retries: {self.max_retries} is out of range; use 0..100")
        if self.backoff_s < 0 or self.max_backoff_s < self.backoff_s:
            raise ConfigError(f"backoff_s/max_backoff_s: need 0 <= backoff_s ({self.backoff_s}) <= max_backoff_s ({self.max_backoff_s})")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> OpenAIConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known - set(IGNORED_OPTIONS))
        if unknown:
            raise ConfigError(f"openai system: unknown option {unknown[0]!r}; valid options: {', '.join(sorted(known))}")
        for required in ("base_url", "model"):
            if required not in options:
                raise ConfigError(f'openai system: missing option {required!r}; define the system in TOML with base = "openai", base_url and model')
        return cls(**{k: v for k, v in options.items() if k in known})


class _Retryable(Exception):
    """A transient failure; ``wait_s`` is the server's Retry-After, if any."""

    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class OpenAISystem:
    description = "any OpenAI-compatible endpoint (vLLM, TGI, llama.cpp server, transformers serve)"

    def __init__(self, name: str, config: OpenAIConfig) -> None:
        self.name = name
        self.config = config
        self._client: Any = None
        self._lock = threading.Lock()
        self._logprob_mode: str | None = None  # the first of served_logprobs.MODES the server answered
        self._chat_tokenizer: Any = None

    @property
    def fingerprint(self) -> Mapping[str, Any]:
        c = self.config
        return {
            "class": type(self).__name__,
            "model": c.model,
            "base_url": c.base_url.rstrip("/"),
            "revision": c.revision,
            "extra_body": dict(c.extra_body or {}),
        }

    @property
    def model_fingerprint(self) -> Mapping[str, Any]:
        return self.fingerprint

    @property
    def likelihood_fingerprint(self) -> Mapping[str, Any]:
        return {"tokenizer": self.config.tokenizer}

    # -- transport ------------------------------------------------------------------------------
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                headers = {"Content-Type": "application/json"}
                key = os.environ.get(self.config.api_key_env, "") if self.config.api_key_env else ""
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                limits = httpx.Limits(max_connections=self.config.concurrency, max_keepalive_connections=self.config.concurrency)
                self._client = httpx.Client(base_url=self.config.base_url.rstrip("/") + "/", headers=headers, timeout=self.config.timeout_s, limits=limits)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- generation -----------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        return in_order(self.generate_stream(requests), len(requests))

    def generate_stream(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Yield ``(index, result)`` as each request finishes; the first request that fails for
        good cancels the ones not yet started and raises :class:`GenerationError`."""
        if not requests:
            return
        pool = ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix=f"{self.name}-http")
        cancel = threading.Event()  # set on failure or interrupt: retrying workers give up at once
        futures: dict[Future[GenerationResult], int] = {pool.submit(self._one, r, cancel): i for i, r in enumerate(requests)}
        try:
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                batch = []
                for future in done:
                    batch.append((futures[future], future.result()))  # re-raises the request's error
                yield sorted(batch, key=lambda pair: pair[0])
        finally:
            cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _one(self, request: GenerationRequest, cancel: threading.Event) -> GenerationResult:
        started = time.perf_counter()
        data, attempts = self._retrying(lambda: self._post(request), request.id, cancel)
        return self._result(request, data, time.perf_counter() - started, attempts)

    def _retrying(self, call: Callable[[], Mapping[str, Any]], label: str, cancel: threading.Event) -> tuple[Mapping[str, Any], int]:
        """``call()`` retried with backoff on transient failures; (its data, attempts made)."""
        c = self.config
        attempt = 0
        while True:
            attempt += 1
            try:
                return call(), attempt
            except _Retryable as exc:
                if attempt > c.max_retries:
                    raise GenerationError(
                        f"{self.name}: request {label!r} to {c.base_url} failed after {attempt} attempts ({exc}); "
                        "finished answers are kept, rerun when the server is up to resume"
                    ) from None
                wait_s = exc.wait_s if exc.wait_s is not None else min(c.max_backoff_s, c.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
                log.info("%s: %s; retry %d/%d in %.1f s", self.name, exc, attempt, c.max_retries, wait_s)
                if cancel.wait(min(wait_s, c.max_backoff_s)):
                    raise GenerationError(f"{self.name}: request {label!r} cancelled after {attempt} attempts (another request failed)") from None

    def _post(self, request: GenerationRequest) -> Mapping[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "max_tokens": request.max_new_tokens, "temperature": request.temperature, "seed": request.seed}
        if request.stop:
            body["stop"] = list(request.stop)
        if request.messages is not None:
            path, body["messages"] = "chat/completions", [m.to_dict() for m in request.messages]
        else:
            path, body["prompt"] = "completions", request.prompt
        body.update(self.config.extra_body or {})
        return self._send(path, body, request.id)

    def _send(self, path: str, body: Mapping[str, Any], label: str, refused: Callable[[int, str], Exception | None] | None = None) -> Mapping[str, Any]:
        """POST ``body``; transient failures raise :class:`_Retryable`, others :class:`GenerationError`
        (or what ``refused(status, text)`` returns for a client error it recognises)."""
        import httpx

        try:
            response = self.client().post(path, json=body)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code in RETRY_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response.headers.get("retry-after")))
        if response.status_code >= 400:
            special = refused(response.status_code, response.text) if refused is not None else None
            if special is not None:
                raise special
            raise GenerationError(
                f"{self.name}: {self.config.base_url}/{path} answered HTTP {response.status_code} for request {label!r}: "
                f"{response.text[:300]}; check base_url, model and the API key in ${self.config.api_key_env}"
            )
        try:
            return dict(response.json())
        except ValueError:
            raise _Retryable(f"unparseable JSON body ({response.text[:80]!r})") from None

    # -- likelihood -----------------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Through ``/completions``: the server echoes the prompt's log-probs (``echo`` +
        ``logprobs``, or vLLM's ``prompt_logprobs``); :class:`LikelihoodUnsupported` when it
        returns neither, or for chat prompts without a ``tokenizer`` to render them."""
        pairs = [joined(self._context(r.request), r.answer_prefix, r.continuation) for r in requests]
        moved = []
        for context, continuation in pairs:  # trailing whitespace of the context belongs to the continuation
            spaces = len(context) - len(context.rstrip())
            moved.append((context[: len(context) - spaces], context[len(context) - spaces :] + continuation))
        return self._parallel([(r.id, ctx + cont, cont) for r, (ctx, cont) in zip(requests, moved)])

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[LoglikelihoodResult]:
        """Each text in one request: the server's own length limit applies (no windows)."""
        return self._parallel([(str(i), text, None) for i, text in enumerate(texts)])

    def _context(self, request: GenerationRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        if self.config.tokenizer is None:
            raise LikelihoodUnsupported(
                f"{self.name}: likelihood of chat prompts needs the served model's chat template; "
                'set tokenizer = <packaged name, folder or hub id> in the system\'s table (or use prompt = "plain")'
            )
        with self._lock:
            if self._chat_tokenizer is None:
                from harness.models.loading import load_tokenizer
                from harness.models.sources import resolve

                self._chat_tokenizer = load_tokenizer(resolve(self.config.tokenizer))
        from harness.models.generation import render_prompt

        return render_prompt(self._chat_tokenizer, request)

    def _parallel(self, jobs: list[tuple[str, str, str | None]]) -> list[LoglikelihoodResult]:
        """``(id, text, continuation)`` scored ``concurrency`` at a time; continuation None = the whole text."""
        if not jobs:
            return []
        cancel = threading.Event()
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix=f"{self.name}-logprobs") as pool:
            futures = [pool.submit(self._score, label, text, continuation, cancel) for label, text, continuation in jobs]
            try:
                return [f.result() for f in futures]
            finally:
                cancel.set()

    def _score(self, label: str, text: str, continuation: str | None, cancel: threading.Event) -> LoglikelihoodResult:
        from harness.systems import served_logprobs as served

        modes = [self._logprob_mode] if self._logprob_mode else list(served.MODES)
        for mode in modes:
            body = {**served.request_body(mode, self.config.model, text), **(self.config.extra_body or {})}
            refused = lambda status, _text: _NoLogprobs() if status in (400, 404, 422, 501) else None
            try:
                data, attempts = self._retrying(lambda: self._send("completions", body, label, refused), label, cancel)
            except _NoLogprobs:
                continue
            tokens = served.prompt_tokens(mode, data, text)
            if tokens is None:
                continue
            self._logprob_mode = mode
            extra = {"attempts": attempts, "served_model": data.get("model"), "logprobs": mode}
            if continuation is None:
                scored = [t for t in tokens if t.logprob is not None]
                return LoglikelihoodResult(label, sum(float(t.logprob or 0.0) for t in scored), len(scored), all(t.greedy for t in scored), 0, extra)
            split = served.split_continuation(tokens, continuation)
            if split is None:
                raise GenerationError(f"{self.name}: request {label!r}: no served token lies inside the continuation {continuation!r}")
            taken, context_tokens = split
            return LoglikelihoodResult(label, sum(float(t.logprob or 0.0) for t in taken), len(taken), all(t.greedy for t in taken), context_tokens, extra)
        raise LikelihoodUnsupported(
            f"{self.name}: {self.config.base_url}/completions returns no prompt log-probs (tried echo + logprobs and vLLM prompt_logprobs); "
            "likelihood needs a server that does, such as vLLM"
        )

    @staticmethod
    def _result(request: GenerationRequest, data: Mapping[str, Any], latency_s: float, attempts: int) -> GenerationResult:
        from harness.models.generation import cut_at_stop

        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if "message" in choice else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise GenerationError(f"request {request.id!r}: response has no choices[0].message.content or .text: {str(data)[:200]}") from None
        text, _ = cut_at_stop(text or "", request.stop)
        usage = data.get("usage") or {}
        return GenerationResult(
            id=request.id,
            text=text.strip(),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            latency_s=latency_s,
            finish_reason=str(choice.get("finish_reason") or "stop"),
            extra={"attempts": attempts, "served_model": data.get("model")},
        )


class _NoLogprobs(Exception):
    """The server refused a log-probs request shape (HTTP 400/404/422/501): try the next one."""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only; dates are ignored)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def openai(**options: Any) -> OpenAISystem:
    """An OpenAI-compatible endpoint; options are the fields of :class:`OpenAIConfig`."""
    name = str(options.pop("name", "openai"))
    return OpenAISystem(name, OpenAIConfig.from_options(options))


openai.description = OpenAISystem.description  # type: ignore[attr-defined]
openai.include_in_all = False  # type: ignore[attr-defined]  # needs a base_url: define it in TOML
