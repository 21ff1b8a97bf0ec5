"""Heavy objects shared by every session of the app, kept in ``st.cache_resource``.

- :func:`get_pool`: the one :class:`core.pool.ModelPool` (thread-safe, bounded
  by ``PLAYGROUND_MAX_MODELS``, least recently used unloaded first).
- :func:`get_load_jobs`: background loads feeding that pool (see ``ui.load_jobs``).
- :func:`get_store`: the conversation store of ``DATABASE_URL``, else of the
  current ``PLAYGROUND_HOME`` (cached per database, so tests that point the
  home elsewhere get their own). A malformed URL or a server that is down
  raises a :class:`core.db.DatabaseError` (shown by the page's guard) and is
  tried again on the next run.
"""

from __future__ import annotations

import streamlit as st

from core import db
from core.conversations import DB_FILE, ConversationStore
from core.pool import ModelPool
from ui.load_jobs import LoadJobs


@st.cache_resource(show_spinner=False)
def get_pool() -> ModelPool:
    return ModelPool()


@st.cache_resource(show_spinner=False)
def get_load_jobs() -> LoadJobs:
    return LoadJobs(get_pool())


@st.cache_resource(show_spinner=False)
def _store_at(url: str) -> ConversationStore:
    return ConversationStore(url=url)


def get_store() -> ConversationStore:
    """The conversation store of DATABASE_URL, else under the current PLAYGROUND_HOME."""
    return _store_at(db.resolve_url(default_file=DB_FILE))
