"""Trace entries: one record per guardrail decision.

Contract: every rail returns exactly one :class:`TraceEntry` per text it looks
at, whatever happens (a verdict, a skip with its reason, or an error with its
message). ``latency_ms`` is wall time of that rail on that text.
:func:`combine` folds several entries into one overall verdict: ``block`` beats
``warn`` beats ``allow``; ``skipped`` and ``error`` entries do not vote.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Iterable, Literal

Verdict = Literal["allow", "warn", "block", "skipped", "error"]
Action = Literal["allow", "warn", "block"]

VERDICTS: tuple[str, ...] = ("allow", "warn", "block", "skipped", "error")
_RANK = {"allow": 0, "warn": 1, "block": 2}


@dataclass(frozen=True)
class TraceEntry:
    """What one rail decided about one text.

    ``rail``: "rules" | "semantic" | "self-check" | "guard" | "output" | "pii" (or a custom name).
    ``category``: a policy category id, or None when nothing was flagged.
    ``score``: the rail's number when it has one: a confidence in [0, 1] for
    rules and generated verdicts; for the scoring self-check the log-probability
    margin log P(unsafe) - log P(safe) in nats (any real number); for the
    semantic rail the SVM decision value (any real number).
    ``threshold``: the score at or above which the rail votes its category's
    action (the scoring self-check, the semantic rail); None for rails without one.
    ``rule``: the matched rule id / raw model label that explains the verdict.
    ``note``: free text for skips, errors, fallbacks.
    """

    rail: str
    verdict: Verdict
    category: str | None = None
    score: float | None = None
    rule: str | None = None
    latency_ms: float = 0.0
    note: str = ""
    threshold: float | None = None

    def with_latency(self, latency_ms: float) -> "TraceEntry":
        return replace(self, latency_ms=round(latency_ms, 4))

    def to_dict(self) -> dict:
        return asdict(self)


def strictest(actions: Iterable[str]) -> Action:
    """The strictest of ``actions`` (block > warn > allow); "allow" for none.

    Values that are not actions (skipped, error) are ignored.
    """
    best: Action = "allow"
    for action in actions:
        if action in _RANK and _RANK[action] > _RANK[best]:
            best = action  # type: ignore[assignment]
    return best


def combine(entries: Iterable[TraceEntry]) -> Action:
    """Overall verdict of several rails: the strictest voting verdict."""
    return strictest(e.verdict for e in entries)


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.ms`` is the elapsed milliseconds."""

    def __enter__(self) -> "Stopwatch":
        self._t0 = time.perf_counter()
        self.ms = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self._t0) * 1000.0
