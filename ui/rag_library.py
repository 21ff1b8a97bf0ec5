"""The RAG page's library: pick or create a collection, add files or the demo corpus, browse and delete.

Contract:
- :func:`render_collection_bar` draws the collection picker, "create a collection"
  (the name is validated with rag's message) and the demo button, and returns the
  selected collection's :class:`rag.store.CollectionInfo` (None when there is none).
- :func:`ingest_with_progress` runs an ingestion with an ``st.progress`` bar fed by
  rag's per-file callback and keeps the per-file results in the session
  (:class:`ui.rag_state.IngestReport`), shown by :func:`render_last_report`. rag
  stores each file entirely or not at all, and the bar is only redrawn between files,
  so a rerun that interrupts an ingestion never leaves a file half-written.
- :func:`render_uploader`: files are added on "Add files", then the uploader is
  emptied (its key changes), so a rerun never ingests them twice.
- The demo button ingests ``rag/samples/`` into :data:`rag.demo.DEMO_COLLECTION`
  (unchanged files are skipped by content hash, so clicking again is cheap), selects
  that collection and fills the question box with the next demo question.
- :func:`render_browser` lists the collection's documents, shows a chosen document's
  chunks (text through ``st.text``) and deletes a document or the whole collection.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import PlaygroundError
from rag.demo import DEMO_COLLECTION, ingest_samples, load_questions
from rag.ingest import FileResult, ingest_uploads
from rag.store import CollectionInfo, validate_collection_name
from ui import rag_state
from ui.errors import show_error
from ui.rag_resources import catalog, store_for, store_for_collection
from ui.rag_settings import RagSettings
from ui.rag_view import code, render_report

MAX_CHUNKS_SHOWN = 50


def _select_next_run(collection: str, **extra: Any) -> None:
    rag_state.request({rag_state.COLLECTION: collection, rag_state.DOCUMENT: None, **extra})


# --- ingestion ------------------------------------------------------------------------------------------


def ingest_with_progress(
    collection: str, title: str, run: Callable[[Callable[[int, int, FileResult], None]], list[FileResult]]
) -> rag_state.IngestReport:
    """Run ``run(on_progress)`` under a progress bar; keep and return its report."""
    bar = st.progress(0.0, text=f"{title}: adding files to {code(collection)}…")

    def on_progress(done: int, total: int, result: FileResult) -> None:
        bar.progress(done / max(total, 1), text=f"{done}/{total} · {code(result.name)}: {result.status}")

    report = rag_state.IngestReport(collection, run(on_progress), title)
    st.session_state[rag_state.REPORT] = report
    bar.empty()
    return report


def render_last_report(collection: str | None) -> None:
    report: rag_state.IngestReport | None = st.session_state.get(rag_state.REPORT)
    if report is None or report.collection != collection:
        return
    with st.container(border=True):
        render_report(report)
        st.button("Dismiss", key="rag.dismiss_report", icon=":material/close:",
                  on_click=lambda: st.session_state.pop(rag_state.REPORT, None))  # fmt: skip


def run_demo(settings: RagSettings) -> None:
    """Ingest the demo corpus, then select it and fill in the next demo question (after a rerun)."""
    store = store_for_collection(DEMO_COLLECTION, settings.embedding_model)
    ingest_with_progress(
        DEMO_COLLECTION, "Demo corpus",
        lambda progress: ingest_samples(store, DEMO_COLLECTION, options=settings.ingest, on_progress=progress),
    )  # fmt: skip
    questions = load_questions()
    index = st.session_state.get(rag_state.DEMO_INDEX, 0) % len(questions)
    st.session_state[rag_state.DEMO_INDEX] = index + 1
    demo = questions[index]
    _select_next_run(DEMO_COLLECTION, **{rag_state.QUESTION: demo.question})
    rag_state.flash("info", f"Demo question {index + 1} of {len(questions)} (its answer is in {code(demo.source)}). "
                    "Press **Ask both** to compare the answers.")  # fmt: skip
    st.rerun()


def render_uploader(collection: str, settings: RagSettings | None) -> None:
    round_ = st.session_state.get(rag_state.UPLOAD_ROUND, 0)
    limit_mb = settings.ingest.max_bytes / 2**20 if settings is not None else None
    server_mb = int(st.get_option("server.maxUploadSize"))
    files = st.file_uploader(
        "Add documents (.txt, .md, .pdf, .html" + (f"; up to {limit_mb:g} MB each)" if limit_mb else ")"),
        accept_multiple_files=True,
        key=f"rag.upload.{round_}",
        # The browser refuses files over this at once, with no message in the report; keep it at the server's
        # limit (or above, if the setting is higher) so a file over the setting reaches rag's check and its message.
        max_upload_size=max(server_mb, math.ceil(limit_mb or 0)),
        help="Each file is checked, split, embedded and stored on its own: a bad file gets a message and the "
        "others are still added. The same content is never stored twice.",
    )
    clicked = st.button(
        f"Add {len(files)} file{'s' if len(files) != 1 else ''} to {collection}" if files else "Add files",
        key="rag.add_files", type="primary", icon=":material/upload_file:", disabled=not files,
    )  # fmt: skip
    if not (clicked and files):
        return
    if settings is None:
        st.error("Fix the RAG settings in the sidebar first.", icon=":material/tune:")
        return
    uploads = [(f.name, f.getvalue()) for f in files]
    store = store_for_collection(collection, settings.embedding_model)
    ingest_with_progress(
        collection, "Upload",
        lambda progress: ingest_uploads(store, collection, uploads, options=settings.ingest, on_progress=progress),
    )  # fmt: skip
    st.session_state[rag_state.UPLOAD_ROUND] = round_ + 1
    st.rerun()


# --- collections ------------------------------------------------------------------------------------------


def _create(name: str, settings: RagSettings | None) -> None:
    name = name.strip()
    try:
        validate_collection_name(name)
        if settings is None:
            raise PlaygroundError("Fix the RAG settings in the sidebar first.")
        if catalog().has_collection(name):
            rag_state.flash("info", f"Collection {code(name)} already exists: selected it.")
        else:
            store_for(settings.embedding_model).create_collection(name)
            rag_state.flash("success", f"Created collection {code(name)}. Add documents to it below.")
    except PlaygroundError as exc:
        show_error(exc)
        return
    _select_next_run(name, **{rag_state.NEW_NAME: ""})
    st.rerun()


def _describe(info: CollectionInfo) -> str:
    model = info.embedding_model or "unrecorded (uses the model in the settings)"
    return (
        f"{info.documents} document{'s' if info.documents != 1 else ''} · "
        f"{info.chunks} chunk{'s' if info.chunks != 1 else ''} · "
        f"embeddings: {code(model)} · {catalog().config.describe()}"
    )


def render_collection_bar(settings: RagSettings | None) -> CollectionInfo | None:
    """Collection picker, create and demo; returns the selected collection (see the module contract)."""
    names = catalog().collection_names()
    if st.session_state.get(rag_state.COLLECTION) not in names:
        st.session_state[rag_state.COLLECTION] = names[0] if names else None
    pick, new, create, demo = st.columns([3, 3, 1, 2], vertical_alignment="bottom")
    selected = pick.selectbox("Collection", names, key=rag_state.COLLECTION, placeholder="No collection yet",
                              index=None if not names else 0)  # fmt: skip
    new.text_input("New collection", key=rag_state.NEW_NAME, placeholder="e.g. my-notes", max_chars=512,
                   help="3-512 letters, digits, '.', '_' or '-', starting and ending with a letter or digit.")  # fmt: skip
    if create.button("Create", key="rag.create", icon=":material/add:"):
        _create(st.session_state.get(rag_state.NEW_NAME) or "", settings)
    if demo.button("Load the demo", key="rag.demo", icon=":material/auto_awesome:",
                   help="Adds rag/samples/ (13 short documents about 2025 events) to the "
                   f"'{DEMO_COLLECTION}' collection and fills in a question about them."):  # fmt: skip
        if settings is None:
            st.error("Fix the RAG settings in the sidebar first.", icon=":material/tune:")
        else:
            run_demo(settings)
    message = rag_state.take_flash()
    if message is not None:
        getattr(st, message[0])(message[1])
    if selected is None:
        st.info("Create a collection, or press **Load the demo** to try the bundled documents.",
                icon=":material/library_add:")  # fmt: skip
        return None
    info = catalog().collection_info(selected)
    st.caption(_describe(info))
    return info


# --- browsing -----------------------------------------------------------------------------------------------


def _delete_document(collection: str, source: str) -> None:
    removed = catalog().delete_document(collection, source)
    rag_state.flash("success", f"Deleted {code(source)} ({removed} chunks) from {code(collection)}.")
    rag_state.request({rag_state.DOCUMENT: None})
    st.rerun()


def _delete_collection(collection: str) -> None:
    catalog().delete_collection(collection)
    st.session_state.pop(rag_state.REPORT, None)
    rag_state.flash("success", f"Deleted collection {code(collection)}.")
    rag_state.request({rag_state.COLLECTION: None})
    st.rerun()


def render_chunks(collection: str, source: str) -> None:
    """The chunks of one document in file order, each with its index, page and length."""
    chunks = catalog().document_chunks(collection, source)
    shown = chunks[:MAX_CHUNKS_SHOWN]
    more = f"; the first {MAX_CHUNKS_SHOWN} are shown" if len(chunks) > len(shown) else ""
    st.caption(f"{len(chunks)} chunks{more}.")
    with st.container(height=420 if len(shown) > 2 else "content", key="rag-chunks"):  # scroll only when long
        for chunk in shown:
            page = f" · page {chunk.page}" if chunk.page else ""
            st.caption(f"**Chunk {chunk.chunk if chunk.chunk is not None else '?'}**{page} · {len(chunk.text)} characters")
            st.text(chunk.text)


def render_browser(info: CollectionInfo) -> None:
    """Documents of the collection, a document's chunks, delete buttons."""
    documents = catalog().list_documents(info.name)
    if not documents:
        st.caption("No documents yet.")
    else:
        table = pd.DataFrame(
            [{"document": d.source, "type": d.kind, "chunks": d.chunks, "pages": d.pages, "sha256": d.content_hash[:12]}
             for d in documents]  # fmt: skip
        )
        st.dataframe(table, hide_index=True, width="stretch")
        sources = [d.source for d in documents]
        if st.session_state.get(rag_state.DOCUMENT) not in sources:
            st.session_state[rag_state.DOCUMENT] = None
        source = st.selectbox("Show the chunks of", sources, key=rag_state.DOCUMENT, index=None,
                              placeholder="Pick a document")  # fmt: skip
        if source is not None:
            if st.button(f"Delete {source}", key="rag.delete_document", icon=":material/delete:"):
                _delete_document(info.name, source)
            render_chunks(info.name, source)
    with st.popover("Delete this collection", icon=":material/delete_forever:"):
        st.warning(f"Deletes {code(info.name)} with its {info.documents} documents and {info.chunks} chunks.")
        if st.button(f"Delete {info.name} for good", key="rag.delete_collection", type="primary"):
            _delete_collection(info.name)
