"""The conversation store: persistence, titles, search, export/import, concurrency, schema.

Every test that takes ``db_url`` (or the ``store`` fixture) runs twice: on SQLite under pytest's
``tmp_path`` and on a real PostgreSQL server started by ``tests.pg_server`` (a fresh schema per
test). Tests of SQLite files themselves (WAL, a removed or corrupt file) run on SQLite only.
Nothing touches the real ``data/``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import db
from core.conversations import (
    DEFAULT_TITLE,
    EXPORT_FORMAT,
    MAX_IMPORT_BYTES,
    MAX_MESSAGE_BYTES,
    SCHEMA_VERSION,
    Conversation,
    ConversationNotFoundError,
    ConversationStore,
    ConversationStoreError,
    ImportFormatError,
    InvalidConversationError,
    SchemaVersionError,
    MESSAGES,
    StoredMessage,
    main,
)
from core.errors import PlaygroundError
from core.params import GenerationParams
from tests.pg_server import db_backend, db_url, pg_server  # noqa: F401 - fixtures

SETTINGS = {
    "system_prompt": "You are terse.\nAnswer in | pipes |.",
    "model": "qwen2.5-0.5b-instruct",
    "quant": "nf4",
    "device": "cpu",
    "params": GenerationParams(temperature=0.3, seed=1234, stop=("###",)).to_dict(),
    "thinking": False,
}

TRICKY_TEXTS = [
    "plain",
    "emoji 🦜🔥 and CJK 你好",
    "NUL\x00inside\x00text",
    "'); DROP TABLE messages; --",
    "100% of a_b matches %_%",
    "",
    "line1\r\nline2\n\n```python\nprint('x')\n```",
]


@pytest.fixture
def store(db_url: Callable[[str], str]) -> ConversationStore:
    return ConversationStore(url=db_url("chats"))


def _filled(store: ConversationStore) -> str:
    """A conversation with settings, reasoning, metrics and every status."""
    cid = store.create(settings=SETTINGS)
    store.add_message(cid, "system", "Be helpful.")
    store.add_message(cid, "user", "What is 2 + 2?")
    store.add_message(
        cid,
        "assistant",
        "**4**",
        reasoning="2 + 2 = 4 🧮",
        metrics={"completion_tokens": 3, "decode_tokens_per_s": 12.5, "stop_reason": "eos", "device": "cpu"},
    )
    store.add_message(cid, "user", "And 3 + 3?")
    store.add_message(cid, "assistant", "Six, bu", metrics={"stop_reason": "cancelled"}, status="stopped")
    return cid


# --- basic round trips ------------------------------------------------------------------------


def test_messages_round_trip_exactly(store: ConversationStore) -> None:
    """Text is bound as a parameter and read back with its length, so emoji, NUL and SQL come back unchanged."""
    cid = store.create(settings=SETTINGS)
    ids = [store.add_message(cid, "user", text, reasoning=text, metrics={"t": text}) for text in TRICKY_TEXTS]
    chat = store.get(cid)
    assert isinstance(chat, Conversation)
    assert [m.content for m in chat.messages] == TRICKY_TEXTS
    assert [m.reasoning for m in chat.messages] == TRICKY_TEXTS
    assert [m.metrics for m in chat.messages] == [{"t": t} for t in TRICKY_TEXTS]
    assert [m.id for m in chat.messages] == ids, "messages come back in insertion order with their ids"
    assert all(isinstance(m, StoredMessage) and m.status == "complete" for m in chat.messages)
    assert chat.settings == SETTINGS
    assert {s.id for s in store.list()} == {cid}, "the DROP TABLE text was stored, not executed"


def test_default_path_is_under_playground_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a path the store lives in PLAYGROUND_HOME, whose missing parent folders it creates."""
    home = tmp_path / "does" / "not" / "exist"
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    store = ConversationStore()
    store.create()
    assert store.path == home / "conversations.sqlite3"
    assert store.path.is_file()


def test_database_runs_in_wal_mode(tmp_path: Path) -> None:
    """WAL lets readers proceed while one writer commits; the mode is persistent in the file."""
    store = ConversationStore(tmp_path / "chats.sqlite3")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = conn.execute("SELECT version FROM schema_versions WHERE component = 'conversations'").fetchone()
        assert version == (SCHEMA_VERSION,)


def test_update_message_saves_a_streaming_reply(store: ConversationStore) -> None:
    """The Chat page saves a growing reply; fields passed as None keep their stored value."""
    cid = store.create()
    mid = store.add_message(cid, "assistant", "", status="streaming")
    for partial in ("Hel", "Hello", "Hello, world"):
        store.update_message(mid, content=partial)
        assert store.get(cid).messages[0].content == partial, "each partial save is committed at once"
    store.update_message(mid, reasoning="thought", metrics={"completion_tokens": 4}, status="complete")
    message = store.get(cid).messages[0]
    assert (message.content, message.reasoning, message.metrics, message.status) == (
        "Hello, world",
        "thought",
        {"completion_tokens": 4},
        "complete",
    )


def test_metrics_non_finite_floats_become_null(store: ConversationStore) -> None:
    """JSON has no NaN/Infinity, so they are stored as null and the export stays valid JSON."""
    cid = store.create()
    store.add_message(cid, "assistant", "x", metrics={"rate": float("inf"), "other": float("nan"), "ok": 1.5})
    assert store.get(cid).messages[0].metrics == {"rate": None, "other": None, "ok": 1.5}
    json.dumps(store.export_json(cid), allow_nan=False)  # raises if a non-finite number slipped through


def test_lone_surrogates_are_replaced_not_fatal(store: ConversationStore) -> None:
    """A lone surrogate cannot be encoded as UTF-8; it is replaced by U+FFFD instead of crashing the save."""
    cid = store.create()
    store.add_message(cid, "user", "a\ud800b")
    content = store.get(cid).messages[0].content
    assert content.startswith("a") and content.endswith("b") and "\ufffd" in content


def test_updated_at_changes_on_every_write_and_orders_the_list(store: ConversationStore) -> None:
    """updated_at is bumped (strictly) by every write, and list() shows the most recently touched first."""
    first, second = store.create(), store.create()
    assert [s.id for s in store.list()] == [second, first]
    stamps = [store.get(first).updated_at]
    mid = store.add_message(first, "user", "hi")
    stamps.append(store.get(first).updated_at)
    store.update_message(mid, content="hi!")
    stamps.append(store.get(first).updated_at)
    store.update_settings(first, SETTINGS)
    stamps.append(store.get(first).updated_at)
    store.rename(first, "Renamed")
    stamps.append(store.get(first).updated_at)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), "strictly increasing"
    assert [s.id for s in store.list()] == [first, second]
    assert store.list()[0].message_count == 1


# --- titles ---------------------------------------------------------------------------------------


def test_first_user_message_names_a_new_chat(store: ConversationStore) -> None:
    """Only a default-titled chat is renamed, from the first non-blank line of the first user message."""
    cid = store.create()
    assert store.get(cid).title == DEFAULT_TITLE
    store.add_message(cid, "system", "System text is not a title")
    store.add_message(cid, "assistant", "Neither is a reply")
    assert store.get(cid).title == DEFAULT_TITLE
    store.add_message(cid, "user", "\n   \n  How   do\tI\x00 sort   a list?  \nsecond line")
    assert store.get(cid).title == "How do I sort a list?", "first line, control chars and runs of space collapsed"
    store.add_message(cid, "user", "A later question")
    assert store.get(cid).title == "How do I sort a list?", "later user messages keep the title"


def test_auto_title_is_cut_at_60_characters_with_an_ellipsis(store: ConversationStore) -> None:
    """A long first line becomes 59 characters plus '…' (60 in all)."""
    cid = store.create()
    store.add_message(cid, "user", "word " * 40)
    title = store.get(cid).title
    assert len(title) <= 60 and title.endswith("…")
    assert title[:-1].strip() == ("word " * 40)[:59].strip()


def test_blank_first_message_keeps_default_and_renamed_chat_is_not_overwritten(store: ConversationStore) -> None:
    """Whitespace gives no title; a title the user chose is never replaced by the auto title."""
    blank = store.create()
    store.add_message(blank, "user", "   \n\t ")
    assert store.get(blank).title == DEFAULT_TITLE
    named = store.create(title="My chat")
    store.add_message(named, "user", "Something else")
    assert store.get(named).title == "My chat"


def test_rename_trims_caps_and_refuses_empty(store: ConversationStore) -> None:
    """Titles are one trimmed line of at most 200 characters; an empty title is an error, not a blank row."""
    cid = store.create()
    store.rename(cid, "  Trip\nplans  ")
    assert store.get(cid).title == "Trip plans"
    store.rename(cid, "x" * 500)
    assert len(store.get(cid).title) == 200
    for bad in ("", "   ", "\n\t"):
        with pytest.raises(InvalidConversationError, match="empty"):
            store.rename(cid, bad)
    with pytest.raises(InvalidConversationError):
        store.rename(cid, None)  # type: ignore[arg-type]
    with pytest.raises(ConversationNotFoundError):
        store.rename("missing", "Title")


# --- search -----------------------------------------------------------------------------------------


def test_search_titles_and_message_text_case_insensitively(store: ConversationStore) -> None:
    """The query matches titles and message content, ignoring case (also beyond ASCII)."""
    python = store.create(title="Python questions")
    store.add_message(python, "user", "How do I read a CSV?")
    german = store.create(title="Deutsch")
    store.add_message(german, "user", "Über die STRASSE")
    other = store.create(title="Cooking")
    store.add_message(other, "user", "Pasta")

    assert [s.id for s in store.list("PYTHON")] == [python], "title match, case-insensitive"
    assert [s.id for s in store.list("read a csv")] == [python], "message text match"
    assert [s.id for s in store.list("über")] == [german], "Unicode case folding, not ASCII-only LIKE"
    assert [s.id for s in store.list("straße")] == [german], "casefold maps ß to ss"
    assert store.list("nothing like this") == []
    assert len(store.list("")) == len(store.list("   ")) == 3, "an empty query lists everything"


def test_search_wildcards_are_literal(store: ConversationStore) -> None:
    """'%' and '_' are ordinary characters in the query, so they only match themselves."""
    percent = store.create(title="Discount")
    store.add_message(percent, "user", "50% off")
    underscore = store.create(title="Names")
    store.add_message(underscore, "user", "snake_case")
    plain = store.create(title="Plain")
    store.add_message(plain, "user", "50 percent, snakeXcase")

    assert [s.id for s in store.list("%")] == [percent]
    assert [s.id for s in store.list("0%")] == [percent]
    assert [s.id for s in store.list("_")] == [underscore]
    assert [s.id for s in store.list("e_c")] == [underscore]
    assert store.list("'; DROP TABLE conversations; --") == []
    assert len(store.list()) == 3


def test_search_finds_text_after_a_nul(store: ConversationStore) -> None:
    """SQLite's LIKE stops at NUL; the Python matcher sees the whole stored text."""
    cid = store.create(title="Binaryish")
    store.add_message(cid, "user", "head\x00needle")
    assert [s.id for s in store.list("NEEDLE")] == [cid]


def test_list_limit(store: ConversationStore) -> None:
    """limit caps the number of summaries; the newest come first."""
    ids = [store.create(title=f"Chat {i}") for i in range(5)]
    assert [s.id for s in store.list(limit=2)] == ids[::-1][:2]
    assert store.list(limit=0) == []
    with pytest.raises(InvalidConversationError):
        store.list(limit=-1)


# --- deleting ----------------------------------------------------------------------------------------


def test_delete_removes_conversation_and_messages(store: ConversationStore) -> None:
    """A deleted chat is gone from get/list and its messages are gone from the file."""
    keep, gone = _filled(store), _filled(store)
    store.delete(gone)
    assert [s.id for s in store.list()] == [keep]
    with pytest.raises(ConversationNotFoundError) as info:
        store.get(gone)
    assert isinstance(info.value, KeyError) and isinstance(info.value, PlaygroundError)
    with db.get_engine(store.url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(MESSAGES).where(MESSAGES.c.conversation_id == gone)).scalar() == 0
    for call in (
        lambda: store.delete(gone),
        lambda: store.add_message(gone, "user", "x"),
        lambda: store.update_settings(gone, {}),
        lambda: store.export_json(gone),
    ):
        with pytest.raises(ConversationNotFoundError):
            call()


def test_delete_messages_from_cuts_the_tail(store: ConversationStore) -> None:
    """Regenerate / edit-and-resend: the message and every later one go; earlier ones and other chats stay."""
    cid, other = _filled(store), _filled(store)
    messages = store.get(cid).messages
    cut = messages[3]  # the second user message
    assert store.delete_messages_from(cid, cut.id) == 2
    assert [m.id for m in store.get(cid).messages] == [m.id for m in messages[:3]]
    assert len(store.get(other).messages) == 5, "the other conversation is untouched"
    with pytest.raises(ConversationNotFoundError):
        store.delete_messages_from(cid, store.get(other).messages[0].id)  # a message of another chat
    with pytest.raises(ConversationNotFoundError):
        store.delete_messages_from(cid, cut.id)  # already deleted
    assert len(store.get(other).messages) == 5


def test_message_ids_are_never_reused(store: ConversationStore) -> None:
    """AUTOINCREMENT: a stale id (a reply still streaming) can never write into a newer message."""
    cid = store.create()
    old = store.add_message(cid, "assistant", "old")
    store.delete_messages_from(cid, old)
    new = store.add_message(cid, "assistant", "new")
    assert new > old
    with pytest.raises(ConversationNotFoundError):
        store.update_message(old, content="stale write")
    assert store.get(cid).messages[0].content == "new"


# --- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "bot"}, "role must be one of"),
        ({"role": "USER"}, "role must be one of"),
        ({"content": None}, "content must be text"),
        ({"content": b"bytes"}, "content must be text"),
        ({"content": "x" * (MAX_MESSAGE_BYTES + 1)}, "too large"),
        ({"content": "é" * (MAX_MESSAGE_BYTES // 2 + 1)}, "too large"),
        ({"reasoning": 5}, "reasoning must be text"),
        ({"status": "done"}, "status must be one of"),
        ({"metrics": [1, 2]}, "metrics must be a dict"),
        ({"metrics": {"obj": object()}}, "JSON data"),
        ({"metrics": {1: "non-text key"}}, "keys must be text"),
    ],
)
def test_add_message_rejects_bad_input(store: ConversationStore, kwargs: dict, match: str) -> None:
    """Each bad argument raises a clear InvalidConversationError (a ValueError) and stores nothing."""
    cid = store.create()
    args = {"role": "user", "content": "hello", **kwargs}
    with pytest.raises(InvalidConversationError, match=match) as info:
        store.add_message(cid, args.pop("role"), args.pop("content"), **args)
    assert isinstance(info.value, ValueError)
    assert store.get(cid).messages == []


def test_message_at_the_size_limit_is_accepted(store: ConversationStore) -> None:
    """The cap is on UTF-8 bytes: exactly MAX_MESSAGE_BYTES is allowed."""
    cid = store.create()
    store.add_message(cid, "user", "x" * MAX_MESSAGE_BYTES)
    assert len(store.get(cid).messages[0].content) == MAX_MESSAGE_BYTES


def test_update_message_validates_and_needs_an_existing_message(store: ConversationStore) -> None:
    """update_message applies the same checks as add_message and leaves the row as it was on error."""
    cid = store.create()
    mid = store.add_message(cid, "assistant", "ok", status="streaming")
    with pytest.raises(InvalidConversationError):
        store.update_message(mid, content="new", status="finished")
    assert store.get(cid).messages[0].content == "ok", "validation happens before anything is written"
    for bad_id in (10**9, "1", None, True):
        with pytest.raises(ConversationNotFoundError):
            store.update_message(bad_id, content="x")  # type: ignore[arg-type]


def test_settings_are_validated_with_generation_params(store: ConversationStore) -> None:
    """params go through GenerationParams (range checks, unknown keys); missing params fields get defaults."""
    cid = store.create()
    with pytest.raises(InvalidConversationError, match="temperature"):
        store.update_settings(cid, {"params": {"temperature": 9.0}})
    with pytest.raises(InvalidConversationError, match="Unknown generation parameter"):
        store.update_settings(cid, {"params": {"temprature": 0.5}})
    with pytest.raises(InvalidConversationError, match="settings.thinking"):
        store.update_settings(cid, {"thinking": "yes"})
    with pytest.raises(InvalidConversationError, match="settings.model"):
        store.update_settings(cid, {"model": 42})
    with pytest.raises(InvalidConversationError, match="settings must be a dict"):
        store.update_settings(cid, ["not", "a", "dict"])  # type: ignore[arg-type]
    store.update_settings(cid, {"params": GenerationParams(seed=7), "thinking": True, "rag": {"k": 3}})
    settings = store.get(cid).settings
    assert settings["params"] == GenerationParams(seed=7).to_dict(), "a GenerationParams is stored as its dict"
    assert settings["rag"] == {"k": 3}, "extra JSON settings are kept for the Chat page"
    store.update_settings(cid, {"params": {"temperature": 0.0}})
    assert store.get(cid).settings["params"] == GenerationParams(temperature=0.0).to_dict()


# --- export / import ----------------------------------------------------------------------------------


def _comparable(chat: Conversation) -> tuple:
    return (
        chat.created_at,
        chat.settings,
        [(m.role, m.content, m.reasoning, m.metrics, m.status, m.created_at) for m in chat.messages],
    )


def test_export_json_is_complete_and_serialisable(store: ConversationStore) -> None:
    """The export carries the format tag, version, settings and every message field needed to reproduce the chat."""
    cid = _filled(store)
    data = store.export_json(cid)
    assert data["format"] == EXPORT_FORMAT and data["version"] == 1
    assert data["title"] == "What is 2 + 2?"
    assert data["settings"] == SETTINGS
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert set(data["messages"][2]) >= {"role", "content", "reasoning", "metrics", "status"}
    assert data["messages"][2]["reasoning"] == "2 + 2 = 4 🧮"
    assert data["messages"][4]["status"] == "stopped"
    assert json.loads(json.dumps(data, allow_nan=False)) == data


@pytest.mark.parametrize("as_type", ["dict", "str", "bytes"])
def test_import_of_export_round_trips(store: ConversationStore, as_type: str) -> None:
    """import(export(x)) equals x except the new id, the ' (imported)' title suffix and updated_at (a new write)."""
    cid = _filled(store)
    store.add_message(cid, "user", TRICKY_TEXTS[2] + TRICKY_TEXTS[3])
    exported = store.export_json(cid)
    payload = {"dict": exported, "str": json.dumps(exported), "bytes": json.dumps(exported).encode()}[as_type]
    new_id = store.import_json(payload)
    original, imported = store.get(cid), store.get(new_id)
    assert new_id != cid
    assert imported.title == original.title + " (imported)"
    assert _comparable(imported) == _comparable(original)
    assert store.export_json(new_id) == {**exported, "title": imported.title}


def test_import_into_another_store_simulates_moving_machines(tmp_path: Path, db_url: Callable[[str], str]) -> None:
    """An export written to a file imports into a fresh database with the same content."""
    source = ConversationStore(url=db_url("a"))
    cid = _filled(source)
    file = tmp_path / "chat.json"
    file.write_text(json.dumps(source.export_json(cid)), encoding="utf-8")
    target = ConversationStore(url=db_url("b"))
    new_id = target.import_json(file.read_bytes())
    assert _comparable(target.get(new_id)) == _comparable(source.get(cid))


def test_import_accepts_minimal_messages_and_a_bom(store: ConversationStore) -> None:
    """reasoning/metrics/status/created_at are optional per message; a UTF-8 BOM (Windows editors) is fine."""
    data = {"format": EXPORT_FORMAT, "version": 1, "title": "", "settings": {}, "messages": [
        {"role": "user", "content": "hi"}
    ]}
    new_id = store.import_json(b"\xef\xbb\xbf" + json.dumps(data).encode())
    chat = store.get(new_id)
    assert chat.title == "Untitled (imported)", "a blank title still yields a usable one"
    assert [(m.content, m.reasoning, m.metrics, m.status) for m in chat.messages] == [("hi", "", {}, "complete")]


def _valid() -> dict:
    return {
        "format": EXPORT_FORMAT,
        "version": 1,
        "title": "T",
        "created_at": 1_700_000_000.0,
        "settings": dict(SETTINGS),
        "messages": [{"role": "user", "content": "hi", "reasoning": "", "metrics": {}, "status": "complete"}],
    }


def _with(**changes) -> dict:
    data = _valid()
    for key, value in changes.items():
        if value is _DROP:
            del data[key]
        else:
            data[key] = value
    return data


def _message(**changes) -> dict:
    message = dict(_valid()["messages"][0])
    for key, value in changes.items():
        if value is _DROP:
            del message[key]
        else:
            message[key] = value
    return _with(messages=[message])


_DROP = object()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("this is not json", "not valid JSON"),
        ('{"format": "qwen-playground-chat",', "not valid JSON"),
        ("", "empty"),
        (b"\xff\xfe\x00\x01binary", "not UTF-8"),
        (b"x" * (MAX_IMPORT_BYTES + 1), "too large"),
        ("x" * (MAX_IMPORT_BYTES + 1), "too large"),
        (_nested(100_000), "not valid JSON"),
        ('{"format": NaN}', "not valid JSON"),
        ("[1, 2, 3]", "JSON list"),
        ('"just a string"', "JSON str"),
        (12345, "Cannot import a int"),
        (None, "Cannot import a NoneType"),
        (_with(format="something-else"), "format must be"),
        (_with(version=2), "newer playground"),
        (_with(version=0), "Unsupported format version"),
        (_with(version="1"), "version must be an integer"),
        (_with(version=True), "version must be an integer"),
        (_with(format=_DROP), "no 'format' field"),
        (_with(version=_DROP), "no 'version' field"),
        (_with(title=_DROP), "no 'title' field"),
        (_with(settings=_DROP), "no 'settings' field"),
        (_with(messages=_DROP), "no 'messages' field"),
        (_with(title=["T"]), "title must be text"),
        (_with(messages={"role": "user"}), "messages must be a list"),
        (_with(messages=["hi"]), r"messages\[0\] must be an object"),
        (_with(settings="cpu"), "settings must be a dict"),
        (_with(settings={"params": {"top_p": 5}}), "settings.params: top_p"),
        (_with(settings={"params": {"bogus": 1}}), "Unknown generation parameter"),
        (_with(created_at="yesterday"), "created_at must be a Unix time"),
        (_with(created_at=-5), "created_at must be a Unix time"),
        (_with(created_at=1e300), "created_at must be a Unix time"),
        (_message(role=_DROP), r"messages\[0\] has no 'role'"),
        (_message(content=_DROP), r"messages\[0\] has no 'content'"),
        (_message(role="wizard"), "role must be one of"),
        (_message(content=42), r"messages\[0\].content must be text"),
        (_message(reasoning=None), r"messages\[0\].reasoning must be text"),
        (_message(metrics=[1]), "metrics must be a dict"),
        (_message(status="exploded"), "status must be one of"),
        (_message(created_at=True), r"messages\[0\].created_at"),
        (_with(messages=[{"role": "user", "content": "x"}] * 10_001), "Too many messages"),
        ({**_valid(), "extra": {1, 2}}, "not JSON data"),
    ],
)
def test_malformed_import_is_refused_clearly(store: ConversationStore, payload, match: str) -> None:
    """Each malformed input raises ImportFormatError (a PlaygroundError with a hint) naming the problem; nothing is stored."""
    with pytest.raises(ImportFormatError, match=match) as info:
        store.import_json(payload)
    assert isinstance(info.value, PlaygroundError) and info.value.hint
    assert store.list() == [], "a refused import leaves no half-written conversation"


def test_import_refuses_a_bad_message_late_in_the_list(store: ConversationStore) -> None:
    """Validation covers every message before anything is written, so message 500 being bad stores nothing."""
    messages = [{"role": "user", "content": f"m{i}"} for i in range(600)]
    messages[500] = {"role": "user", "content": None}
    with pytest.raises(ImportFormatError, match=r"messages\[500\]"):
        store.import_json(_with(messages=messages))
    assert store.list() == []


def test_export_markdown_is_readable_and_verbatim(store: ConversationStore) -> None:
    """Title, settings table and one heading per message; model text (Markdown itself) is kept as is."""
    cid = _filled(store)
    code = "```python\nprint('| not a table |')\n```"
    store.add_message(cid, "assistant", code)
    md = store.export_markdown(cid)
    assert md.startswith("# What is 2 + 2?\n")
    assert "| Model | qwen2.5-0.5b-instruct |" in md
    assert "| Quantization | nf4 |" in md
    assert "| `seed` | 1234 |" in md
    assert "| `temperature` | 0.3 |" in md
    assert "You are terse.\nAnswer in | pipes |." in md, "the system prompt is shown verbatim in its own section"
    for heading in ("## 1. System", "## 2. User", "## 3. Assistant", "## 5. Assistant (stopped)", "## 6. Assistant"):
        assert heading in md
    assert "2 + 2 = 4 🧮" in md and "**4**" in md
    assert code in md, "model text is not escaped or re-wrapped"
    assert "3 tokens · 12.5 tok/s · stop: eos · on cpu" in md, "metrics of a reply are summarised under it"


# --- persistence, concurrency, schema -------------------------------------------------------------------


def test_conversations_survive_a_restart(db_url: Callable[[str], str]) -> None:
    """Every call commits before returning, so a new store on the same database (a restarted server) sees it all."""
    first = ConversationStore(url=db_url("chats"))
    cid = _filled(first)
    mid = first.add_message(cid, "assistant", "partial", status="streaming")
    first.update_message(mid, content="partial reply that was streaming when the tab closed")
    before = first.get(cid)
    del first
    db.dispose(db_url("chats"))  # no pooled connection survives the "restart"
    after = ConversationStore(url=db_url("chats")).get(cid)
    assert after == before
    assert after.messages[-1].status == "streaming", "an interrupted reply is kept with its status"


def _thread_writer(store: ConversationStore, cid: str, tag: str, count: int, barrier: threading.Barrier) -> None:
    barrier.wait()
    for i in range(count):
        mid = store.add_message(cid, "user", f"{tag}:{i}", status="streaming")
        store.update_message(mid, status="complete", metrics={"i": i})


def test_eight_threads_writing_at_once_lose_nothing(store: ConversationStore) -> None:
    """One connection per call and BEGIN IMMEDIATE serialise the writers: all 8 × 50 messages arrive, in order per thread."""
    shared = store.create(title="Shared")
    own = [store.create(title=f"Own {t}") for t in range(4)]
    targets = [shared] * 4 + own
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def run(t: int) -> None:
        try:
            _thread_writer(store, targets[t], f"t{t}", 50, barrier)
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise only printed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    shared_messages = store.get(shared).messages
    assert len(shared_messages) == 200
    for t in range(4):
        mine = [m.content for m in shared_messages if m.content.startswith(f"t{t}:")]
        assert mine == [f"t{t}:{i}" for i in range(50)], "each thread's messages all arrived, in its order"
    for t, cid in enumerate(own, start=4):
        assert [m.content for m in store.get(cid).messages] == [f"t{t}:{i}" for i in range(50)]
    assert all(m.status == "complete" for m in shared_messages), "no update was lost either"


_WRITER = """
import sys, time
from pathlib import Path
from core.conversations import ConversationStore
url, shared, own, tag, count, start_at = sys.argv[1:7]
store = ConversationStore(url=url)
time.sleep(max(0.0, float(start_at) - time.time()))  # both processes start writing together
for i in range(int(count)):
    store.add_message(shared, "user", f"{tag}:{i}")
    store.add_message(own, "assistant", f"{tag}:{i}")
"""


def test_two_processes_writing_at_once_lose_nothing(db_url: Callable[[str], str]) -> None:
    """Two processes (two app replicas) write at once: SQLite's WAL plus the busy timeout, or PostgreSQL's
    row lock on the conversation, make one wait for the other instead of failing or overwriting.

    The writers are separate interpreters (subprocess), not multiprocessing children: a spawned child
    re-imports the parent's __main__, which under a full test run can be a Streamlit AppTest script."""
    url = db_url("chats")
    store = ConversationStore(url=url)
    shared = store.create(title="Shared")
    own = [store.create(title="A"), store.create(title="B")]
    start_at = str(time.time() + 3.0)
    root = str(Path(__file__).resolve().parent.parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, shared, own[p], f"p{p}", "60", start_at],
            cwd=root, env={**os.environ, "PYTHONPATH": root}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for p in range(2)
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in results]
    shared_messages = [m.content for m in store.get(shared).messages]
    assert len(shared_messages) == 120
    for p in range(2):
        assert [c for c in shared_messages if c.startswith(f"p{p}:")] == [f"p{p}:{i}" for i in range(60)]
        assert [m.content for m in store.get(own[p]).messages] == [f"p{p}:{i}" for i in range(60)]


def test_reader_sees_a_consistent_snapshot_while_a_writer_works(store: ConversationStore) -> None:
    """get() reads the header and the messages in one transaction, so it never pairs an old updated_at
    with a newer message (every write stamps updated_at after the message's created_at)."""
    cid = store.create()
    stop = threading.Event()
    snapshots: list[Conversation] = []

    def reader() -> None:
        while not stop.is_set():
            snapshots.append(store.get(cid))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(300):
            store.add_message(cid, "user", f"m{i}")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert len(snapshots) > 10, "the reader ran alongside the writer"
    for chat in snapshots:
        assert all(m.created_at <= chat.updated_at for m in chat.messages)
        assert [m.content for m in chat.messages] == [f"m{i}" for i in range(len(chat.messages))]


def test_a_database_removed_while_running_is_recreated(tmp_path: Path) -> None:
    """If data/ is cleaned while the app runs, the next write starts a fresh file instead of failing forever."""
    home = tmp_path / "home"
    store = ConversationStore(home / "chats.sqlite3")
    store.create(title="Old")
    for file in home.iterdir():
        file.unlink()
    home.rmdir()
    cid = store.create(title="New")
    assert [s.title for s in store.list()] == ["New"]
    assert store.get(cid).title == "New"


def test_newer_schema_is_refused_untouched(db_url: Callable[[str], str]) -> None:
    """A database written by a newer playground is refused with SchemaVersionError and not modified."""
    url = db_url("chats")
    ConversationStore(url=url).create(title="Future")
    versions = db.VERSIONS
    with db.get_engine(url).begin() as conn:
        newer = versions.update().where(versions.c.component == "conversations").values(version=SCHEMA_VERSION + 1)
        conn.execute(newer)
    with pytest.raises(SchemaVersionError, match="newer version") as info:
        ConversationStore(url=url)
    assert info.value.hint and f"schema {SCHEMA_VERSION + 1}" in info.value.message
    with db.get_engine(url).connect() as conn:
        assert conn.execute(select(versions.c.component, versions.c.version)).all() == [
            ("conversations", SCHEMA_VERSION + 1)
        ]
        assert conn.exec_driver_sql("SELECT title FROM conversations").all() == [("Future",)]


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    """A corrupt or foreign file is reported as a ConversationStoreError with a hint, not an sqlite3 traceback."""
    path = tmp_path / "chats.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ConversationStoreError, match="not a readable conversation database") as info:
        ConversationStore(path)
    assert "PLAYGROUND_HOME" in info.value.hint


def test_an_unwritable_home_gives_a_clear_error(tmp_path: Path) -> None:
    """A home that is a file, not a folder, cannot hold the database: the error says to set PLAYGROUND_HOME."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConversationStoreError, match="Cannot create the folder") as info:
        ConversationStore(blocker / "sub" / "chats.sqlite3")
    assert "PLAYGROUND_HOME" in info.value.hint


# --- command line ---------------------------------------------------------------------------------------


def test_cli_lists_exports_and_imports(
    tmp_path: Path, db_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI (``--db`` a file or a URL) prints the list, exports JSON/Markdown, imports a file, and exits 2
    with a hint on errors."""
    url = db_url("chats")
    database = str(db.sqlite_path(url) or url)
    store = ConversationStore(url=url)
    cid = _filled(store)
    assert main(["--db", database, "list", "2 + 2"]) == 0
    assert cid in capsys.readouterr().out
    assert main(["--db", database, "export", cid]) == 0
    exported = capsys.readouterr().out
    assert json.loads(exported) == store.export_json(cid)
    assert main(["--db", database, "export", cid, "--format", "md"]) == 0
    assert "## 3. Assistant" in capsys.readouterr().out
    file = tmp_path / "chat.json"
    file.write_text(exported, encoding="utf-8")
    assert main(["--db", database, "import", str(file)]) == 0
    new_id = capsys.readouterr().out.strip()
    assert store.get(new_id).title.endswith(" (imported)")
    file.write_text("{broken", encoding="utf-8")
    assert main(["--db", database, "import", str(file)]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "hint:" in err
    assert main(["--db", database, "delete", "no-such-id"]) == 2
    assert "does not exist" in capsys.readouterr().err
