"""The row under the chat: regenerate, edit and resend, clear, token probabilities, context meter.

The buttons act in callbacks (which run before the next script run), so the
history is already changed when the page redraws; a reply to generate is
flagged with ``CHAT_PENDING`` and produced by the page on that run.
"""

from __future__ import annotations

import streamlit as st

from core.context import FitResult, fit_messages
from core.conversations import DEFAULT_TITLE, Conversation, ConversationStore, StoredMessage
from core.errors import PlaygroundError
from core.loading import LoadedModel
from ui import state
from ui.chat_settings import ChatSettings
from ui.chat_turn import build_messages
from ui.chat_view import render_context_meter, render_token_probabilities
from ui.errors import error_text

DRAFT = "…"  # stands for the next question in the context meter


def _last(messages: list[StoredMessage], role: str) -> StoredMessage | None:
    return next((m for m in reversed(messages) if m.role == role), None)


def regenerate(store: ConversationStore, chat_id: str) -> None:
    """Drop the last reply (if the chat ends with one) and ask for a new one."""
    messages = store.get(chat_id).messages
    if messages and messages[-1].role == "assistant":
        store.delete_messages_from(chat_id, messages[-1].id)
    st.session_state[state.CHAT_PENDING] = True


def resend_edited(store: ConversationStore, chat_id: str, message_id: int) -> None:
    """Replace the last user message (and what followed it) with the edited text and answer it."""
    text = st.session_state.get(state.CHAT_EDIT_TEXT, "")
    if not text.strip():
        st.session_state["chat.edit_error"] = "The edited message is empty."
        return
    st.session_state.pop("chat.edit_error", None)
    store.delete_messages_from(chat_id, message_id)
    store.add_message(chat_id, "user", text)
    st.session_state[state.CHAT_PENDING] = True


def clear_chat(store: ConversationStore, chat_id: str) -> None:
    """Delete every message of the chat (it keeps its id; the next message names it again)."""
    messages = store.get(chat_id).messages
    if messages:
        store.delete_messages_from(chat_id, messages[0].id)
    store.rename(chat_id, DEFAULT_TITLE)
    st.session_state[state.CHAT_PENDING] = False


def _edit_popover(store: ConversationStore, chat_id: str, last_user: StoredMessage) -> None:
    with st.popover("Edit last message", icon=":material/edit:"):
        if st.session_state.get("chat.edit_for") != last_user.id:
            st.session_state[state.CHAT_EDIT_TEXT] = last_user.content
            st.session_state["chat.edit_for"] = last_user.id
        st.text_area("Your last message", key=state.CHAT_EDIT_TEXT, height=120)
        st.button(
            "Resend", key="chat.resend", type="primary", on_click=resend_edited, args=(store, chat_id, last_user.id)
        )
        if st.session_state.get("chat.edit_error"):
            st.error(st.session_state["chat.edit_error"])


def fit_for_meter(loaded: LoadedModel, settings: ChatSettings, conversation: Conversation | None) -> FitResult:
    """How the next prompt would use the window: system prompt + history + a draft question."""
    history = conversation.messages if conversation is not None else []
    messages = build_messages(settings.system_prompt, history) + [{"role": "user", "content": DRAFT}]
    max_new = settings.params.max_new_tokens if settings.params is not None else 1
    if not loaded.lock.acquire(timeout=0.5):  # another session is generating with this tokenizer
        raise TimeoutError
    try:
        return fit_messages(loaded.tokenizer, messages, loaded.context_length, max_new, settings.thinking)
    finally:
        loaded.lock.release()


def render_context(loaded: LoadedModel | None, settings: ChatSettings, conversation: Conversation | None) -> None:
    if loaded is None:
        st.caption("The context meter appears once the model is loaded.")
        return
    try:
        fit = fit_for_meter(loaded, settings, conversation)
    except TimeoutError:
        st.caption("Context meter: the model is busy with another session; it updates on the next run.")
        return
    except PlaygroundError as exc:
        st.warning(error_text(exc), icon=":material/content_cut:")
        return
    render_context_meter(fit)


def render_chat_tools(
    store: ConversationStore, conversation: Conversation | None, settings: ChatSettings, loaded: LoadedModel | None
) -> None:
    """Draw the tools row, the token-probability view and the context meter."""
    messages = conversation.messages if conversation is not None else []
    last_user = _last(messages, "user")
    if conversation is not None and last_user is not None:
        chat = (store, conversation.id)
        cols = st.columns([1, 1.3, 0.8, 2])
        cols[0].button("Regenerate", icon=":material/refresh:", key="chat.regenerate", on_click=regenerate, args=chat)
        with cols[1]:
            _edit_popover(store, conversation.id, last_user)
        cols[2].button("Clear", icon=":material/delete_sweep:", key="chat.clear", on_click=clear_chat, args=chat)
        cols[3].toggle("Token probabilities", key=state.CHAT_SHOW_PROBS)
        if st.session_state.get(state.CHAT_SHOW_PROBS):
            last_reply = _last(messages, "assistant")
            logprobs = last_reply.metrics.get("logprobs") if last_reply is not None else None
            if isinstance(logprobs, list) and logprobs:
                render_token_probabilities(logprobs)
            else:
                st.info(
                    "The last reply has no token probabilities: turn on “Record token probabilities” "
                    "(settings → Sampling) and regenerate.",
                    icon=":material/info:",
                )
    render_context(loaded, settings, conversation)
