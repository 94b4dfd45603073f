"""The one error hierarchy of the harness.

Every failure a user can cause (bad file, unknown name, stale artefact) raises a subclass of
:class:`HarnessError`. The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``
(2 for bad input), never a traceback. Messages follow one shape: what failed, the value seen, and
the fix -- e.g. ``items.jsonl:12: answer.unit: cannot parse 'nss'; use a pint unit such as 'ns'``.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2


class ConfigError(HarnessError):
    """A config file, CLI flag or ``--set key=value`` is unknown or out of range."""


class DataError(HarnessError):
    """A benchmark, corpus or run-log file is malformed or empty."""


class UnknownSystemError(HarnessError):
    """A system name that no installed entry point provides."""


class PluginLoadError(HarnessError):
    """An installed plugin's entry point raised on import or returned something unusable."""


class ModelSourceError(HarnessError):
    """A model name that cannot be resolved to weights here (missing package, offline hub...)."""


class ArtifactError(HarnessError):
    """A stored artefact (index, adapter, cache, safetensors) is corrupt, stale or mismatched."""


class GenerationError(HarnessError):
    """A system failed while generating; completed items are kept."""

    exit_code = 1


class RegressionDetected(HarnessError):
    """The CI gate found a significant regression against the baseline."""

    exit_code = 1
