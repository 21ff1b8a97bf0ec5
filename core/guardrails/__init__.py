"""Guardrails: policy, input rails (rules, semantic, probe, self-check, guard model), safety prompt, output rails.

Public API (nothing here imports streamlit):

    from core.guardrails import (
        load_policy, dump_policy, save_policy_variant, default_policy, PolicyError,
        GuardrailPipeline, render_safety_prompt, merge_system_prompt,
        guard_stream, OutputEvent, find_pii, redact, StreamRedactor,
    )

See docs/GUARDRAILS.md for how each rail works and the measured numbers.
"""

from .guard_model import DEFAULT_GUARD_MODEL, GUARD_MODELS, GuardRail, parse_guard_output
from .output_rail import OutputEvent, check_output, guard_stream
from .pii import PIISpan, Redaction, StreamRedactor, find_pii, redact
from .pipeline import (
    DEFAULT_SELF_CHECK_MODEL,
    RAIL_NAMES,
    GuardrailPipeline,
    PipelineResult,
    engine_generator,
    generator_from_loaded,
    load_guard_rail,
    load_self_check,
    parse_rails,
    self_check_from_loaded,
)
from .policy import (
    CATEGORY_IDS,
    CATEGORY_TITLES,
    DEFAULT_POLICY_PATH,
    CategoryPolicy,
    Policy,
    PolicyError,
    PolicySettings,
    default_policy,
    dump_policy,
    list_policy_variants,
    load_policy,
    save_policy_variant,
    try_load_policy,
)
from .probe import (
    HiddenStates,
    LinearProbe,
    ProbeError,
    ProbeFileError,
    ProbeRail,
    default_probe_rail,
    load_probe_rail,
    train_probe,
)
from .rules import classify
from .safety_prompt import merge_system_prompt, render_safety_prompt
from .scoring import ContinuationScorer, ScoringSelfCheckRail, scorer_from_loaded
from .semantic import (
    SemanticClassifier,
    SemanticRail,
    SemanticTraining,
    SemanticTrainingError,
    default_semantic_rail,
    train_semantic,
)
from .selfcheck import SelfCheckRail, TextGenerator, build_moderation_messages, parse_verdict
from .trace import TraceEntry, Verdict, combine

__all__ = [
    "CATEGORY_IDS", "CATEGORY_TITLES", "DEFAULT_GUARD_MODEL", "DEFAULT_POLICY_PATH", "DEFAULT_SELF_CHECK_MODEL",
    "GUARD_MODELS", "RAIL_NAMES", "CategoryPolicy", "ContinuationScorer", "ScoringSelfCheckRail",
    "load_self_check", "scorer_from_loaded", "self_check_from_loaded", "GuardRail", "GuardrailPipeline", "OutputEvent", "PIISpan",
    "PipelineResult", "Policy", "PolicyError", "PolicySettings", "Redaction", "SelfCheckRail", "StreamRedactor",
    "SemanticClassifier", "SemanticRail", "SemanticTraining", "SemanticTrainingError", "default_semantic_rail",
    "train_semantic", "HiddenStates", "LinearProbe", "ProbeError", "ProbeFileError", "ProbeRail",
    "default_probe_rail", "load_probe_rail", "train_probe", "TextGenerator", "TraceEntry", "Verdict", "build_moderation_messages", "check_output", "classify", "combine",
    "default_policy", "dump_policy", "engine_generator", "find_pii", "generator_from_loaded", "guard_stream",
    "list_policy_variants", "load_guard_rail", "load_policy", "merge_system_prompt", "parse_guard_output",
    "parse_rails", "parse_verdict", "redact", "render_safety_prompt", "save_policy_variant", "try_load_policy",
]
