"""The shared store's database layer: URLs and masking, schema versions and upgrades, failures.

Schema and upgrade tests run on SQLite and on a real PostgreSQL server (``tests.pg_server``).
The failure tests need no server at all: a closed port, a socket that never answers, a malformed
URL; the wrong-password and server-restart tests use the real server.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, inspect, select, text

from core import db
from core.arena import ArenaStore, default_store
from core.conversations import SCHEMA_VERSION, ConversationStore, ConversationStoreError, SchemaVersionError
from tests.pg_server import (  # noqa: F401 - db_backend, db_url and pg_server are fixtures
    PASSWORD,
    USER,
    PostgresServer,
    db_backend,
    db_url,
    free_port,
    pg_server,
    require_pg_bin,
)

SECRET = "hunter2-NOT-TO-BE-SHOWN"

# --- URLs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:pw@db.example:5432/chats", "postgresql+psycopg://u:pw@db.example:5432/chats"),
        ("postgresql://u:pw@db.example/chats", "postgresql+psycopg://u:pw@db.example/chats"),
        ("postgresql+psycopg2://u@db.example/c?sslmode=require", "postgresql+psycopg://u@db.example/c?sslmode=require"),
        ("postgresql+psycopg://u:p%40ss@h/d", "postgresql+psycopg://u:p%40ss@h/d"),
        ("  postgresql://u@h/d \n", "postgresql+psycopg://u@h/d"),
        ("sqlite:////srv/shared/playground.sqlite3", "sqlite:////srv/shared/playground.sqlite3"),
        ("sqlite+pysqlite:////srv/x.sqlite3", "sqlite:////srv/x.sqlite3"),
    ],
)
def test_urls_are_normalized_to_the_shipped_drivers(given: str, expected: str) -> None:
    """Every PostgreSQL spelling (Heroku-style ``postgres://``, plain, another driver) becomes psycopg 3,
    the one driver installed; the password and query survive (the password still URL-encoded)."""
    assert db.normalize_url(given) == expected


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not a url at all", "malformed"),
        (f"postgresql://u:{SECRET}@host:notaport/db", "malformed"),
        (f"postgresql://u:{SECRET}@host:99999/db", "invalid port"),
        (f"mysql://u:{SECRET}@host/db", "not PostgreSQL or SQLite"),
        ("sqlite://", "names no file"),
        ("sqlite:///:memory:", "names no file"),
    ],
)
def test_bad_urls_are_refused_with_the_password_masked(given: str, match: str) -> None:
    """A malformed or unsupported URL is a DatabaseURLError (a PlaygroundError and a ValueError) with a hint;
    its message never contains the password, even when the URL cannot be parsed."""
    with pytest.raises(db.DatabaseURLError, match=match) as info:
        db.normalize_url(given)
    assert isinstance(info.value, ValueError) and info.value.hint
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://user:{SECRET}@h:5432/d",
        f"postgresql+psycopg://user:{quote(SECRET + '@/:')}@h/d",
        f"postgresql+psycopg://user@h/d?password={SECRET}&sslmode=require",
        f"postgresql://user:{SECRET}@h:notaport/d",  # unparsable: masked by pattern
        f"postgresql://user:{SECRET}/@x@h:notaport/d",  # unparsable, a raw / and @ in the password
        f"user:{SECRET}@h/d",  # no scheme at all
    ],
)
def test_mask_url_hides_every_password(url: str) -> None:
    """Passwords in the authority part and in a ``password=`` query are replaced by ***; the rest stays."""
    masked = db.mask_url(url)
    assert SECRET not in masked and quote(SECRET) not in masked and "***" in masked
    assert "user" in masked and "h" in masked


def test_database_url_selects_the_store_and_blank_means_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """DATABASE_URL wins over PLAYGROUND_HOME when no path or URL is given; a blank value is ignored."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "   ")
    assert ConversationStore().path == tmp_path / "conversations.sqlite3"
    shared = tmp_path / "shared" / "one.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{shared}")
    chats, votes = ConversationStore(), ArenaStore()
    assert chats.path == votes.path == shared, "both stores share the one database"
    assert default_store().path == shared
    chats.create(title="Shared")
    votes.record_vote({"model": "a"}, {"model": "b"}, "a", "p", ("x", "y"))
    with sqlite3.connect(shared) as conn:
        rows = conn.execute("SELECT component, version FROM schema_versions ORDER BY component").fetchall()
    assert rows == [("arena", 1), ("conversations", SCHEMA_VERSION)]
    assert ConversationStore(tmp_path / "explicit.sqlite3").path == tmp_path / "explicit.sqlite3", "a path wins"


# --- schema versions ------------------------------------------------------------------------------------------

V1_SQLITE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX conversations_by_update ON conversations (updated_at DESC);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL, reasoning TEXT NOT NULL DEFAULT '', metrics TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
    created_at REAL NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
"""  # the layout the stdlib-sqlite3 store (schema version 1) wrote
V1_POSTGRES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE conversations (
    id VARCHAR(32) PRIMARY KEY, title TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL, settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    conversation_id VARCHAR(32) NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role VARCHAR(16) NOT NULL, content TEXT NOT NULL, reasoning TEXT NOT NULL DEFAULT '',
    metrics TEXT NOT NULL DEFAULT '{}', status VARCHAR(16) NOT NULL, created_at DOUBLE PRECISION NOT NULL
)
"""  # the same layout in PostgreSQL terms, to run the upgrade step on that backend too
V1_ROWS = [
    ("c1", "Deutsch", 100.0, 300.0, json.dumps({"model": "m", "quant": "nf4"})),
    ("c2", "New chat", 200.0, 250.0, "{}"),
]
V1_MESSAGES = [
    ("c1", "user", "Über die STRASSE", "", "{}", "complete", 101.0),
    ("c1", "assistant", "Gern 🦜, 100% sicher", "denk", json.dumps({"completion_tokens": 3}), "stopped", 102.0),
    ("c2", "user", "plain text", "", "{}", "streaming", 201.0),
]


def _write_v1(url: str, version: str = "1") -> None:
    """A version 1 database as the old code left it, with two chats and three messages."""
    if db.sqlite_path(url) is not None:
        with sqlite3.connect(db.sqlite_path(url)) as conn:
            conn.executescript(V1_SQLITE)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
            conn.executemany("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)", V1_ROWS)
            conn.executemany("INSERT INTO messages (conversation_id, role, content, reasoning, metrics, status,"
                             " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", V1_MESSAGES)  # fmt: skip
        return
    with db.get_engine(url).begin() as conn:
        for statement in V1_POSTGRES.split(";"):
            conn.exec_driver_sql(statement)
        conn.execute(text("INSERT INTO meta VALUES ('schema_version', :v)"), {"v": version})
        for row in V1_ROWS:
            conn.exec_driver_sql("INSERT INTO conversations VALUES (%s, %s, %s, %s, %s)", row)
        for row in V1_MESSAGES:
            conn.exec_driver_sql("INSERT INTO messages (conversation_id, role, content, reasoning, metrics, status,"
                                 " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)", row)  # fmt: skip


def test_version_1_database_is_upgraded_in_place(db_url: Callable[[str], str]) -> None:
    """Opening a version 1 database upgrades it to the current version without losing a row: every title,
    setting, message, status and timestamp reads back as written, search works on the old rows (their
    case-folded keys were filled in), the old ``meta`` table is gone, and new messages get new ids."""
    url = db_url("legacy")
    _write_v1(url)
    store = ConversationStore(url=url)
    assert store._db.upgraded_from == 1
    c1 = store.get("c1")
    assert (c1.title, c1.created_at, c1.updated_at) == ("Deutsch", 100.0, 300.0)
    assert c1.settings == {"model": "m", "quant": "nf4"}
    assert [(m.role, m.content, m.reasoning, m.metrics, m.status, m.created_at) for m in c1.messages] == [
        ("user", "Über die STRASSE", "", {}, "complete", 101.0),
        ("assistant", "Gern 🦜, 100% sicher", "denk", {"completion_tokens": 3}, "stopped", 102.0),
    ]
    assert [s.id for s in store.list()] == ["c1", "c2"], "ordered by updated_at, as before"
    assert [s.id for s in store.list("straße")] == ["c1"], "the migrated message is found with case folding"
    assert [s.id for s in store.list("DEUTSCH")] == ["c1"], "the migrated title is found too"
    assert [s.id for s in store.list("0% s")] == ["c1"]
    new_id = store.add_message("c2", "user", "after the upgrade")
    assert new_id > max(m.id for m in c1.messages + store.get("c2").messages[:-1])
    with db.get_engine(url).connect() as conn:
        assert not db.has_table(conn, "meta")
        assert db.recorded_version(conn, "conversations") == 2
    assert ConversationStore(url=url)._db.upgraded_from == SCHEMA_VERSION, "a second open finds it current"


def test_unreadable_legacy_version_is_refused_untouched(db_url: Callable[[str], str]) -> None:
    """A version that is not a number cannot be upgraded safely: a clear error, and nothing changes."""
    url = db_url("legacy")
    _write_v1(url, version="one")
    with pytest.raises(ConversationStoreError, match="unreadable schema version") as info:
        ConversationStore(url=url)
    assert info.value.hint
    with db.get_engine(url).connect() as conn:
        assert db.has_table(conn, "meta") and not db.has_table(conn, "schema_versions")
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM messages").scalar() == 3


def test_newer_arena_schema_is_refused(db_url: Callable[[str], str]) -> None:
    """The arena's votes are versioned the same way: a newer version is refused with the versions named."""
    url = db_url("votes")
    ArenaStore(url=url)
    with db.get_engine(url).begin() as conn:
        conn.execute(db.VERSIONS.update().where(db.VERSIONS.c.component == "arena").values(version=7))
    with pytest.raises(SchemaVersionError, match=r"arena schema 7; this version reads up to 1"):
        ArenaStore(url=url)


def test_unversioned_arena_file_is_adopted(tmp_path: Path) -> None:
    """An arena file from before schema versions (votes table only) keeps its votes and gets version 1."""
    path = tmp_path / "arena.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,"
                     " config_a TEXT NOT NULL, config_b TEXT NOT NULL, key_a TEXT NOT NULL, key_b TEXT NOT NULL,"
                     " outcome TEXT NOT NULL, prompt TEXT NOT NULL, reply_a TEXT NOT NULL, reply_b TEXT NOT NULL)")
        conn.execute("INSERT INTO votes VALUES (1, '2026-01-01T00:00:00+00:00', '{\"model\":\"a\"}',"
                     " '{\"model\":\"b\"}', '{\"model\":\"a\"}', '{\"model\":\"b\"}', 'b', 'p', 'x', 'y')")  # fmt: skip
    store = ArenaStore(path)
    assert [(v.id, v.outcome, v.config_a) for v in store.votes()] == [(1, "b", {"model": "a"})]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_versions WHERE component = 'arena'").fetchall() == [(1,)]


def _widgets(version: int, upgrades: dict) -> db.Schema:
    metadata = MetaData()
    columns = [Column("id", Integer, primary_key=True)] + ([Column("size", Integer)] if version >= 2 else [])
    Table("widgets", metadata, *columns)
    return db.Schema("widgets", version, metadata, upgrades)


def _open(url: str, schema: db.Schema) -> int:
    engine = db.get_engine(url)
    with engine.begin() as conn:
        return db.apply_schema(conn, schema, db.mask_url(url))


def test_a_failing_upgrade_changes_nothing(db_url: Callable[[str], str]) -> None:
    """Upgrades run in the opening transaction (DDL is transactional on SQLite and PostgreSQL): a step that
    fails half-way leaves the tables and the recorded version as they were; a working step then applies."""
    url = db_url("widgets")
    assert _open(url, _widgets(1, {})) == 0
    with db.get_engine(url).begin() as conn:
        conn.exec_driver_sql("INSERT INTO widgets (id) VALUES (1)")

    def broken(conn) -> None:
        conn.exec_driver_sql("ALTER TABLE widgets ADD COLUMN size INTEGER")
        conn.exec_driver_sql("UPDATE widgets SET size = 10")
        raise RuntimeError("step 2 failed after its DDL")

    with pytest.raises(RuntimeError, match="step 2 failed"):
        _open(url, _widgets(2, {2: broken}))
    with db.get_engine(url).connect() as conn:
        columns = [c["name"] for c in inspect(conn).get_columns("widgets")]
        assert columns == ["id"], "the added column was rolled back"
        assert conn.execute(select(db.VERSIONS.c.version).where(db.VERSIONS.c.component == "widgets")).scalar() == 1

    def works(conn) -> None:
        conn.exec_driver_sql("ALTER TABLE widgets ADD COLUMN size INTEGER")
        conn.exec_driver_sql("UPDATE widgets SET size = 10")

    assert _open(url, _widgets(2, {2: works})) == 1
    with db.get_engine(url).connect() as conn:
        assert conn.exec_driver_sql("SELECT id, size FROM widgets").all() == [(1, 10)]


def test_a_new_sqlite_file_waits_for_another_writer_before_switching_to_wal(tmp_path: Path) -> None:
    """SQLite refuses the switch to WAL at once ("database is locked", its busy handler is not used) while
    another connection holds a transaction on the file: the store retries, so it opens once the other
    writer commits instead of failing (the race between replicas that start together)."""
    path = tmp_path / "shared.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_app (x INTEGER)")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    start = time.monotonic()
    try:
        store = ConversationStore(url=f"sqlite:///{path}")
    finally:
        release.join()
        holder.close()
    assert time.monotonic() - start >= 0.4  # it waited for the other writer's commit
    assert store._db.upgraded_from == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_replicas_opening_a_new_database_at_once(db_url: Callable[[str], str]) -> None:
    """Several app replicas starting together all open the same empty database: the schema is created once
    (SQLite's write lock, PostgreSQL's advisory lock) and none of them fails."""
    url = db_url("fresh")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []
    opened: list[int] = []

    def replica(n: int) -> None:
        try:
            barrier.wait()
            store = ConversationStore(url=url) if n % 2 else ArenaStore(url=url)
            opened.append(store._db.upgraded_from)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(opened).count(0) == 2, "each store's tables were created by exactly one replica"
    with db.get_engine(url).connect() as conn:
        rows = conn.execute(select(db.VERSIONS.c.component, func.count()).group_by(db.VERSIONS.c.component)).all()
    assert sorted(rows) == [("arena", 1), ("conversations", 1)]


# --- failures --------------------------------------------------------------------------------------------------


def _silent_server() -> socket.socket:
    """A TCP socket that accepts connections (the kernel's backlog) but never says a word."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def test_a_closed_port_fails_fast_with_a_masked_url(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens: the store raises DatabaseUnavailableError at once, naming the URL with *** for the
    password; neither the message nor any log line shows the password."""
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://user:{SECRET}@127.0.0.1:{free_port()}/chats"
    started = time.monotonic()
    with pytest.raises(db.DatabaseUnavailableError) as info:
        ConversationStore(url=url)
    assert time.monotonic() - started < 2.0
    assert "cannot reach the database postgresql+psycopg://user:***@127.0.0.1" in info.value.message
    assert "refused" in info.value.message.lower() and "DATABASE_URL" in info.value.hint
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    with pytest.raises(db.DatabaseUnavailableError):
        ArenaStore(url=url)


def test_a_server_that_never_answers_times_out(caplog: pytest.LogCaptureFixture) -> None:
    """A host that accepts the connection but never answers is given up after the connect timeout
    (CONNECT_TIMEOUT_S), never a hang; the error names the masked URL."""
    caplog.set_level(logging.DEBUG)
    with _silent_server() as sock:
        url = f"postgresql://user:{SECRET}@127.0.0.1:{sock.getsockname()[1]}/chats"
        started = time.monotonic()
        with pytest.raises(db.DatabaseUnavailableError, match="timeout|timed out") as info:
            ConversationStore(url=url)
        elapsed = time.monotonic() - started
    assert db.CONNECT_TIMEOUT_S - 0.5 <= elapsed < db.CONNECT_TIMEOUT_S + 3
    assert "user:***@" in info.value.message
    assert SECRET not in str(info.value) and SECRET not in caplog.text


@pytest.mark.server
def test_wrong_password_is_a_clear_error_without_the_password(pg_server: PostgresServer) -> None:
    """The server refuses the login: the error says so, names the user, and shows neither password."""
    url = pg_server.url.replace(quote(PASSWORD), quote(SECRET))
    with pytest.raises(db.DatabaseUnavailableError, match="password authentication failed") as info:
        ConversationStore(url=url)
    assert USER in info.value.message and SECRET not in str(info.value) and PASSWORD not in str(info.value)


@pytest.mark.server
def test_postgres_sessions_get_the_lock_timeout(pg_server: PostgresServer) -> None:
    """Lock waits end after BUSY_TIMEOUT_S, like SQLite's busy timeout, also when the URL brings its own
    ``options`` (they are kept: the search_path still applies)."""
    for url in (pg_server.url, f"{pg_server.url}?options=-csearch_path%3Dpublic"):
        try:
            with db.get_engine(url).connect() as conn:
                assert conn.execute(text("SHOW lock_timeout")).scalar() == f"{db.BUSY_TIMEOUT_S:g}s"
                if "options" in url:
                    assert conn.execute(text("SHOW search_path")).scalar() == "public"
        finally:
            db.dispose(url)


@pytest.mark.server
@pytest.mark.slow
def test_server_down_then_back(tmp_path: Path) -> None:
    """The server stops while the app runs: the next call fails quickly with DatabaseUnavailableError (the
    pool's pre-ping finds the dead connection, reconnecting is refused); once the server is back, the
    same store object works again with nothing lost, without a restart of the app."""
    server = PostgresServer(require_pg_bin()).start()
    try:
        store = ConversationStore(url=server.url)
        cid = store.create(title="Before")
        store.add_message(cid, "user", "saved before the outage")
        server.halt()
        started = time.monotonic()
        with pytest.raises(db.DatabaseUnavailableError) as info:
            store.add_message(cid, "user", "lost: the server is down")
        assert time.monotonic() - started < 5.0
        assert "***" in info.value.message and PASSWORD not in str(info.value)
        server.resume()
        store.add_message(cid, "user", "after the restart")
        assert [m.content for m in store.get(cid).messages] == ["saved before the outage", "after the restart"]
    finally:
        db.dispose(server.url)
        server.stop()


def test_bench_store_prints_one_row_per_operation(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bench.store`` without --url measures SQLite alone: a header naming it, then one row per
    store operation with a positive median time (each timed call really ran)."""
    from bench.store import main

    assert main(["--saves", "5", "--chats", "3"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "sqlite"
    figures = {line.rsplit(None, 1)[0].strip(): float(line.rsplit(None, 1)[1]) for line in rows}
    assert set(figures) == {"update_message", "add_message", "get (whole chat)", "list search"}
    assert all(value > 0 for value in figures.values())
