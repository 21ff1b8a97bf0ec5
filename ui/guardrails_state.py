"""The Guardrails page's session state: its keys, the policy in force and where variants live.

Contract:
- Every key the page keeps in ``st.session_state`` is named here (prefix ``gr.``).
- :func:`policy` is the policy in force for this session: the shipped default until
  the user applies another; :func:`set_policy` replaces it (already validated).
- :func:`policies_dir` is ``PLAYGROUND_HOME/policies``, where variants are saved.
- :func:`flash` / :func:`take_flash`: a message from a button callback, shown once
  by the panel that owns ``where``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from core.guardrails import Policy, default_policy
from core.paths import home_dir

POLICY = "gr.policy"  # Policy in force
POLICY_LABEL = "gr.policy_label"  # where it came from, e.g. "default", "variant strict.yaml", "edited"
EDITOR = "gr.editor"  # text area: the policy YAML being edited
VARIANT_NAME = "gr.variant_name"  # text input: name to save the editor's policy under
VARIANT_PICK = "gr.variant_pick"  # selectbox: a saved variant
OVERWRITE = "gr.overwrite"  # checkbox: replace a variant with the same name
FLASH = "gr.flash"  # where -> (kind, markdown)

PROMPT = "gr.prompt"  # text area: the prompt answered three ways
RULES = "gr.rails.rules"
SEMANTIC = "gr.rails.semantic"
SEMANTIC_DEFAULT = True  # the semantic rail is on in the "All rails" column (and compare) until the user turns it off
PROBE = "gr.rails.probe"
PROBE_DEFAULT = True  # on in the "All rails" column (and compare): it loads the offline 0.5B in fp32 on first use
SELF_CHECK = "gr.rails.self_check"
GUARD = "gr.rails.guard"
GUARD_MODEL = "gr.rails.guard_model"
OUTPUT = "gr.rails.output"
REDACT = "gr.rails.redact"
MAX_NEW_TOKENS = "gr.max_new_tokens"
TEMPERATURE = "gr.temperature"
TURN = "gr.turn"  # guardrails_run.Turn: the last prompt and its three answers

RT_SOURCE = "gr.rt.source"  # radio: a bundled set or an upload
RT_UPLOAD_ROUND = "gr.rt.upload_round"
RT_RULES = "gr.rt.rules"
RT_SEMANTIC = "gr.rt.semantic"
RT_PROBE = "gr.rt.probe"
RT_SELF_CHECK = "gr.rt.self_check"
RT_GUARD = "gr.rt.guard"
RT_GUARD_MODEL = "gr.rt.guard_model"
RT_LIMIT = "gr.rt.limit"  # number input: items to run, 0 = all
RT_RESULT = "gr.rt.result"  # guardrails_eval.RedTeamResult

DEFAULT_LABEL = "default (config/policy.yaml)"


def policy() -> Policy:
    return st.session_state.setdefault(POLICY, default_policy())


def policy_label() -> str:
    return st.session_state.setdefault(POLICY_LABEL, DEFAULT_LABEL)


def set_policy(new: Policy, label: str) -> None:
    st.session_state[POLICY] = new
    st.session_state[POLICY_LABEL] = label


def policies_dir() -> Path:
    return home_dir() / "policies"


def flash(where: str, kind: str, text: str) -> None:
    st.session_state.setdefault(FLASH, {})[where] = (kind, text)


def take_flash(where: str) -> tuple[str, str] | None:
    return st.session_state.get(FLASH, {}).pop(where, None)


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)
