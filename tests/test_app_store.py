"""AppTest: a database that cannot be used is shown on the page, and the rest of the app keeps working.

No model is loaded and no server is needed: ``DATABASE_URL`` points at a closed local port (or is
malformed), which is exactly what a replica sees when PostgreSQL is down or misconfigured.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pg_server import free_port
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
