"""RAG: the same question answered without and with your documents, side by side, with checkable sources.

Thin page: settings (sidebar), the library (collection, upload, demo, browse), the
question, then two columns streamed together. The work is in ``ui/rag_*.py`` and ``rag/``.
"""

import streamlit as st

from core.errors import PlaygroundError
from rag.retrieval import MAX_QUESTION_CHARS
from ui import rag_state
from ui.errors import guard, show_error
from ui.model_sidebar import ensure_loaded
from ui.rag_answer import ask, render_turn, settle
from ui.rag_library import render_browser, render_collection_bar, render_last_report, render_uploader
from ui.rag_settings import render_rag_settings
from ui.rag_view import code
from ui.state import current_choice


def question_box(ready: bool) -> tuple[str, bool]:
    question = st.text_area(
        "Question", key=rag_state.QUESTION, height=90, max_chars=MAX_QUESTION_CHARS, persist_state="session",
        placeholder="Ask about something after the model's 2024 cutoff, e.g. what your documents say about 2025.",
    )  # fmt: skip
    asked = st.button("Ask both", key="rag.ask", type="primary", icon=":material/send:", disabled=not ready,
                      help="Asks the model twice: alone, and with the chunks retrieved from the collection.")  # fmt: skip
    return (question or "").strip(), asked


def answer_columns(collection: str | None) -> dict[str, object]:
    """The two answer columns' headers; returns their output slots (keyed ``rag-answer-plain`` / ``-rag``)."""
    plain, grounded = (c.container(key=f"rag-answer-{name}") for c, name in zip(st.columns(2, border=True), ("plain", "rag")))
    plain.markdown("#### :material/psychology_alt: Without retrieval")
    plain.caption("The model alone, from what it learned in training.")
    grounded.markdown("#### :material/library_books: With retrieval")
    grounded.caption(f"The same model, given the best chunks of {code(collection or '—')} and asked to cite them.")
    return {"plain": plain.empty(), "rag": grounded.empty()}


INTERLEAVED_NOTE = (
    ":material/info: Both answers come from the same model, generated in turn a token at a time, so each "
    "column's first-token time and tokens/s include the other column's turns."
)

rag_state.apply_requests()
st.title(":material/library_books: RAG")
st.caption(
    "Qwen2.5 learned nothing after 2024. Ask about something later and compare its answer alone with its answer "
    "grounded in your documents, whose sources you can open and check."
)

settings = None
try:
    settings = render_rag_settings()
except PlaygroundError as exc:
    show_error(exc, st.sidebar)

info = None
with st.container(border=True):
    with guard("The library"):
        info = render_collection_bar(settings)
        if info is not None:
            render_uploader(info.name, settings)
        render_last_report(info.name if info is not None else None)
if info is not None:
    with st.expander("Documents and chunks", icon=":material/folder_open:"), guard("The document browser"):
        render_browser(info)

question, asked = question_box(ready=info is not None)
previous = st.session_state.get(rag_state.TURN)
settle(previous)
status_slot, stop_slot = st.container(), st.empty()
if asked and info is not None:
    if not question:
        status_slot.warning("Type a question first.", icon=":material/edit:")
    elif settings is None:
        status_slot.error("Fix the RAG settings in the sidebar first.", icon=":material/tune:")
    elif (loaded := ensure_loaded(current_choice(), status_slot)) is not None:
        status_slot.markdown(f"**Question:** {question}")
        slots = answer_columns(info.name)
        stop_slot.button("Stop", key="rag.stop", icon=":material/stop_circle:", help="The text so far is kept.")
        try:
            ask(question, info.name, settings, loaded, slots)
        except PlaygroundError as exc:
            stop_slot.empty()
            show_error(exc, status_slot)
        else:
            st.rerun()  # draw the finished turn from the session, with the sidebar up to date
elif previous is not None:
    status_slot.markdown(f"**Question:** {previous.question}")
    render_turn(previous, answer_columns(previous.collection))
    st.caption(INTERLEAVED_NOTE)
