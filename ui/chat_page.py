"""Helpers the Chat page composes: model traits, sending a message, the history."""

from __future__ import annotations

import streamlit as st

from core.conversations import Conversation, ConversationStore
from core.loading import LoadedModel
from core.registry import find_spec
from ui import state
from ui.chat_settings import ChatSettings, ModelTraits
from ui.chat_view import render_message
from ui.state import ModelChoice


def model_traits(choice: ModelChoice, loaded: LoadedModel | None) -> ModelTraits:
    """Family, thinking switch, window and sampling defaults: measured when loaded, else from the registry."""
    seen: dict = st.session_state.setdefault(state.GEN_DEFAULTS_SEEN, {})
    if loaded is not None:
        seen[choice.name] = dict(loaded.generation_defaults)
        return ModelTraits(
            loaded.family,
            loaded.supports_thinking,
            loaded.context_length,
            tuple(sorted(loaded.generation_defaults.items())),
        )
    spec = find_spec(choice.name) if choice.name else None
    defaults = tuple(sorted(seen.get(choice.name, {}).items()))
    if spec is None:
        return ModelTraits(generation_defaults=defaults, assumed=True)
    return ModelTraits(spec.family, spec.thinking, spec.context_length, defaults)


def render_history(conversation: Conversation | None) -> None:
    if conversation is None or not conversation.messages:
        st.caption("Ask anything below. The selected model loads on your first message.")
        return
    for message in conversation.messages:
        render_message(message)


def store_settings(store: ConversationStore, chat_id: str, settings: ChatSettings, choice: ModelChoice) -> None:
    """Save the settings used for this turn with the conversation (they come back when it is reopened)."""
    store.update_settings(chat_id, settings.to_store(choice.name, choice.quant, choice.device))
