"""Choosing rails and building the pipeline they make, with the page's shared model pool.

Contract:
- :func:`render_rail_chooser` draws the checkboxes of the "All rails" column
  (rules, self-check with the sidebar's model, a guard model by hub id, output rail,
  PII redaction) and returns a :class:`ui.guardrails_run.RailChoice`.
- :func:`build_pipeline` makes the :class:`core.guardrails.GuardrailPipeline` for
  a set of input rails, or None when there are none. Self-check uses ``loaded`` (the
  sidebar's model); a guard model is loaded through the shared pool by
  :func:`core.guardrails.load_guard_rail`, which turns any failure (here: the hub is
  unreachable) into a rail that records "skipped" with the reason; that reason is
  also added to ``notices`` for the page to show.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import hub
from core.guardrails import (
    DEFAULT_GUARD_MODEL,
    GUARD_MODELS,
    GuardrailPipeline,
    Policy,
    generator_from_loaded,
    self_check_from_loaded,
    load_guard_rail,
)
from core.loading import LoadedModel
from ui import guardrails_state as gs
from ui.guardrails_run import RailChoice
from ui.resources import get_pool

KEEP = "session"  # persist_state: the choice survives page switches


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


def render_rail_chooser() -> RailChoice:
    st.markdown("**Rails of the third column**")
    st.session_state.setdefault(gs.RULES, True)
    st.session_state.setdefault(gs.OUTPUT, True)
    st.session_state.setdefault(gs.REDACT, True)
    rules = st.checkbox("Rules (input)", key=gs.RULES, persist_state=KEEP,
                        help="Regular expressions on normalised text: well under a millisecond.")  # fmt: skip
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
    return RailChoice(rules=rules, self_check=self_check, guard_model=guard, output=output, redact=redact)


def _pool_generator(model_id: str, quant: str = "auto", device: str = "auto") -> Any:
    return generator_from_loaded(get_pool().get(model_id, quant, device))


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
    guard = None
    if "guard" in rails:
        guard = load_guard_rail(guard_model or DEFAULT_GUARD_MODEL, loader=_pool_generator)
        if not guard.available:
            notices.append(f"Guard model `{guard.spec.hub_id}` skipped: {guard.reason} The other rails decide.")
    return GuardrailPipeline(policy, rails, generator=generator, scorer=scorer, guard=guard,
                             generator_unavailable_reason="no chat model loaded",
                             self_check_model=loaded.name if loaded is not None else None)  # fmt: skip
