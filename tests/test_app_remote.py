"""AppTest tests of remote endpoints in the app: Chat and Compare against the scripted fake server.

PLAYGROUND_ENDPOINTS points at tests/fake_openai_server.py; the server's scripted reply is known,
so these tests can assert on what the page shows and stores, and on what the server received.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.conversations import ConversationStore
from tests.fake_openai_server import FakeOpenAIServer, Script, text_events
from ui.resources import get_pool

APP = str(Path(__file__).resolve().parent.parent / "app.py")
KEY = "sk-app-remote-0123456789abcdef"


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(api_key=KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _configured(server: FakeOpenAIServer, tiny_qwen25_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """remote:fake is configured (key from the environment), nothing is loaded, the server is fresh."""
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", json.dumps({"fake": server.endpoint_table(
        tokenizer=str(tiny_qwen25_dir), api_key_env="APP_REMOTE_KEY")}))  # fmt: skip
    monkeypatch.setenv("APP_REMOTE_KEY", KEY)
    server.scripts.clear()
    server.requests.clear()
    get_pool().unload_all()
    yield
    get_pool().unload_all()


def start(monkeypatch: pytest.MonkeyPatch, model: str, page: str | None = None) -> AppTest:
    monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", model)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_chat_with_a_remote_endpoint(monkeypatch, server: FakeOpenAIServer) -> None:
    """remote:fake is in the sidebar picker and selected; a message is answered with the server's
    scripted text, which is shown and stored with the remote engine's metrics; the server got the
    user's message and the key from the environment; the sidebar shows the masked key only."""
    server_reply = ["Remote", " says", " hello."]
    at = start(monkeypatch, "remote:fake")
    picker = at.sidebar.selectbox(key="model.pick")
    assert "remote:fake · remote server" in picker.options and picker.value == "remote:fake"
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "…cdef" in captions and KEY not in captions
    server.push(Script(events=text_events(server_reply, usage=(12, 3))))
    at.chat_input[0].set_value("Hello over there?").run()
    assert not at.exception, at.exception
    stored = ConversationStore().get(at.query_params["chat"])
    reply = stored.messages[1]
    assert (reply.content, reply.status) == ("Remote says hello.", "complete")
    assert reply.metrics["device"] == "remote" and reply.metrics["completion_tokens"] == 3
    assert any("Remote says hello." in md.value for m in at.chat_message for md in m.markdown)
    assert server.requests[-1]["messages"][-1] == {"role": "user", "content": "Hello over there?"}
    assert server.headers[-1]["Authorization"] == f"Bearer {KEY}"


def test_a_failing_endpoint_is_a_message_not_a_crash(monkeypatch, server: FakeOpenAIServer) -> None:
    """The server answers 503 mid-conversation: the page shows the typed error with its hint and
    stores the reply as failed; nothing raises."""
    at = start(monkeypatch, "remote:fake")
    server.push(Script(status=503, error_body={"error": {"message": "overloaded"}}))
    at.chat_input[0].set_value("Are you there?").run()
    assert not at.exception, at.exception
    assert any("HTTP 503" in e.value and "overloaded" in e.value for e in at.error)
    stored = ConversationStore().get(at.query_params["chat"])
    assert stored.messages[1].status == "error"


def test_compare_a_local_and_a_remote_pane(monkeypatch, server: FakeOpenAIServer, tiny_qwen25_dir) -> None:
    """Pane 1 is the local tiny model, pane 2 the remote endpoint: both finish side by side, pane 2's
    reply is the server's text, and its figures say it ran remotely."""
    at = start(monkeypatch, str(tiny_qwen25_dir), "app_pages/compare.py")
    for pane in ("p1", "p2"):
        at.session_state[f"cmp.{pane}.max_new_tokens"] = 6
    at.run()
    pick = at.selectbox(key="cmp.p2.pick")
    assert "remote:fake · remote server" in pick.options
    pick.set_value("remote:fake").run()
    assert not at.exception, at.exception
    server.push(Script(events=text_events(["From", " the", " server."])))
    at.chat_input[0].set_value("Compare local and remote.").run()
    assert not at.exception, at.exception
    panes = at.session_state["cmp.states"]
    assert [panes[p].status for p in ("p1", "p2")] == ["done", "done"]
    assert panes["p2"].reply == "From the server." and panes["p2"].metrics["device"] == "remote"
    assert panes["p1"].metrics["device"] == "cpu"


def test_rag_answers_with_a_remote_model(monkeypatch, server: FakeOpenAIServer) -> None:
    """The RAG page's two answers (plain and grounded) both stream from the endpoint: both sides show
    the server's text, and the grounded request carried the retrieved sources, the plain one not."""
    from rag.demo import DEMO_COLLECTION
    from ui import rag_state
    from ui.rag_resources import EMBEDDINGS_ENV

    monkeypatch.setenv(EMBEDDINGS_ENV, "hashing")
    at = start(monkeypatch, "remote:fake", "app_pages/rag.py")
    for key in ("rag.demo", "rag.ask"):
        at.button(key=key).click().run()
        assert not at.exception, at.exception
    turn = at.session_state[rag_state.TURN]
    assert turn.collection == DEMO_COLLECTION and turn.answer is not None and turn.answer.used_hits
    assert (turn.plain.status, turn.rag.status) == ("complete", "complete")
    assert turn.plain.text == turn.rag.text == "Hello world!"
    prompts = [json.dumps(r["messages"]) for r in server.requests]
    hit = turn.answer.used_hits[0].text[:40]
    assert len(prompts) == 2 and sum(json.dumps(hit)[1:-1] in p for p in prompts) == 1


def test_guardrails_columns_with_a_remote_model(monkeypatch, server: FakeOpenAIServer) -> None:
    """The Guardrails page generates its three columns (raw, safety prompt, all rails) on the
    endpoint; the safety-prompt column's request carries the extra system prompt."""
    from ui import guardrails_state as gs

    at = start(monkeypatch, "remote:fake", "app_pages/guardrails.py")
    at.text_area(key=gs.PROMPT).set_value("How do I kill a zombie process on Linux?")
    at.button(key="gr.run").click().run()
    assert not at.exception, at.exception
    turn = at.session_state[gs.TURN]
    for kind, column in turn.columns.items():
        assert (column.status, column.text) == ("complete", "Hello world!"), (kind, column.error)
    systems = [r["messages"][0]["content"] for r in server.requests if r["messages"][0]["role"] == "system"]
    assert len(server.requests) >= 3 and systems  # the safety prompt went to the server


def test_models_page_explains_what_a_remote_model_cannot_show(monkeypatch) -> None:
    """On the Models page a remote model is offered in the pickers; its specs need its config,
    which is on the server, so the page says so instead of failing."""
    at = start(monkeypatch, "remote:fake", "app_pages/models.py")
    assert any("remote:fake" in " ".join(map(str, s.options)) for s in at.selectbox)
    assert any("runs on a server" in e.value for kind in (at.error, at.warning, at.info) for e in kind)
