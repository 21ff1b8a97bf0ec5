"""AppTest with the shared store: replicas share chats through PostgreSQL; a database that cannot be
used is shown on the page, and the rest of the app keeps working.

The failure test loads no model and needs no server: ``DATABASE_URL`` points at a closed local port
(or is malformed), which is exactly what a replica sees when PostgreSQL is down or misconfigured.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.conversations import ConversationStore
from tests.pg_server import PostgresServer, free_port, pg_server  # noqa: F401 - pg_server is a fixture
from ui import compare_state as cs

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SECRET = "app-secret-never-shown"


def _errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"postgresql://chat:{SECRET}@127.0.0.1:{free_port()}/chats", "cannot reach the database"),
        (f"mysql://chat:{SECRET}@db.example/chats", "is not PostgreSQL or SQLite"),
    ],
)
def test_database_failure_is_shown_and_other_pages_work(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    """The Chat page needs the conversation store: it shows the typed error (masked URL, hint) instead of
    crashing. The Compare page's side-by-side mode needs no database and shows no error; its blind arena
    renders and shows the same error only in the leaderboard panel. The password never reaches the page."""
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    chat_errors = _errors(at)
    assert expected in chat_errors and "chat:***@" in chat_errors
    assert SECRET not in chat_errors and "DATABASE_URL" in chat_errors, "the hint says what to fix"
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, at.exception
    assert any("Compare" in t.value for t in at.title), "the Compare page itself renders"
    assert _errors(at) == "", "side by side does not touch the store"
    at.segmented_control(key=cs.MODE).set_value("arena").run()
    assert not at.exception, at.exception
    arena_errors = _errors(at)
    assert expected in arena_errors and SECRET not in arena_errors


@pytest.mark.server
def test_chat_in_one_replica_is_seen_by_another(
    monkeypatch: pytest.MonkeyPatch, tiny_qwen25_dir: Path, pg_server: PostgresServer, tmp_path: Path
) -> None:
    """Two app replicas with the same DATABASE_URL (two AppTests, each with its own PLAYGROUND_HOME, so
    nothing is shared but PostgreSQL): a turn answered in the first is in the second's chat list, and
    opening it there shows the same two messages that the store holds."""
    monkeypatch.setenv("DATABASE_URL", pg_server.url)
    monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", str(tiny_qwen25_dir))
    first = AppTest.from_file(APP, default_timeout=90)
    first.run()
    first.number_input(key="params.max_new_tokens").set_value(4)
    first.chat_input[0].set_value("Hello from replica one").run()
    assert not first.exception, first.exception
    chat_id = first.query_params["chat"]
    stored = ConversationStore(url=pg_server.url).get(chat_id)
    assert [m.role for m in stored.messages] == ["user", "assistant"] and stored.messages[1].status == "complete"

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "replica-two"))
    second = AppTest.from_file(APP, default_timeout=90)
    second.run()
    assert any(b.label.startswith("Hello from replica one") for b in second.sidebar.button), "listed in replica two"
    second.query_params["chat"] = chat_id
    second.run()
    assert not second.exception, second.exception
    bubbles = ["".join(md.value for md in m.markdown) for m in second.chat_message]
    reply = textwrap.dedent(stored.messages[1].content).strip()  # what st.markdown displays of it
    assert bubbles == ["Hello from replica one", reply]
