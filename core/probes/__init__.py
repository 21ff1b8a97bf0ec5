"""The capability probe suite: does a model do what its model card claims?

Nine capabilities (:data:`CAPABILITIES`), each checked by a handful of short
probes whose replies are scored by code (no judge model). Run it on a loaded
model with :func:`run_loaded`, or on any ``generate(messages, max_new_tokens) ->
(text, reasoning)`` with :func:`run_suite`; save and compare runs with
:class:`ProbeStore`. Command line: ``python -m core.probes --help``.
See docs/PROBES.md for what each probe checks and how it is scored.
"""

from __future__ import annotations

from core.probes.base import CAPABILITIES, CAPABILITY_TITLES, Probe, Score, Scorer
from core.probes.catalog import PROBES, counts, parse_capabilities, select
from core.probes.runner import (
    Generate,
    ProbeResult,
    RunConfig,
    SuiteResult,
    compare,
    engine_generator,
    run_loaded,
    run_suite,
)
from core.probes.sandbox import SandboxLimits, SandboxResult, run_python
from core.probes.store import ProbeStore, ProbeStoreError, RunNotFoundError, RunSummary

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_TITLES",
    "PROBES",
    "Generate",
    "Probe",
    "ProbeResult",
    "ProbeStore",
    "ProbeStoreError",
    "RunConfig",
    "RunNotFoundError",
    "RunSummary",
    "SandboxLimits",
    "SandboxResult",
    "Score",
    "Scorer",
    "SuiteResult",
    "compare",
    "counts",
    "engine_generator",
    "parse_capabilities",
    "run_loaded",
    "run_python",
    "run_suite",
    "select",
]
