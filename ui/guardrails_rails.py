"""Choosing rails and building the pipeline they make, with the page's shared model pool.

Contract:
- :func:`render_rail_chooser` draws the checkboxes of the "All rails" column
  (rules, the semantic rail, the hidden-state probe, self-check with the sidebar's model, a guard model by
  hub id, output rail, PII redaction) and returns a :class:`ui.guardrails_run.RailChoice`.
- :func:`build_pipeline` makes the :class:`core.guardrails.GuardrailPipeline` for
  a set of input rails, or None when there are none. The semantic rail is trained
  once per process (:func:`semantic_rail`); when the embedding model is missing it
  records "skipped" and a notice says why. The probe rail loads its model (the
  offline 0.5B in fp32) through the shared pool; when it cannot, likewise. Self-check uses ``loaded`` (the
  sidebar's model); a guard model is loaded through the shared pool by
  :func:`core.guardrails.load_guard_rail`, which turns any failure (here: the hub is
  unreachable) into a rail that records "skipped" with the reason; that reason is
  also added to ``notices`` for the page to show.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import streamlit as st

from core import hub
from core.guardrails import (
    DEFAULT_GUARD_MODEL,
    GUARD_MODELS,
    GuardrailPipeline,
    Policy,
    ProbeRail,
    SemanticRail,
    default_semantic_rail,
    load_probe_rail,
    generator_from_loaded,
    self_check_from_loaded,
    load_guard_rail,
)
from core.loading import LoadedModel
from ui import guardrails_state as gs
from ui.guardrails_run import RailChoice
from ui.resources import get_pool

KEEP = "session"  # persist_state: the choice survives page switches
T = TypeVar("T")


def guard_cached(hub_id: str) -> bool:
    try:
        return bool(hub.is_cached(hub_id))
    except Exception:  # noqa: BLE001 - a broken HF cache only changes a caption
        return False


def render_guard_picker(checkbox_key: str, model_key: str, label: str = "Guard model") -> str | None:
    """A guard-model checkbox with the hub id to use; returns the hub id when ticked."""
    on = st.checkbox(label, key=checkbox_key, persist_state=KEEP,
                     help="A dedicated classifier (Qwen3Guard, Llama Guard 3) from the HF cache.")  # fmt: skip
    if not on:
        return None
    st.session_state.setdefault(model_key, DEFAULT_GUARD_MODEL)
    hub_id = st.selectbox("Guard model hub id", list(GUARD_MODELS), key=model_key, persist_state=KEEP)
    if not guard_cached(hub_id):
        st.caption(":material/cloud_off: Not in the local cache: it will be skipped (with a notice) if the hub "
                   "cannot be reached.")  # fmt: skip
    return hub_id


def render_semantic_checkbox(key: str, label: str = "Semantic (input, embeddings)") -> bool:
    return st.checkbox(label, key=key, persist_state=KEEP,
                       help="An SVM over all-MiniLM-L6-v2 sentence embeddings, trained on the bundled development "
                       "prompts: catches paraphrases the patterns miss. About 10 ms a prompt; trained in a few "
                       "seconds on first use. Trace: SVM margin vs threshold.")  # fmt: skip


def render_probe_checkbox(key: str, label: str = "Probe (input, 0.5B hidden states)") -> bool:
    return st.checkbox(label, key=key, persist_state=KEEP,
                       help="A linear probe on layer 12 of Qwen2.5-Coder-0.5B's hidden states, trained on the "
                       "bundled prompts: the model's own representation of harm, read without asking it. Loads "
                       "that model (fp32, about 2 GB) on first use; then half a forward pass a prompt (about "
                       "0.1-0.3 s on a CPU). Trace: probe logit vs threshold.")  # fmt: skip


def _pool_loaded(model_id: str, quant: str = "auto", device: str = "auto") -> LoadedModel:
    return get_pool().get(model_id, quant, device)


def _built(name: str, build: Callable[[], T]) -> tuple[T | None, str | None]:
    """(the rail ``build`` makes, None), or (None, why it could not be built): a missing model only turns it off."""
    try:
        return build(), None
    except Exception as exc:  # noqa: BLE001 - the other rails still run
        return None, f"could not build the {name} rail: {type(exc).__name__}: {exc}"[:500]


def semantic_rail() -> tuple[SemanticRail | None, str | None]:
    """The semantic rail, trained once per process (see :func:`_built`)."""
    return _built("semantic", default_semantic_rail)


def probe_rail() -> tuple[ProbeRail | None, str | None]:
    """The bundled probe over its model from the shared pool (see :func:`_built`)."""
    return _built("probe", lambda: load_probe_rail(loader=_pool_loaded))


def render_rail_chooser() -> RailChoice:
    st.markdown("**Rails of the third column**")
    st.session_state.setdefault(gs.RULES, True)
    st.session_state.setdefault(gs.OUTPUT, True)
    st.session_state.setdefault(gs.REDACT, True)
    st.session_state.setdefault(gs.SEMANTIC, gs.SEMANTIC_DEFAULT)
    st.session_state.setdefault(gs.PROBE, gs.PROBE_DEFAULT)
    rules = st.checkbox("Rules (input)", key=gs.RULES, persist_state=KEEP,
                        help="Regular expressions on normalised text: well under a millisecond.")  # fmt: skip
    semantic = render_semantic_checkbox(gs.SEMANTIC)
    probe = render_probe_checkbox(gs.PROBE)
    self_check = st.checkbox("Self-check (input, same model)", key=gs.SELF_CHECK, persist_state=KEEP,
                             help="The sidebar's model is asked, with a moderation prompt, whether the prompt "
                             "violates the policy. Scored in one forward pass: it blocks when log P(unsafe) - "
                             "log P(safe) reaches the policy's threshold (trace: score vs threshold).")  # fmt: skip
    guard = render_guard_picker(gs.GUARD, gs.GUARD_MODEL)
    output = st.checkbox("Output rail (rules on the reply)", key=gs.OUTPUT, persist_state=KEEP,
                         help="Checks the reply while it streams; a harmful reply is cut off and replaced "
                         "by the refusal.")  # fmt: skip
    redact = st.checkbox("PII redaction", key=gs.REDACT, persist_state=KEEP,
                         help="E-mail addresses, phone numbers, card numbers and IBANs in the reply are "
                         "replaced before they are shown.")  # fmt: skip
    return RailChoice(rules=rules, semantic=semantic, probe=probe, self_check=self_check, guard_model=guard,
                      output=output, redact=redact)


def _pool_generator(model_id: str, quant: str = "auto", device: str = "auto") -> Any:
    return generator_from_loaded(_pool_loaded(model_id, quant, device))


def build_pipeline(
    policy: Policy,
    rails: tuple[str, ...],
    loaded: LoadedModel | None,
    guard_model: str | None,
    notices: list[str],
) -> GuardrailPipeline | None:
    """The pipeline for ``rails`` (see the module docstring)."""
    if not rails:
        return None
    generator = scorer = None
    if "self-check" in rails and loaded is not None:
        generator, scorer = self_check_from_loaded(loaded)
    semantic = semantic_unavailable = None
    if "semantic" in rails:
        semantic, semantic_unavailable = semantic_rail()
        if semantic is None:
            notices.append(f"Semantic rail skipped: {semantic_unavailable}. The other rails decide.")
    probe = probe_unavailable = None
    if "probe" in rails:
        probe, probe_unavailable = probe_rail()
        if probe is None:
            notices.append(f"Probe rail skipped: {probe_unavailable}. The other rails decide.")
    guard = None
    if "guard" in rails:
        guard = load_guard_rail(guard_model or DEFAULT_GUARD_MODEL, loader=_pool_generator)
        if not guard.available:
            notices.append(f"Guard model `{guard.spec.hub_id}` skipped: {guard.reason} The other rails decide.")
    return GuardrailPipeline(policy, rails, generator=generator, scorer=scorer, guard=guard,
                             generator_unavailable_reason="no chat model loaded",
                             self_check_model=loaded.name if loaded is not None else None,
                             semantic=semantic, semantic_unavailable=semantic_unavailable,
                             probe=probe, probe_unavailable=probe_unavailable)  # fmt: skip
