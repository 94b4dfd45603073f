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
from typing import Any, Iterator, Mapping, Sequence

from harness.api.errors import ConfigError, GenerationError
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
        c = self.config
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                data = self._post(request)
                break
            except _Retryable as exc:
                if attempt > c.max_retries:
                    raise GenerationError(
                        f"{self.name}: request {request.id!r} to {c.base_url} failed after {attempt} attempts ({exc}); "
                        "finished answers are kept, rerun when the server is up to resume"
                    ) from None
                wait_s = exc.wait_s if exc.wait_s is not None else min(c.max_backoff_s, c.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
                log.info("%s: %s; retry %d/%d in %.1f s", self.name, exc, attempt, c.max_retries, wait_s)
                if cancel.wait(min(wait_s, c.max_backoff_s)):
                    raise GenerationError(f"{self.name}: request {request.id!r} cancelled after {attempt} attempts (another request failed)") from None
        return self._result(request, data, time.perf_counter() - started, attempt)

    def _post(self, request: GenerationRequest) -> Mapping[str, Any]:
        import httpx

        body: dict[str, Any] = {"model": self.config.model, "max_tokens": request.max_new_tokens, "temperature": request.temperature, "seed": request.seed}
        if request.stop:
            body["stop"] = list(request.stop)
        if request.messages is not None:
            path, body["messages"] = "chat/completions", [m.to_dict() for m in request.messages]
        else:
            path, body["prompt"] = "completions", request.prompt
        body.update(self.config.extra_body or {})
        try:
            response = self.client().post(path, json=body)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code in RETRY_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response.headers.get("retry-after")))
        if response.status_code >= 400:
            raise GenerationError(
                f"{self.name}: {self.config.base_url}/{path} answered HTTP {response.status_code} for request {request.id!r}: "
                f"{response.text[:300]}; check base_url, model and the API key in ${self.config.api_key_env}"
            )
        try:
            return dict(response.json())
        except ValueError:
            raise _Retryable(f"unparseable JSON body ({response.text[:80]!r})") from None

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
