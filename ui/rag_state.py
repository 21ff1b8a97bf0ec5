"""The RAG page's session state: its keys, what the last actions produced, and deferred widget changes.

Contract:
- Every key the page keeps in ``st.session_state`` is named here.
- :func:`request` / :func:`apply_requests`: an action that wants to change a widget
  drawn earlier in the same run (the demo fills the question and picks its collection)
  records the change and reruns; :func:`apply_requests` writes it before any widget is
  drawn, since Streamlit forbids changing a drawn widget's value.
- :func:`flash` / :func:`take_flash`: a one-time message shown after such a rerun.
- :class:`IngestReport` (the per-file results of the last upload or demo) and
  :class:`Turn` (the last question with both answers) outlive reruns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from rag.answer import Answer
from rag.ingest import FileResult

COLLECTION = "rag.collection"  # selectbox: the collection in use
NEW_NAME = "rag.new_name"  # text input: name of a collection to create
QUESTION = "rag.question"  # text area
DOCUMENT = "rag.document"  # selectbox: the document whose chunks are shown
UPLOAD_ROUND = "rag.upload_round"  # bumped to empty the uploader after its files were added
REPORT = "rag.report"  # IngestReport of the last ingestion
TURN = "rag.turn"  # Turn: the last question and both answers
DEMO_INDEX = "rag.demo_index"  # which demo question the next demo click fills in
REQUESTS = "rag.requests"  # widget key -> value to set at the start of the next run
FLASH = "rag.flash"  # (kind, markdown) shown once at the top of the library


@dataclass
class IngestReport:
    collection: str
    results: list[FileResult]
    title: str  # "Upload" or "Demo corpus"

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for result in self.results:
            found[result.status] = found.get(result.status, 0) + 1
        return found


@dataclass
class Side:
    """One column's answer: the text so far, its metrics and how it ended."""

    text: str = ""
    status: str = "pending"  # pending, streaming, complete, stopped, error, skipped
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Turn:
    """The last question asked, answered without and with retrieval."""

    question: str
    collection: str
    model: str
    plain: Side = field(default_factory=Side)
    rag: Side = field(default_factory=Side)
    answer: Answer | None = None  # citations mapped to chunks, once the retrieval answer is final
    retrieved: int = 0  # hits retrieved (some may not have fitted the prompt budget)
    budget_tokens: int = 0
    finished: threading.Event = field(default_factory=threading.Event, repr=False)


def request(changes: dict[str, Any]) -> None:
    """Set widget values (key -> value) at the start of the next run."""
    pending = st.session_state.setdefault(REQUESTS, {})
    pending.update(changes)


def apply_requests() -> None:
    for widget_key, value in st.session_state.pop(REQUESTS, {}).items():
        st.session_state[widget_key] = value


def flash(kind: str, text: str) -> None:
    st.session_state[FLASH] = (kind, text)


def take_flash() -> tuple[str, str] | None:
    return st.session_state.pop(FLASH, None)
