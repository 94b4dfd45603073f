"""Contracts of the harness: the System protocol, request/result dataclasses, item schema, errors.

Standard library only, so anything may import it cheaply.
"""

from __future__ import annotations

from harness.api.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    GenerationError,
    HarnessError,
    ModelSourceError,
    PluginLoadError,
    RegressionDetected,
    UnknownSystemError,
)
from harness.api.items import ANSWER_TYPES, REFUSAL_PROBE, Answer, Item, parse_answer, parse_item
from harness.api.likelihood import LikelihoodSystem, LikelihoodUnsupported, LoglikelihoodRequest, LoglikelihoodResult
from harness.api.system import NOT_APPLICABLE, ChatMessage, Closeable, GenerationRequest, GenerationResult, Selective, StreamingSystem, System

__all__ = [
    "ANSWER_TYPES",
    "Answer",
    "ArtifactError",
    "ChatMessage",
    "Closeable",
    "ConfigError",
    "DataError",
    "GenerationError",
    "GenerationRequest",
    "GenerationResult",
    "HarnessError",
    "Item",
    "LikelihoodSystem",
    "LikelihoodUnsupported",
    "LoglikelihoodRequest",
    "LoglikelihoodResult",
    "ModelSourceError",
    "NOT_APPLICABLE",
    "PluginLoadError",
    "REFUSAL_PROBE",
    "RegressionDetected",
    "Selective",
    "StreamingSystem",
    "System",
    "UnknownSystemError",
    "parse_answer",
    "parse_item",
]
