"""Chat: one conversation with the selected model, streamed, saved as it is written."""

import streamlit as st

from ui import state
from ui.chat_page import model_traits, render_history, store_settings
from ui.chat_settings import render_chat_settings
from ui.chat_tools import render_chat_tools
from ui.chat_turn import answer
from ui.conversations_panel import render_chats_sidebar, start_chat, sync_current_chat
from ui.errors import guard
from ui.model_sidebar import ensure_loaded
from ui.resources import get_pool, get_store

store = get_store()
chat_id = sync_current_chat(store)
with st.sidebar, guard("The chat list"):
    render_chats_sidebar(store, chat_id)

choice = state.current_choice()
loaded = get_pool().peek(*choice.key) if choice.name else None
st.title(":material/chat: Chat")
st.caption(f"Model: **{choice.name or 'none selected'}** ({choice.quant}, {choice.device})")
settings_slot = st.container()  # filled once the model is known, so its recommended sampling applies
prompt = st.chat_input("Ask anything", submit_mode="stop", max_chars=100_000)
sent = bool(prompt and prompt.strip())
pending = st.session_state.pop(state.CHAT_PENDING, False)

conversation = store.get(chat_id) if chat_id else None
render_history(conversation)
if sent:
    chat_id = chat_id or start_chat(store, {})
    store.add_message(chat_id, "user", prompt)  # saved before anything can fail
    with st.chat_message("user"):
        st.markdown(prompt)
if (sent or pending) and loaded is None:
    loaded = ensure_loaded(choice, st.container())  # first use: progress bar, or core's error and hint

with settings_slot:
    settings = render_chat_settings(model_traits(choice, loaded))

if chat_id and (sent or pending) and loaded is not None:
    store_settings(store, chat_id, settings, choice)
    status = answer(store, chat_id, loaded, settings, stop_button=not sent)
    if status in ("complete", "stopped"):
        st.rerun()  # redraw from the store: the new title in the list, tools for the new reply
if chat_id:
    conversation = store.get(chat_id)  # after an error, which stays on screen (no rerun)

with guard("The chat tools"):
    render_chat_tools(store, conversation, settings, loaded)
