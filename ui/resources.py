"""Heavy objects shared by every session of the app, kept in ``st.cache_resource``.

- :func:`get_pool`: the one :class:`core.pool.ModelPool` (thread-safe, bounded
  by ``PLAYGROUND_MAX_MODELS``, least recently used unloaded first).
- :func:`get_load_jobs`: background loads feeding that pool (see ``ui.load_jobs``).
- :func:`get_store`: the conversation store for the current ``PLAYGROUND_HOME``
  (cached per path, so tests that point the home elsewhere get their own).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.conversations import ConversationStore
from core.paths import home_dir
from core.pool import ModelPool
from ui.load_jobs import LoadJobs


@st.cache_resource(show_spinner=False)
def get_pool() -> ModelPool:
    return ModelPool()


@st.cache_resource(show_spinner=False)
def get_load_jobs() -> LoadJobs:
    return LoadJobs(get_pool())


@st.cache_resource(show_spinner=False)
def _store_at(path: str) -> ConversationStore:
    return ConversationStore(Path(path))


def get_store() -> ConversationStore:
    """The conversation store under the current PLAYGROUND_HOME."""
    return _store_at(str(home_dir() / "conversations.sqlite3"))
