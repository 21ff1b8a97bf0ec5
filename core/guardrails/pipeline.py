"""The guardrail pipeline: runs the chosen input rails and combines their verdicts.

Contract:
- ``GuardrailPipeline(policy, rails={"rules", "semantic", "probe", "self-check", "guard"}, ...)``;
  rails always run in the order rules -> semantic -> probe -> self-check ->
  guard, each producing exactly one trace entry.
- :meth:`GuardrailPipeline.check_input` never raises because of a rail: an
  exception inside a rail becomes a trace entry with verdict "error" (it
  counts as ``settings.on_rail_error`` in the combined verdict). A rail that
  cannot run (no generator, no guard model) is "skipped" with the reason.
- The combined verdict is the strictest voting verdict; the deciding rail and
  category are those of the first entry with that verdict.
- The semantic rail (``core.guardrails.semantic``) is trained on first use
  when none is given (seconds, once per process), and the probe rail
  (``core.guardrails.probe``) loads its probe and model on first use; when
  either cannot be built (no embedding model, no probe model) it is "skipped"
  with the reason, and building is not retried on every prompt.
- ``short_circuit=True`` skips the remaining (slow, model-based) rails once
  one has blocked; they are recorded as "skipped".

How rules and self-check combine (docs/GUARDRAILS.md, "Combining the rails"):
rules run first and decide when they block. The self-check is consulted on
what the rules allowed or warned about; in score mode
(``settings.self_check_mode: score``, the default) it votes its category's
action only when its log-probability margin reaches
``settings.self_check_threshold`` (calibrated on the development set with
``python -m core.guardrails calibrate``), so a weak judge cannot add false
blocks below that confidence; it can escalate a rules "warn" to "block".
The semantic rail (an SVM over sentence embeddings) and the probe (a linear
read-out of the offline 0.5B's hidden states) vote like any other rail: each
threshold was set by cross-validation at a 2% false-block budget, so they
mostly add blocks on paraphrases the patterns do not know.
With ``short_circuit`` the self-check is not even run once the rules
blocked: the verdicts are the same, only cheaper. Without a scorer (a remote
model) score mode falls back to the generated JSON verdict, noted in the trace.

The model-backed generators are built lazily from the lead's engine
(``core.loading.load`` and ``core.engine.complete``) so that this package
imports and tests without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator

from .guard_model import DEFAULT_GUARD_MODEL, GuardRail
from .output_rail import OutputEvent, guard_stream
from .policy import Policy, default_policy
from .rules import classify
from .safety_prompt import merge_system_prompt
from .scoring import ContinuationScorer, ScoringSelfCheckRail, scorer_from_loaded
from .selfcheck import SelfCheckRail, TextGenerator
from .probe import ProbeRail, default_probe_rail
from .semantic import SemanticRail, default_semantic_rail
from .trace import Action, Stopwatch, TraceEntry, strictest

RAIL_NAMES: tuple[str, ...] = ("rules", "semantic", "probe", "self-check", "guard")
DEFAULT_SELF_CHECK_MODEL = "qwen2.5-coder-0.5b-offline"
_ALIASES = {"rule": "rules", "selfcheck": "self-check", "self_check": "self-check", "guard-model": "guard",
            "guard_model": "guard", "embedding": "semantic", "embeddings": "semantic", "hidden-state": "probe",
            "hidden-states": "probe"}


def describe_chain(input_rails: Iterable[str], output: bool, redact: bool) -> str:
    """The chain of rails in the order they act, e.g. ``rules → safety prompt → output rail → PII redaction``."""
    parts = list(input_rails) or ["no input rails"]
    parts.append("safety prompt")
    if output:
        parts.append("output rail")
    if redact:
        parts.append("PII redaction")
    return " → ".join(parts)


def parse_rails(rails: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise rail names ("rules,self-check" or an iterable) into pipeline order.

    Raises ValueError naming unknown rails.
    """
    items = rails.split(",") if isinstance(rails, str) else list(rails)
    names = []
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        name = _ALIASES.get(name, name)
        if name not in RAIL_NAMES:
            raise ValueError(f"Unknown rail '{item}'. Known rails: {', '.join(RAIL_NAMES)}.")
        names.append(name)
    if not names:
        raise ValueError(f"No rails chosen. Known rails: {', '.join(RAIL_NAMES)}.")
    return tuple(r for r in RAIL_NAMES if r in names)


@dataclass(frozen=True)
class PipelineResult:
    """Combined verdict of the input rails plus the full trace."""

    verdict: Action
    category: str | None
    rail: str | None  # the rail whose entry decided the verdict (None when allowed)
    message: str  # refusal (block) or warning (warn) text for the user; "" when allowed
    trace: tuple[TraceEntry, ...] = field(default_factory=tuple)

    @property
    def blocked(self) -> bool:
        return self.verdict == "block"

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "category": self.category, "rail": self.rail, "message": self.message,
                "trace": [t.to_dict() for t in self.trace]}


def _counted(entry: TraceEntry, policy: Policy) -> str:
    """The verdict an entry contributes to the combination."""
    return policy.settings.on_rail_error if entry.verdict == "error" else entry.verdict


class GuardrailPipeline:
    """Runs the chosen input rails on a text; guards output streams with the same policy."""

    def __init__(
        self,
        policy: Policy | None = None,
        rails: str | Iterable[str] = ("rules",),
        *,
        generator: TextGenerator | None = None,
        scorer: ContinuationScorer | None = None,
        guard: GuardRail | None = None,
        short_circuit: bool = False,
        generator_unavailable_reason: str = "no text generator given (load a chat model first)",
        self_check_model: str | None = None,
        semantic: SemanticRail | None = None,
        semantic_factory: Callable[[], SemanticRail] = default_semantic_rail,
        probe: ProbeRail | None = None,
        probe_factory: Callable[[], ProbeRail] = default_probe_rail,
        semantic_unavailable: str | None = None,
        probe_unavailable: str | None = None,
    ) -> None:
        self.policy = policy or default_policy()
        self.rails = parse_rails(rails)
        self.generator = generator
        self.scorer = scorer
        self.guard = guard
        self.short_circuit = short_circuit
        self.generator_unavailable_reason = generator_unavailable_reason
        self.self_check_model = self_check_model  # alias behind generator/scorer: picks its calibrated threshold
        self.semantic = semantic
        self.semantic_factory = semantic_factory
        # Why the semantic / probe rail cannot be built (given, or found on first use): they are then "skipped".
        self.semantic_unavailable = semantic_unavailable
        self.probe = probe
        self.probe_factory = probe_factory
        self.probe_unavailable = probe_unavailable

    def _run(self, name: str, text: str) -> TraceEntry:
        if name == "rules":
            return classify(text, self.policy)
        if name in ("semantic", "probe"):
            return self._trained(name, text)
        if name == "self-check":
            return self._self_check(text)
        if self.guard is None:
            return TraceEntry("guard", "skipped", note=f"guard model {DEFAULT_GUARD_MODEL} not loaded")
        return self.guard.check(text, self.policy)

    def _trained(self, name: str, text: str) -> TraceEntry:
        """The semantic or probe rail (``self.<name>``), built by ``self.<name>_factory`` on first use; when that
        fails the reason is kept in ``self.<name>_unavailable``, never retried, and every check is "skipped"."""
        if getattr(self, name) is None and getattr(self, f"{name}_unavailable") is None:
            try:
                setattr(self, name, getattr(self, f"{name}_factory")())
            except Exception as exc:  # noqa: BLE001 - a missing model leaves the other rails working
                reason = f"could not build the {name} rail: {type(exc).__name__}: {exc}"
                setattr(self, f"{name}_unavailable", reason[:500])
        rail = getattr(self, name)
        if rail is None:
            return TraceEntry(name, "skipped", note=getattr(self, f"{name}_unavailable") or "")
        return rail.check(text, self.policy)

    def _self_check(self, text: str) -> TraceEntry:
        scoring = self.policy.settings.self_check_mode == "score"
        if scoring and self.scorer is not None:
            return ScoringSelfCheckRail(self.scorer, model=self.self_check_model).check(text, self.policy)
        if self.generator is None:
            return TraceEntry("self-check", "skipped", note=self.generator_unavailable_reason)
        entry = SelfCheckRail(self.generator).check(text, self.policy)
        if scoring:
            entry = replace(entry, note=f"no log-probabilities from this model, verdict generated instead; {entry.note}")
        return entry

    def check_input(self, text: str) -> PipelineResult:
        """Run the rails on a user prompt (see module docstring)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        entries: list[TraceEntry] = []
        for name in self.rails:
            if self.short_circuit and any(_counted(e, self.policy) == "block" for e in entries):
                entries.append(TraceEntry(name, "skipped", note="an earlier rail already blocked"))
                continue
            with Stopwatch() as sw:
                try:
                    entry = self._run(name, text)
                except Exception as exc:  # noqa: BLE001 - one rail failing must not fail the pipeline
                    entry = TraceEntry(name, "error", note=f"{type(exc).__name__}: {exc}"[:500])
            entries.append(entry.with_latency(sw.ms))
        verdict = strictest(_counted(e, self.policy) for e in entries)
        decider = next((e for e in entries if verdict != "allow" and _counted(e, self.policy) == verdict), None)
        category = decider.category if decider else None
        message = self.policy.refusal(category) if decider else ""
        return PipelineResult(verdict, category, decider.rail if decider else None, message, tuple(entries))

    def guard_output(self, chunks: Iterable[str], **kwargs: Any) -> Iterator[OutputEvent]:
        """:func:`~core.guardrails.output_rail.guard_stream` with this pipeline's policy."""
        return guard_stream(chunks, self.policy, **kwargs)

    def system_prompt(self, user_system_prompt: str | None = None) -> str:
        """The policy's safety prompt merged with the user's system prompt."""
        return merge_system_prompt(self.policy, user_system_prompt)


# ----------------------------------------------------------------------------- engine adapters


def generator_from_loaded(loaded: Any) -> TextGenerator:
    """A TextGenerator over a model already loaded by ``core.loading.load``."""
    from core.engine import GenerationParams, complete  # lazy: the engine is optional here

    def generate(messages: list[dict[str, str]], max_new_tokens: int) -> str:
        # Greedy, no repetition penalty (it would push a classifier away from repeating labels),
        # and no Qwen3 thinking: the verdict must fit in a few dozen tokens.
        params = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=max_new_tokens)
        return complete(loaded, messages, params, thinking=False).text

    return generate


def engine_generator(model: str = DEFAULT_SELF_CHECK_MODEL, quant: str = "auto", device: str = "auto") -> TextGenerator:
    """Load ``model`` with the playground's loader and wrap it as a TextGenerator.

    Raises whatever loading raises (unknown alias, hub unreachable, ...).
    """
    from core.loading import load  # lazy: see module docstring

    return generator_from_loaded(load(model, quant=quant, device=device))


def self_check_from_loaded(loaded: Any) -> tuple[TextGenerator, ContinuationScorer | None]:
    """Both self-check modes over one loaded model: the generator, and the scorer (None when unsupported)."""
    return generator_from_loaded(loaded), scorer_from_loaded(loaded)


def load_self_check(
    model: str = DEFAULT_SELF_CHECK_MODEL, quant: str = "auto", device: str = "auto"
) -> tuple[TextGenerator, ContinuationScorer | None]:
    """Load ``model`` with the playground's loader; see :func:`self_check_from_loaded`. Raises what loading raises."""
    from core.loading import load  # lazy: see module docstring

    return self_check_from_loaded(load(model, quant=quant, device=device))


def load_guard_rail(
    model_id: str = DEFAULT_GUARD_MODEL,
    quant: str = "auto",
    device: str = "auto",
    loader: Callable[..., TextGenerator] = engine_generator,
) -> GuardRail:
    """A GuardRail for ``model_id``; when loading fails, one that skips with the reason."""
    try:
        generator = loader(model_id, quant=quant, device=device)
    except Exception as exc:  # noqa: BLE001 - the guard is optional by design
        reason = f"{type(exc).__name__}: {exc}".strip()
        return GuardRail(model_id, None, reason=reason[:500])
    return GuardRail(model_id, generator)
