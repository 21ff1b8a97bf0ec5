"""Past chats: which one is open (kept in the URL), and the sidebar to list, search, open,
rename, delete, export and import them.

Contract:
- :func:`sync_current_chat` decides the open conversation on every run: a
  ``?chat=<id>`` in the URL wins (a reload or a shared link reopens it, and
  its saved settings are restored), else the session's; the URL is kept in
  step. A deleted or unknown id gives a notice and a fresh chat, not an error.
- :func:`render_chats_sidebar` draws the list and the current chat's actions.
  Deleting asks for confirmation. Export gives Markdown and JSON downloads;
  importing a JSON export opens it as a new chat; a bad file gives core's
  ImportFormatError message.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

import streamlit as st

from core.conversations import ConversationNotFoundError, ConversationStore
from core.errors import PlaygroundError
from ui import state
from ui.chat_settings import restore_settings
from ui.errors import error_text

LIST_LIMIT = 50


def _exists(store: ConversationStore, chat_id: str) -> bool:
    try:
        store.get(chat_id)
    except ConversationNotFoundError:
        return False
    return True


def open_chat(store: ConversationStore, chat_id: str) -> None:
    """Make ``chat_id`` the open chat (URL included) and put its settings back into the widgets."""
    conversation = store.get(chat_id)
    st.session_state[state.CHAT_ID] = chat_id
    st.query_params["chat"] = chat_id
    st.session_state[state.CHATS_CONFIRM_DELETE] = False
    st.session_state[state.CHAT_PENDING] = False
    st.session_state.pop(state.CHAT_EDIT_TEXT, None)
    restore_settings(conversation.settings)


def new_chat() -> None:
    """Start a fresh chat; it is created in the store with its first message."""
    st.session_state[state.CHAT_ID] = None
    st.session_state[state.CHAT_PENDING] = False
    st.session_state[state.CHATS_CONFIRM_DELETE] = False
    st.session_state.pop(state.CHAT_EDIT_TEXT, None)
    if "chat" in st.query_params:
        del st.query_params["chat"]


def sync_current_chat(store: ConversationStore) -> str | None:
    """The id of the open conversation (or None for a new, not yet saved chat)."""
    url_id = st.query_params.get("chat")
    current = st.session_state.get(state.CHAT_ID)
    if url_id and url_id != current:
        if _exists(store, url_id):
            open_chat(store, url_id)
            return url_id
        st.info("That chat no longer exists (it was deleted). Here is a new one.", icon=":material/info:")
        new_chat()
        return None
    if current and not _exists(store, current):  # deleted in another tab
        new_chat()
        return None
    if current and url_id != current:  # e.g. back from another page, which drops the query string
        st.query_params["chat"] = current
    return current


def start_chat(store: ConversationStore, settings: dict[str, Any]) -> str:
    """Create the stored conversation for a new chat and open it."""
    chat_id = store.create(settings=settings)
    st.session_state[state.CHAT_ID] = chat_id
    st.query_params["chat"] = chat_id
    return chat_id


# --- sidebar -----------------------------------------------------------------------------------


def _rename(store: ConversationStore, chat_id: str) -> None:
    title = st.session_state.get(state.CHATS_RENAME, "")
    try:
        store.rename(chat_id, title)
    except PlaygroundError as exc:
        st.session_state["chats.rename_error"] = error_text(exc)
    else:
        st.session_state.pop("chats.rename_error", None)


def _delete(store: ConversationStore, chat_id: str) -> None:
    store.delete(chat_id)
    new_chat()


def _confirm_delete(value: bool) -> None:
    st.session_state[state.CHATS_CONFIRM_DELETE] = value


def export_filename(title: str, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-._")[:60] or "chat"
    return f"{stem}.{extension}"


def export_markdown_bytes(store: ConversationStore, chat_id: str) -> bytes:
    """The Markdown transcript the Markdown download button gives."""
    return store.export_markdown(chat_id).encode("utf-8")


def export_json_bytes(store: ConversationStore, chat_id: str) -> bytes:
    """The JSON export the JSON download button gives (what Import reads back)."""
    return json.dumps(store.export_json(chat_id), ensure_ascii=False, indent=2).encode("utf-8")


def _current_chat_actions(store: ConversationStore, chat_id: str) -> None:
    conversation = store.get(chat_id)
    with st.expander("This chat: rename, export, delete", expanded=False):
        st.session_state.setdefault(state.CHATS_RENAME, conversation.title)
        if st.session_state.get("chats.rename_for") != chat_id:
            st.session_state[state.CHATS_RENAME] = conversation.title
            st.session_state["chats.rename_for"] = chat_id
        st.text_input("Title", key=state.CHATS_RENAME, max_chars=200)
        st.button("Rename", key="chats.rename", on_click=_rename, args=(store, chat_id))
        if st.session_state.get("chats.rename_error"):
            st.error(st.session_state["chats.rename_error"])
        left, right = st.columns(2)
        # Deferred: the export is made when clicked (on a separate thread), so it is never stale or wasted.
        left.download_button(
            "Markdown",
            partial(export_markdown_bytes, store, chat_id),
            file_name=export_filename(conversation.title, "md"),
            mime="text/markdown",
            key="chats.export_md",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "JSON",
            partial(export_json_bytes, store, chat_id),
            file_name=export_filename(conversation.title, "json"),
            mime="application/json",
            key="chats.export_json",
            icon=":material/download:",
            on_click="ignore",
        )
        if not st.session_state.get(state.CHATS_CONFIRM_DELETE):
            st.button(
                "Delete this chat", icon=":material/delete:", key="chats.delete", on_click=_confirm_delete, args=(True,)
            )
        else:
            st.warning(f"Delete “{conversation.title}” and its {len(conversation.messages)} messages for good?")
            yes, no = st.columns(2)
            yes.button("Yes, delete", key="chats.delete_yes", type="primary", on_click=_delete, args=(store, chat_id))
            no.button("Cancel", key="chats.delete_no", on_click=_confirm_delete, args=(False,))


def _import(store: ConversationStore) -> None:
    round_ = st.session_state.setdefault(state.CHATS_IMPORT_ROUND, 0)
    uploaded = st.file_uploader(
        "Import a chat (.json export)", type=["json"], key=f"chats.import.{round_}",
        help="A file made by this playground's JSON export.",
    )
    if uploaded is None:
        return
    try:
        chat_id = store.import_json(uploaded.getvalue())
    except PlaygroundError as exc:
        st.error(error_text(exc), icon=":material/error:")
        return
    st.session_state[state.CHATS_IMPORT_ROUND] = round_ + 1  # a fresh uploader: the file is not imported twice
    open_chat(store, chat_id)
    st.rerun()


def render_chats_sidebar(store: ConversationStore, current_id: str | None) -> None:
    st.subheader(":material/forum: Chats")
    st.button("New chat", icon=":material/add:", key="chats.new", on_click=new_chat, width="stretch")
    query = st.text_input("Search chats", key=state.CHATS_QUERY, placeholder="Search titles and messages")
    chats = store.list(query, limit=LIST_LIMIT)
    if not chats:
        st.caption("No chats match." if query.strip() else "No saved chats yet.")
    for summary in chats:
        current = summary.id == current_id
        st.button(
            f"{summary.title} ({summary.message_count})",
            key=f"chats.open.{summary.id}",
            on_click=open_chat,
            args=(store, summary.id),
            type="primary" if current else "tertiary",
            width="stretch",
        )
    if current_id:
        _current_chat_actions(store, current_id)
    _import(store)
