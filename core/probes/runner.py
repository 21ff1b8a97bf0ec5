"""Run the probes against a model and collect a scorecard.

Contract:
- :func:`run_suite` calls ``generate(messages, max_new_tokens) -> (text, reasoning)``
  once per selected probe, in catalog order, scores each reply, and returns a
  :class:`SuiteResult`. It never stops on a failing probe: an exception from
  ``generate`` (or, defensively, from a scorer) becomes a result with score 0 and
  the error text. ``on_progress(done, total, result)`` is called after each probe;
  setting ``cancel`` stops the run (a probe whose reply was cut short by it is
  dropped, not scored) and marks the result incomplete.
- :func:`engine_generator` adapts a loaded model to ``generate``: greedy decoding
  (temperature 0, no repetition penalty) so runs are repeatable; in thinking mode,
  Qwen3's recommended sampling with a fixed seed (the model card warns that greedy
  decoding loops while thinking) and ``thinking_budget`` extra tokens for the
  reasoning, so the answer gets the probe's own budget.
- A capability's score is the mean of its probes' values; ``overall`` is the mean
  of the capability scores (each capability weighs the same, whatever its size).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.context import Message
from core.probes.base import CAPABILITIES, CAPABILITY_TITLES, Probe, Score
from core.probes.catalog import select

Generate = Callable[[list[Message], int], tuple[str, str]]
PROMPT_PREVIEW = 400  # characters of each prompt kept in a result (the long-context ones are ~8k)
FORMAT_VERSION = 1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class RunConfig:
    """What was probed: model × quantization × thinking (device for the record)."""

    model: str
    quant: str = ""
    device: str = ""
    thinking: bool = False

    @property
    def label(self) -> str:
        parts = [self.model, self.quant or "?", "thinking" if self.thinking else "no thinking"]
        return " · ".join(parts)


@dataclass
class ProbeResult:
    """One probe's reply and score."""

    probe_id: str
    capability: str
    score: float
    passed: bool
    detail: str
    reply: str = ""
    reasoning: str = ""
    prompt: str = ""
    duration_s: float = 0.0
    error: str | None = None


@dataclass
class SuiteResult:
    """A whole run: configuration, per-probe results, timing."""

    config: RunConfig
    results: list[ProbeResult] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)  # the ones asked for, in CAPABILITIES order
    started_at: str = field(default_factory=_now)
    finished_at: str = ""
    duration_s: float = 0.0
    complete: bool = True
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    # --- summaries ------------------------------------------------------------------------------

    def capability_scores(self) -> dict[str, float]:
        """Mean score per capability that has results, in CAPABILITIES order."""
        scores = {}
        for capability in CAPABILITIES:
            values = [r.score for r in self.results if r.capability == capability]
            if values:
                scores[capability] = sum(values) / len(values)
        return scores

    @property
    def overall(self) -> float:
        scores = self.capability_scores()
        return sum(scores.values()) / len(scores) if scores else 0.0

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    def scorecard(self) -> list[dict[str, Any]]:
        """One row per capability: capability, title, probes, passed, score (0..1), seconds."""
        rows = []
        for capability, score in self.capability_scores().items():
            results = [r for r in self.results if r.capability == capability]
            rows.append(
                {
                    "capability": capability,
                    "title": CAPABILITY_TITLES[capability],
                    "probes": len(results),
                    "passed": sum(1 for r in results if r.passed),
                    "score": round(score, 4),
                    "seconds": round(sum(r.duration_s for r in results), 2),
                }
            )
        return rows

    # --- export ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "run_id": self.run_id,
            "config": asdict(self.config),
            "label": self.config.label,
            "capabilities": list(self.capabilities),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 3),
            "complete": self.complete,
            "overall": round(self.overall, 4),
            "passed": self.passed,
            "scorecard": self.scorecard(),
            "results": [asdict(r) for r in self.results],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteResult:
        """Rebuild from :meth:`to_dict` output (derived fields such as the scorecard are recomputed)."""
        try:
            config = RunConfig(**data["config"])
            results = [ProbeResult(**r) for r in data.get("results", [])]
            return cls(
                config=config,
                results=results,
                capabilities=list(data.get("capabilities", [])),
                started_at=str(data.get("started_at", "")),
                finished_at=str(data.get("finished_at", "")),
                duration_s=float(data.get("duration_s", 0.0)),
                complete=bool(data.get("complete", True)),
                run_id=str(data["run_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"Not a probe-suite result: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> SuiteResult:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"Not a probe-suite result: invalid JSON ({exc}).") from exc
        if not isinstance(data, dict):
            raise ValueError("Not a probe-suite result: expected a JSON object.")
        return cls.from_dict(data)

    def to_csv(self, per: str = "probe") -> str:
        """CSV text: one row per probe (``per="probe"``) or per capability (``per="capability"``)."""
        head = {"run_id": self.run_id, "model": self.config.model, "quant": self.config.quant,
                "device": self.config.device, "thinking": self.config.thinking}  # fmt: skip
        if per == "capability":
            rows = [{**head, **row} for row in self.scorecard()]
            columns = [*head, "capability", "title", "probes", "passed", "score", "seconds"]
        elif per == "probe":
            rows = [
                {
                    **head,
                    "capability": r.capability,
                    "probe_id": r.probe_id,
                    "score": round(r.score, 4),
                    "passed": r.passed,
                    "detail": r.detail,
                    "duration_s": round(r.duration_s, 3),
                    "error": r.error or "",
                    "reply": r.reply,
                }  # fmt: skip
                for r in self.results
            ]
            columns = [*head, "capability", "probe_id", "score", "passed", "detail", "duration_s", "error", "reply"]
        else:
            raise ValueError("per must be 'probe' or 'capability'.")
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()


def compare(runs: Sequence[SuiteResult]) -> list[dict[str, Any]]:
    """Capability rows with one score column per run (keyed ``"<label> [<run_id>]"``), plus an overall row.

    A capability a run did not probe has ``None`` in that run's column; a run given twice appears once.
    """
    unique: dict[str, SuiteResult] = {}
    for run in runs:
        unique.setdefault(run.run_id, run)
    runs = list(unique.values())
    keys = [f"{run.config.label} [{run.run_id}]" for run in runs]
    scores = [run.capability_scores() for run in runs]
    present = [c for c in CAPABILITIES if any(c in s for s in scores)]
    rows = [
        {"capability": c, **{k: (round(s[c], 4) if c in s else None) for k, s in zip(keys, scores, strict=True)}}
        for c in present
    ]
    rows.append({"capability": "overall", **{k: round(r.overall, 4) for k, r in zip(keys, runs, strict=True)}})
    return rows


def _score_safely(probe: Probe, text: str, reasoning: str) -> Score:
    try:
        return probe.scorer(text, reasoning)
    except Exception as exc:  # noqa: BLE001 - a scorer bug must not lose the run
        return Score(0.0, False, f"scorer error: {type(exc).__name__}: {str(exc)[:200]}")


def run_suite(
    generate: Generate,
    *,
    only: str | Iterable[str] | None = None,
    probes: Sequence[Probe] | None = None,
    config: RunConfig | None = None,
    on_progress: Callable[[int, int, ProbeResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> SuiteResult:
    """Run ``probes`` (default: the catalog filtered by ``only``) through ``generate`` and score them."""
    selected = list(probes) if probes is not None else select(only)
    wanted = {p.capability for p in selected}
    suite = SuiteResult(config=config or RunConfig(model="unknown"),
                        capabilities=[c for c in CAPABILITIES if c in wanted])  # fmt: skip
    started = time.perf_counter()
    for index, probe in enumerate(selected):
        if cancel is not None and cancel.is_set():
            suite.complete = False
            break
        t0 = time.perf_counter()
        error = None
        text = reasoning = ""
        try:
            text, reasoning = generate(probe.conversation(), probe.max_new_tokens)
        except Exception as exc:  # noqa: BLE001 - recorded on the probe; the run goes on
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        duration = time.perf_counter() - t0
        if cancel is not None and cancel.is_set():  # a reply cut short by the cancel is not scored
            suite.complete = False
            break
        if error is None:
            score = _score_safely(probe, text or "", reasoning or "")
        else:
            score = Score(0.0, False, f"generation failed: {error}")
        result = ProbeResult(
            probe_id=probe.id, capability=probe.capability, score=score.value, passed=score.passed,
            detail=score.detail, reply=text or "", reasoning=reasoning or "", prompt=probe.prompt[:PROMPT_PREVIEW],
            duration_s=round(duration, 3), error=error,
        )  # fmt: skip
        suite.results.append(result)
        if on_progress is not None:
            on_progress(index + 1, len(selected), result)
    suite.duration_s = time.perf_counter() - started
    suite.finished_at = _now()
    return suite


# --- the real model ----------------------------------------------------------------------------------


def engine_generator(
    loaded: Any, thinking: bool = False, *, thinking_budget: int = 1024, cancel: threading.Event | None = None
) -> Generate:
    """``generate`` for :func:`run_suite` backed by :func:`core.engine.complete` on ``loaded``.

    ``cancel`` stops a reply within one token (pass the same event to :func:`run_suite`).
    """
    from core.engine import complete
    from core.params import GenerationParams, recommended_params

    thinking = bool(thinking and loaded.supports_thinking)
    if thinking:
        base = recommended_params(loaded.family, True, loaded.generation_defaults).with_(seed=0)
    else:
        base = GenerationParams(temperature=0.0, repetition_penalty=1.0)

    def generate(messages: list[Message], max_new_tokens: int) -> tuple[str, str]:
        budget = max_new_tokens + (thinking_budget if thinking else 0)
        reply = complete(loaded, messages, base.with_(max_new_tokens=budget), thinking=thinking, cancel=cancel)
        return reply.text, reply.reasoning

    return generate


def run_loaded(
    loaded: Any,
    thinking: bool = False,
    *,
    only: str | Iterable[str] | None = None,
    on_progress: Callable[[int, int, ProbeResult], None] | None = None,
    cancel: threading.Event | None = None,
    thinking_budget: int = 1024,
) -> SuiteResult:
    """Run the suite on a loaded model; the config is taken from it (thinking only if it supports it)."""
    config = RunConfig(
        model=loaded.name, quant=loaded.quant, device=loaded.device,
        thinking=bool(thinking and loaded.supports_thinking),
    )  # fmt: skip
    generate = engine_generator(loaded, thinking, thinking_budget=thinking_budget, cancel=cancel)
    return run_suite(generate, only=only, config=config, on_progress=on_progress, cancel=cancel)
