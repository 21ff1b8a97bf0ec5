"""Typed access to ``st.session_state``: every key the UI uses is named here.

Widget values that must survive a page switch (Streamlit drops the state of
widgets not drawn in a run) are listed in :data:`PERSISTENT_KEYS` and kept
alive by :func:`keep_widget_state`, which ``app.py`` calls first thing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.registry import DEFAULT_ALIAS, REGISTRY, find_spec

# model picker (sidebar, all pages)
MODEL_PICK = "model.pick"
MODEL_CUSTOM = "model.custom"
MODEL_QUANT = "model.quant"
MODEL_DEVICE = "model.device"
CUSTOM_OPTION = "custom"  # the picker's "hub id or local path" entry

# chat page
CHAT_ID = "chat.id"
CHAT_PENDING = "chat.pending"  # a reply to generate on this run (after regenerate / edit)
CHAT_PRESET = "chat.preset"
CHAT_LANGUAGE = "chat.language"
CHAT_SYSTEM = "chat.system_prompt"
CHAT_THINKING = "chat.thinking"
CHAT_SHOW_PROBS = "chat.show_probs"
CHAT_EDIT_TEXT = "chat.edit_text"
CHATS_QUERY = "chats.query"
CHATS_RENAME = "chats.rename_text"
CHATS_CONFIRM_DELETE = "chats.confirm_delete"
CHATS_IMPORT_ROUND = "chats.import_round"  # bumped to reset the uploader after an import
CHATS_IMPORTED = "chats.imported"  # file ids already imported (uploaders keep files across reruns)

PARAM_PREFIX = "params."
PARAMS_RECOMMENDED = "params.recommended"  # the recommended widget values in force (see chat_settings)
GEN_DEFAULTS_SEEN = "model.gen_defaults"  # name -> generation_defaults of models loaded before

PARAM_KEYS = tuple(
    PARAM_PREFIX + name
    for name in ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "seed", "stop", "logprobs")
)
PERSISTENT_KEYS: tuple[str, ...] = (
    MODEL_PICK,
    MODEL_CUSTOM,
    MODEL_QUANT,
    MODEL_DEVICE,
    CHAT_PRESET,
    CHAT_LANGUAGE,
    CHAT_SYSTEM,
    CHAT_THINKING,
    CHAT_SHOW_PROBS,
    CHATS_QUERY,
    *PARAM_KEYS,
)


def keep_widget_state() -> None:
    """Re-assign persistent widget keys so a page that does not draw them keeps their values."""
    for key in PERSISTENT_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


@dataclass(frozen=True)
class ModelChoice:
    """What the sidebar has selected: the pool key (name, quant, device)."""

    name: str
    quant: str = "auto"
    device: str = "auto"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.quant, self.device)


def default_model() -> str:
    """``PLAYGROUND_DEFAULT_MODEL`` when set, else the registry's offline default."""
    return os.environ.get("PLAYGROUND_DEFAULT_MODEL", "").strip() or DEFAULT_ALIAS


def init_model_state() -> None:
    """Select the default model on a session's first run."""
    if MODEL_PICK in st.session_state:
        return
    default = default_model()
    spec = find_spec(default)
    if spec is not None and spec.alias in REGISTRY and not os.path.exists(default):
        st.session_state[MODEL_PICK] = spec.alias
    elif default.startswith("remote:"):  # a configured endpoint (the picker lists remote:NAME)
        st.session_state[MODEL_PICK] = default
    else:
        st.session_state[MODEL_PICK] = CUSTOM_OPTION
        st.session_state[MODEL_CUSTOM] = default
    st.session_state.setdefault(MODEL_QUANT, "auto")
    st.session_state.setdefault(MODEL_DEVICE, "auto")


def current_choice() -> ModelChoice:
    """The model the sidebar selects (the default one before the sidebar has run)."""
    init_model_state()
    pick = st.session_state[MODEL_PICK]
    name = (st.session_state.get(MODEL_CUSTOM, "") if pick == CUSTOM_OPTION else pick) or ""
    if name.strip().startswith("remote:"):  # the server's own quantization and device: one pool key
        return ModelChoice(name.strip())
    return ModelChoice(
        name.strip(), st.session_state.get(MODEL_QUANT, "auto"), st.session_state.get(MODEL_DEVICE, "auto")
    )
