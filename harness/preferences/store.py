"""The vote log: ``RUN_DIR/preferences.jsonl`` (human raters) and ``judge_preferences.jsonl``
(automatic judges), one JSON object per line, appended and fsynced as each vote is cast.

    {"schema": "raq-harness/preference", "schema_version": 1, "rater": "alice", "item": "st-r-001",
     "system_a": "lora", "system_b": "lora-kd", "choice": "b", "winner": "lora-kd",
     "flags": {"lora": ["unit_error"]}, "timestamp": "2025-01-01T12:00:00+00:00", "source": "human"}

``system_a``/``system_b`` are the systems in the order the rater saw them (A left, B right);
``choice`` is one of :data:`CHOICES`. A ``skip`` is logged too, so a rater is not shown the same
pair again. A killed writer leaves at most a truncated last line: it is ignored on read and
dropped before the next append. If a rater votes twice on the same comparison, the last vote
counts (:func:`latest_votes`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.api.errors import DataError
from harness.runlog import iter_jsonl, repair_tail

PREFERENCES = "preferences.jsonl"
JUDGE_PREFERENCES = "judge_preferences.jsonl"
SCHEMA = "raq-harness/preference"
SCHEMA_VERSION = 1

#: a / b: that side is better; tie: equally good; both_wrong: neither is acceptable;
#: skip: the rater passed (not a preference); invalid: a judge reply that could not be parsed.
CHOICES = ("a", "b", "tie", "both_wrong", "skip", "invalid")
#: Per-answer marks a rater may add to any vote.
FLAGS = ("refused", "unit_error")
#: Human rater names as typed on the page or --rater (they appear in URLs and reports); judges
#: are logged as ``judge:<system>``, which no human name can collide with.
RATER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def check_rater(name: str) -> str:
    if not RATER_NAME.match(name or ""):
        raise DataError(f"rater name {name!r} is not allowed; use 1-40 letters, digits, '_', '.' or '-' starting with a letter or digit (e.g. 'alice')")
    return name


@dataclass(frozen=True)
class Vote:
    """One rater's verdict on one comparison (item, pair of systems)."""

    rater: str
    item: str
    system_a: str  # shown on the left as "A"
    system_b: str  # shown on the right as "B"
    choice: str  # one of CHOICES
    timestamp: str = ""  # ISO 8601, UTC
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # system -> subset of FLAGS
    source: str = "human"  # "human" or "judge"
    details: Mapping[str, Any] = field(default_factory=dict)  # judge: raw replies per order, fingerprint

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ValueError(f"choice must be one of {', '.join(CHOICES)}; got {self.choice!r}")
        if self.system_a == self.system_b:
            raise ValueError(f"a comparison needs two different systems; got {self.system_a!r} twice")
        for system, marks in self.flags.items():
            if system not in (self.system_a, self.system_b):
                raise ValueError(f"flag for {system!r}, which is not one of the compared systems")
            bad = sorted(set(marks) - set(FLAGS))
            if bad:
                raise ValueError(f"unknown flag {bad[0]!r}; allowed: {', '.join(FLAGS)}")

    @property
    def pair(self) -> tuple[str, str]:
        """The two systems in sorted order: the comparison's identity whatever the sides."""
        return (self.system_a, self.system_b) if self.system_a < self.system_b else (self.system_b, self.system_a)

    @property
    def task(self) -> tuple[str, str, str]:
        return (self.item, *self.pair)

    @property
    def winner(self) -> str | None:
        return self.system_a if self.choice == "a" else self.system_b if self.choice == "b" else None

    @property
    def is_preference(self) -> bool:
        """True for votes that say something about the pair (not skip / invalid)."""
        return self.choice in ("a", "b", "tie", "both_wrong")

    @property
    def outcome(self) -> str:
        """The verdict relative to :attr:`pair`: ``first``/``second`` (that system won), ``tie``,
        ``both_wrong``, ``skip`` or ``invalid`` -- comparable across raters who saw other sides."""
        winner = self.winner
        if winner is None:
            return self.choice
        return "first" if winner == self.pair[0] else "second"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "rater": self.rater,
            "item": self.item,
            "system_a": self.system_a,
            "system_b": self.system_b,
            "choice": self.choice,
            "winner": self.winner,
            "flags": {k: list(v) for k, v in self.flags.items() if v},
            "timestamp": self.timestamp,
            "source": self.source,
        }
        if self.details:
            data["details"] = dict(self.details)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Vote":
        if int(data.get("schema_version", 1)) > SCHEMA_VERSION:
            raise ValueError(f"schema_version {data.get('schema_version')} is newer than this harness understands ({SCHEMA_VERSION}); upgrade raq-harness")
        missing = [k for k in ("rater", "item", "system_a", "system_b", "choice") if k not in data]
        if missing:
            raise ValueError(f"missing field {missing[0]!r}")
        return cls(
            rater=str(data["rater"]),
            item=str(data["item"]),
            system_a=str(data["system_a"]),
            system_b=str(data["system_b"]),
            choice=str(data["choice"]),
            timestamp=str(data.get("timestamp", "")),
            flags={str(k): tuple(v) for k, v in (data.get("flags") or {}).items()},
            source=str(data.get("source", "human")),
            details=dict(data.get("details") or {}),
        )


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_votes(path: Path) -> list[Vote]:
    """Every vote in file order; a truncated last line is ignored, any other bad record is a
    :class:`DataError` naming the file and the record."""
    votes = []
    for number, data in enumerate(iter_jsonl(Path(path)), start=1):
        try:
            votes.append(Vote.from_dict(data))
        except (ValueError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}: record {number}: {exc}; fix or delete that line") from None
    return votes


def latest_votes(votes: Iterable[Vote]) -> list[Vote]:
    """One vote per (rater, comparison): the last one cast, in order of first appearance."""
    latest: dict[tuple[str, str, str, str], Vote] = {}
    for vote in votes:
        latest[(vote.rater, *vote.task)] = vote
    return list(latest.values())


class VoteStore:
    """Append-only, durable vote file shared by the threads of one rating server."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._votes = read_votes(self.path)
        repair_tail(self.path)

    def votes(self) -> list[Vote]:
        with self._lock:
            return list(self._votes)

    def append(self, vote: Vote) -> None:
        line = json.dumps(vote.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            self._votes.append(vote)
