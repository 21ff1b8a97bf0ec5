"""AppTest tests of the RAG page.

Most tests embed with rag's deterministic ``HashingEmbeddings`` (``PLAYGROUND_RAG_EMBEDDINGS=hashing``:
no model to load, so the file runs in seconds); one test uses the real offline MiniLM.
Answers come from a tiny random Qwen2.5 with a 2,048-token window (the shared 512-token
tiny model leaves no room for sources), so no test asserts on what the model says: the tests
assert on what the page does with it. The store is the test's own (``PLAYGROUND_HOME`` is a
temp dir, see tests/conftest.py), so counts read back from it are this test's alone.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rag.answer import NO_SOURCES_REPLY, Prepared, finish
from rag.demo import DEMO_COLLECTION, load_questions, sample_files
from rag.retrieval import Hit
from ui import rag_state
from tests.rag_server import chroma_server  # noqa: F401  (fixture)
from ui.rag_resources import EMBEDDINGS_ENV, catalog

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "app_pages/rag.py"
SHORT = 6  # max_new_tokens of test answers

NOTE_MD = b"# Zorblax\n\nIn March 2025 the Zorblax probe landed on the moon Europa and found salty ice.\n"
OTHER_MD = b"# Tea\n\nGreen tea is brewed at about 80 degrees Celsius for two minutes.\n"
CP1252 = "Caf\u00e9 cr\u00e8me \u2013 \u201cna\u00efve\u201d r\u00e9sum\u00e9 of the 2025 meeting.".encode("cp1252")


@pytest.fixture(scope="module")
def rag_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5 with room for a few sources in its window."""
    from tests.fixtures.tiny_models import build_tiny_model

    return build_tiny_model("qwen2.5", tmp_path_factory.mktemp("tiny-rag"), max_position_embeddings=2048)


@pytest.fixture(autouse=True)
def _hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EMBEDDINGS_ENV, "hashing")


def start(monkeypatch: pytest.MonkeyPatch, model: Path | None = None) -> AppTest:
    """The app on the RAG page (with ``model`` as the sidebar's model), answers kept short."""
    if model is not None:
        monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", str(model))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["rag.set.max_new_tokens"] = SHORT
    at.session_state["rag.set.temperature"] = 0.7  # greedy tiny-model text is all newlines: sample words instead
    at.run()
    at.switch_page(PAGE)
    return run(at)


def run(at: AppTest) -> AppTest:
    """Run; fail on an exception, including one a guarded panel caught and showed ("<panel> failed. ...")."""
    at.run()
    assert not at.exception, at.exception
    crashed = [e.value for e in at.error if " failed. **" in e.value]
    assert not crashed, crashed
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return run(at)


def create(at: AppTest, name: str) -> AppTest:
    at.text_input(key=rag_state.NEW_NAME).set_value(name)
    return click(at, "rag.create")


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    """Put ``files`` in the uploader, then press "Add files"."""
    uploader = next(u for u in at.file_uploader if u.key.startswith("rag.upload."))
    uploader.set_value([(name, data, "application/octet-stream") for name, data in files])
    run(at)
    return click(at, "rag.add_files")


def report(at: AppTest) -> rag_state.IngestReport:
    return at.session_state[rag_state.REPORT]


def messages(at: AppTest) -> list[str]:
    """Alerts and Markdown blocks (the per-file lines of an ingestion report are one Markdown list)."""
    return [e.value for kind in (at.success, at.info, at.error, at.warning, at.markdown) for e in kind]


def shown(text: str) -> str:
    """What st.markdown displays of ``text`` (Streamlit dedents and strips it)."""
    return textwrap.dedent(text).strip()


def documents(collection: str) -> dict[str, int]:
    return {d.source: d.chunks for d in catalog().list_documents(collection)}


# --- collections ----------------------------------------------------------------------------------------------


def test_empty_store_invites_a_collection_and_explains_a_bad_name(monkeypatch):
    """With no collection the page says how to start and nothing can be asked; a 2-character name is refused
    with rag's rule (no collection appears), a valid one is created and selected."""
    at = start(monkeypatch)
    assert any("Load the demo" in i.value for i in at.info)
    assert at.button(key="rag.ask").disabled
    create(at, "ab")
    assert any("3 to 512" in e.value for e in at.error)
    assert catalog().collection_names() == []
    create(at, "my-notes")
    assert catalog().collection_names() == ["my-notes"]
    assert at.selectbox(key=rag_state.COLLECTION).value == "my-notes"
    assert any("Created collection `my-notes`" in s.value for s in at.success)
    assert at.text_input(key=rag_state.NEW_NAME).value == ""


# --- uploads -----------------------------------------------------------------------------------------------------


def test_mixed_upload_reports_every_file_and_stores_only_the_good_ones(monkeypatch):
    """One upload with two good files and five bad ones (empty, an image renamed .txt, a fake PDF, a file over
    the 1 MB limit set in the settings, an unsupported type): each gets its own alert with the file name and
    rag's message, the cp1252 file is read with a note saying so, and the store holds exactly the two good
    documents afterwards (the bad ones wrote nothing). The uploader is emptied so a rerun cannot add twice."""
    at = start(monkeypatch)
    create(at, "mixed")
    at.number_input(key="rag.set.max_mb").set_value(1)
    run(at)
    files = [
        ("zorblax.md", NOTE_MD),
        ("meeting.txt", CP1252),
        ("empty.txt", b""),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage"),
        ("huge.txt", b"word " * 250_000),
        ("slides.pptx", b"PK\x03\x04 not supported"),
    ]
    upload(at, files)
    results = {r.name: r for r in report(at).results}
    assert [r.name for r in report(at).results] == [name for name, _ in files]
    assert {n: r.status for n, r in results.items()} == {
        "zorblax.md": "added", "meeting.txt": "added", "empty.txt": "error", "photo.txt": "error",
        "broken.pdf": "error", "huge.txt": "error", "slides.pptx": "error",
    }  # fmt: skip
    assert {n: r.code for n, r in results.items() if r.code} == {
        "empty.txt": "empty", "photo.txt": "binary", "broken.pdf": "corrupt", "huge.txt": "too_large",
        "slides.pptx": "unsupported",
    }  # fmt: skip
    assert "cp1252" in results["meeting.txt"].note
    shown_lines = [line for m in messages(at) for line in m.splitlines()]
    for result in results.values():  # each file's own line: its name, its message (and note)
        assert any(f"`{result.name}`" in line and result.message in line and result.note in line for line in shown_lines)
    assert sorted(n for e in at.error for n in results if f"`{n}`" in e.value) == sorted(
        n for n, r in results.items() if r.status == "error"
    )  # one error box per failed file
    assert documents("mixed") == {"meeting.txt": results["meeting.txt"].chunks, "zorblax.md": results["zorblax.md"].chunks}
    uploader = next(u for u in at.file_uploader if u.key.startswith("rag.upload."))
    assert uploader.key == "rag.upload.1" and not uploader.value
    assert at.button(key="rag.add_files").disabled


def test_duplicate_uploads_add_nothing(monkeypatch):
    """The same file again is "unchanged" and the same bytes under another name "duplicate": both say so
    and the collection's chunk count does not move."""
    at = start(monkeypatch)
    create(at, "dupes")
    upload(at, [("zorblax.md", NOTE_MD)])
    before = catalog().collection_info("dupes").chunks
    upload(at, [("zorblax.md", NOTE_MD), ("copy-of-zorblax.md", NOTE_MD)])
    assert [(r.name, r.status) for r in report(at).results] == [("zorblax.md", "unchanged"), ("copy-of-zorblax.md", "duplicate")]
    assert any("`copy-of-zorblax.md`: **duplicate**. Same content as 'zorblax.md'" in m for m in messages(at))
    assert catalog().collection_info("dupes").chunks == before
    assert documents("dupes") == {"zorblax.md": before}


def test_invalid_chunk_settings_are_explained_and_block_ingestion(monkeypatch):
    """An overlap not smaller than the chunk size is rag's InvalidOptionError, shown in the sidebar; pressing
    "Add files" then says to fix the settings and stores nothing."""
    at = start(monkeypatch)
    create(at, "settings")
    at.number_input(key="rag.set.chunk_size").set_value(200)
    at.number_input(key="rag.set.chunk_overlap").set_value(300)
    run(at)
    assert any("chunk_overlap (300) must be smaller than chunk_size (200)" in e.value for e in at.sidebar.error)
    upload(at, [("zorblax.md", NOTE_MD)])
    assert any("Fix the RAG settings" in e.value for e in at.error)
    assert documents("settings") == {}


# --- browsing ----------------------------------------------------------------------------------------------------


def test_browse_chunks_then_delete_a_document_and_the_collection(monkeypatch):
    """The documents table lists what the store holds; picking a document shows its chunks exactly as stored
    (in file order); deleting it removes its chunks only; deleting the collection removes it from the store."""
    at = start(monkeypatch)
    create(at, "browse")
    at.number_input(key="rag.set.chunk_size").set_value(100)
    at.number_input(key="rag.set.chunk_overlap").set_value(10)
    upload(at, [("zorblax.md", NOTE_MD * 3), ("tea.md", OTHER_MD)])
    table = at.dataframe[0].value
    assert sorted(table["document"]) == ["tea.md", "zorblax.md"]
    assert dict(zip(table["document"], table["chunks"], strict=True)) == documents("browse")

    at.selectbox(key=rag_state.DOCUMENT).set_value("zorblax.md")
    run(at)
    stored = [c.text for c in catalog().document_chunks("browse", "zorblax.md")]
    assert len(stored) > 1
    assert [t.value for t in at.get("text")] == stored

    click(at, "rag.delete_document")
    assert list(documents("browse")) == ["tea.md"]
    assert any("Deleted `zorblax.md`" in s.value for s in at.success)
    assert at.selectbox(key=rag_state.DOCUMENT).value is None
    at.selectbox(key=rag_state.DOCUMENT).set_value("tea.md")  # a one-chunk document (no scrolling box)
    run(at)
    assert [t.value for t in at.get("text")] == [c.text for c in catalog().document_chunks("browse", "tea.md")]

    click(at, "rag.delete_collection")
    assert catalog().collection_names() == []
    assert any("Deleted collection `browse`" in s.value for s in at.success)


# --- demo ---------------------------------------------------------------------------------------------------------


def test_demo_ingests_the_samples_and_fills_in_a_question(monkeypatch):
    """One click stores every sample file in the demo collection, selects it and fills the question box with the
    first demo question; a second click stores nothing new (all "unchanged") and fills in the second question."""
    at = start(monkeypatch)
    click(at, "rag.demo")
    names = sorted(p.name for p in sample_files())
    assert sorted(documents(DEMO_COLLECTION)) == names
    assert at.selectbox(key=rag_state.COLLECTION).value == DEMO_COLLECTION
    questions = load_questions()
    assert at.text_area(key=rag_state.QUESTION).value == questions[0].question
    assert {r.status for r in report(at).results} == {"added"}
    chunks = catalog().collection_info(DEMO_COLLECTION).chunks

    click(at, "rag.demo")
    assert {r.status for r in report(at).results} == {"unchanged"}
    assert catalog().collection_info(DEMO_COLLECTION).chunks == chunks
    assert at.text_area(key=rag_state.QUESTION).value == questions[1].question


# --- asking --------------------------------------------------------------------------------------------------------


def source_expanders(at: AppTest) -> list:
    return [e for e in at.expander if e.label.startswith("\\[")]


def test_ask_answers_in_both_columns_with_sources_and_scores(monkeypatch, rag_model_dir):
    """After the demo, "Ask both" answers twice: the text in each column is its side's final text, each column
    has its metrics line, and under the retrieval column one expander per source in the prompt, numbered in
    order, with its name and score, holding the chunk's exact text. Scores are best first (top-k order)."""
    at = start(monkeypatch, rag_model_dir)
    click(at, "rag.demo")
    click(at, "rag.ask")
    turn: rag_state.Turn = at.session_state[rag_state.TURN]
    assert turn.question == load_questions()[0].question and turn.collection == DEMO_COLLECTION
    assert turn.plain.status == "complete" and turn.rag.status == "complete"
    assert turn.answer is not None and turn.answer.used_hits
    markdown = [m.value for m in at.markdown]
    assert turn.plain.text.strip() or turn.rag.text.strip()  # sampled words, so something to compare
    for side in (turn.plain, turn.rag):
        if side.text.strip():
            assert shown(side.text) in markdown
        assert side.metrics["completion_tokens"] <= SHORT
    assert sum(f"{turn.plain.metrics['completion_tokens']} tokens" in c.value for c in at.caption) >= 1
    assert sum(f"{turn.rag.metrics['completion_tokens']} tokens" in c.value for c in at.caption) >= 1

    hits = turn.answer.used_hits
    expanders = source_expanders(at)
    assert len(expanders) == len(hits)
    for number, (expander, hit) in enumerate(zip(expanders, hits, strict=True), start=1):
        assert expander.label.startswith(f"\\[{number}\\] `{hit.source}`")
        assert f"score {hit.score:.3f}" in expander.label
        assert [t.value for t in expander.get("text")] == [hit.text]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any(f"{turn.retrieved} chunks retrieved" in c.value for c in at.caption)

    run(at)  # a rerun (any click) redraws the same turn from the session
    assert len(source_expanders(at)) == len(hits)


def test_nothing_retrieved_skips_the_grounded_answer(monkeypatch, rag_model_dir):
    """With the minimum score at 1.0 no chunk qualifies: the retrieval column says nothing relevant was found
    and the model is not asked with retrieval, while the plain column is still answered."""
    at = start(monkeypatch, rag_model_dir)
    click(at, "rag.demo")
    at.slider(key="rag.set.threshold").set_value(1.0)
    run(at)
    click(at, "rag.ask")
    turn: rag_state.Turn = at.session_state[rag_state.TURN]
    assert turn.rag.status == "skipped" and turn.rag.text == NO_SOURCES_REPLY
    assert turn.plain.status == "complete"
    assert any(NO_SOURCES_REPLY in i.value for i in at.info)
    assert source_expanders(at) == []


def test_an_empty_question_is_refused(monkeypatch, rag_model_dir):
    at = start(monkeypatch, rag_model_dir)
    click(at, "rag.demo")
    at.text_area(key=rag_state.QUESTION).set_value("   ")
    run(at)
    click(at, "rag.ask")
    assert any("Type a question" in w.value for w in at.warning)
    assert rag_state.TURN not in at.session_state


def test_real_minilm_finds_the_uploaded_fact(monkeypatch, rag_model_dir):
    """With the real offline MiniLM (the default), the chunk about the made-up Zorblax probe is the best source
    for a question about it, and the collection records MiniLM as its embedding model."""
    monkeypatch.delenv(EMBEDDINGS_ENV)
    at = start(monkeypatch, rag_model_dir)
    create(at, "minilm")
    upload(at, [("zorblax.md", NOTE_MD), ("tea.md", OTHER_MD)])
    assert catalog().collection_info("minilm").embedding_model == "all-MiniLM-L6-v2"
    at.text_area(key=rag_state.QUESTION).set_value("Where did the Zorblax probe land in 2025?")
    run(at)
    click(at, "rag.ask")
    hits = at.session_state[rag_state.TURN].answer.used_hits
    assert hits[0].source == "zorblax.md"
    assert hits[0].score > hits[-1].score
    assert source_expanders(at)[0].label.startswith("\\[1\\] `zorblax.md`")


# --- citations (the view alone, from a reply whose citations are known) ---------------------------------------------


def _cited_turn(reply: str) -> rag_state.Turn:
    hits = [Hit(f"id{i}", f"Chunk text {i}.", f"doc{i}.md", None, 0, 0.9 - i / 10) for i in (1, 2)]
    prepared = Prepared(question="q?", hits=hits, messages=[], used_hits=hits)
    turn = rag_state.Turn(question="q?", collection="c", model="m", retrieved=2, budget_tokens=1000)
    turn.rag = rag_state.Side(text=reply, status="complete", metrics={"completion_tokens": 9})
    turn.answer = finish(prepared, reply)
    return turn


def _render_rag(reply: str) -> AppTest:
    def script(reply: str) -> None:
        from tests.test_app_rag import _cited_turn
        from ui.rag_view import render_rag

        render_rag(_cited_turn(reply))

    at = AppTest.from_function(script, args=(reply,))
    return run(at)


def test_citations_map_to_sources_and_out_of_range_ones_are_flagged():
    """"[2]" maps to the second source (marked cited in its expander); "[7]" matches none of the two sources
    and is flagged; an answer citing nothing is flagged too."""
    at = _render_rag("Zorblax landed on Europa [2]. It was sunny [7].")
    assert any("Cites \\[2\\] `doc2.md`" in m.value for m in at.markdown)
    assert any("\\[7\\]" in w.value and "only 2 sources" in w.value for w in at.warning)
    labels = [e.label for e in source_expanders(at)]
    assert labels[1].endswith("· cited") and not labels[0].endswith("· cited")

    at = _render_rag("Zorblax landed on Europa.")
    assert any("cites no source" in w.value for w in at.warning)


# --- the store on a Chroma server -----------------------------------------------------------------------------------


@pytest.mark.server
def test_page_uses_the_chroma_server_from_the_environment(monkeypatch, chroma_server):  # noqa: F811
    """With CHROMA_HOST/CHROMA_PORT set, the page says it uses that server and what it uploads lands there
    (read back with a client of our own)."""
    from rag.store import RagStore, StoreConfig

    monkeypatch.setenv("CHROMA_HOST", chroma_server.host)
    monkeypatch.setenv("CHROMA_PORT", str(chroma_server.port))
    at = start(monkeypatch)
    create(at, "page-on-server")
    try:
        upload(at, [("zorblax.md", NOTE_MD)])
        assert any(f"Chroma server at http://{chroma_server.host}:{chroma_server.port}" in c.value for c in at.caption)
        server = RagStore(StoreConfig(host=chroma_server.host, port=chroma_server.port))
        assert [d.source for d in server.list_documents("page-on-server")] == ["zorblax.md"]
    finally:
        catalog().delete_collection("page-on-server")


def test_an_unreachable_server_is_explained(monkeypatch):
    """A CHROMA_HOST nobody listens on gives rag's message and hint in the page, not a traceback."""
    from tests.rag_server import free_port

    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(free_port()))
    at = start(monkeypatch)
    assert any("Cannot reach the Chroma server" in e.value and "unset CHROMA_HOST" in e.value for e in at.error)


# --- streaming in turn (the engine's streams on a real tiny model) ---------------------------------------------------


@pytest.fixture(scope="module")
def rag_model(rag_model_dir: Path):
    from core.loading import load

    return load(str(rag_model_dir), "fp32", "cpu")


def _streams(model, n_tokens: int) -> list:
    from core.engine import stream_chat
    from core.params import GenerationParams

    # Sampled with a seed: greedy decoding of a random tiny model is a run of newlines, which the engine
    # holds back as one chunk; sampled tokens come out one chunk each.
    params = GenerationParams(temperature=0.7, seed=1, max_new_tokens=n_tokens, repetition_penalty=1.0)
    return [stream_chat(model, [{"role": "user", "content": text}], params, ignore_eos=True)
            for text in ("First question?", "A second, different question?")]  # fmt: skip


def test_interleave_alternates_between_streams_and_keeps_every_chunk(rag_model):
    """Two streams on one model advance in turn (the lock is re-entrant in one thread): indices alternate while
    both run, and the chunks of each stream join to exactly that stream's final reply."""
    from ui.rag_answer import interleave

    streams = _streams(rag_model, 12)
    got: dict[int, list[str]] = {0: [], 1: []}
    order = []
    for index, chunk in interleave(streams):
        order.append(index)
        got[index].append(chunk.text)
    assert order[:6] == [0, 1, 0, 1, 0, 1]
    assert ["".join(got[i]) for i in (0, 1)] == [s.reply.text for s in streams]
    assert all(s.reply.metrics.completion_tokens == 12 for s in streams)


def test_an_interrupted_turn_keeps_its_partial_text_and_frees_the_model(rag_model, monkeypatch):
    """Streamlit stops a script by raising at its next st call; here the third redraw raises. Both sides are then
    "stopped" with the text they had, their streams are closed (generation cancelled, fewer tokens than asked),
    and the model's lock is free again."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from ui import rag_answer

    class Slot:
        calls = 0

        def markdown(self, text: str) -> None:
            Slot.calls += 1
            if Slot.calls == 3:
                raise StopException()

    monkeypatch.setattr(rag_answer, "REDRAW_S", 0.0)
    plain, grounded = _streams(rag_model, 50)
    turn = rag_state.Turn(question="q", collection="c", model="m")
    with pytest.raises(StopException):
        rag_answer.stream_turn(turn, {"plain": plain, "rag": grounded}, {"plain": Slot(), "rag": Slot()})
    for side, stream in ((turn.plain, plain), (turn.rag, grounded)):
        assert side.status == "stopped"
        assert side.text == stream.reply.text and 0 < stream.reply.metrics.completion_tokens < 50
        assert side.metrics["stop_reason"] == "cancelled"
    assert rag_model.lock.acquire(timeout=1.0)
    rag_model.lock.release()
