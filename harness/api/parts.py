"""The parts a system is composed of, besides its model: an adapter and a retriever.

    [systems.rag+teacher]                  # python -m harness run --system-config FILE --systems rag+teacher
    model = "gemma3-270m"
    adapter = "adapters/shipped/teacher"   # -> an Adapter part (entry-point group harness.adapters)
    retriever = { k = 4 }                  # -> a Retriever part (entry-point group harness.retrievers)

Parts come from installed entry points, like systems: the core never imports the packages that
provide them. A part factory takes the TOML table's keys as keyword arguments (``plugin`` picks
the entry point and is not passed on) and raises :class:`~harness.api.errors.ConfigError` naming
the bad key. Standard library only.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from harness.api.system import GenerationRequest

ADAPTER_GROUP = "harness.adapters"  # entry points: name -> factory(**options) -> Adapter
RETRIEVER_GROUP = "harness.retrievers"  # entry points: name -> factory(**options) -> Retriever
DEFAULT_ADAPTER = "peft"  # the adapter plugin used when a table names none
DEFAULT_RETRIEVER = "faiss"  # the retriever plugin used when a table names none


@runtime_checkable
class Adapter(Protocol):
    """Weights applied on top of a local base model, checked against their provenance."""

    @property
    def base_model(self) -> str | None:
        """The base model the adapter was trained for (None when it does not say)."""
        ...

    def fingerprint(self, model: str) -> Mapping[str, Any]:
        """The adapter's identity after checking it fits ``model`` (raises ArtifactError when
        it is missing, corrupt, stale or for another base model)."""
        ...

    def apply(self, model: Any) -> Any:
        """The model to generate with (e.g. the adapter merged into ``model``)."""
        ...


@runtime_checkable
class Retriever(Protocol):
    """Rewrites requests before generation (passages put in the prompt) and records what it did."""

    def fingerprint(self) -> Mapping[str, Any]:
        """Everything that changes the rewritten prompts (index hash, k, prompt template)."""
        ...

    def prepare(self, requests: Sequence[GenerationRequest]) -> tuple[list[GenerationRequest], list[dict[str, Any]]]:
        """The rewritten requests and, per request, an ``extra`` dict merged into its result
        (``{"retrieved": [{"anchor", "score", ...}, ...]}`` feeds the retrieval metrics)."""
        ...

    # Optional, as for systems (harness.api.system.Selective): ``not_applicable(requests)`` ->
    # ``{request id: reason}`` for the requests it cannot prepare (an oracle without gold passages).

    def close(self) -> None: ...
