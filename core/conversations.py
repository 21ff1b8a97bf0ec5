"""The conversation store: every chat message, saved as it is produced, in SQLite or PostgreSQL.

Contract:
- SQLite ``PLAYGROUND_HOME/conversations.sqlite3`` by default; the PostgreSQL
  database of ``DATABASE_URL`` when that is set, so several app replicas share
  the conversations (see ``core.db`` and ``docs/STORE.md``). A page reload, a
  closed tab or a server restart loses nothing: each write is committed before
  the call returns (a streaming reply is saved with
  :meth:`ConversationStore.update_message` as it grows).
- Safe for several threads, processes and replicas at once: every call is one
  short transaction. SQLite runs in WAL mode with a busy timeout and takes the
  write lock at ``BEGIN IMMEDIATE``; on PostgreSQL a write locks its
  conversation's row first, so the writers of one conversation queue and
  writers of different ones do not wait for each other. Either way concurrent
  writers never fail or lose rows, and a read sees one consistent snapshot.
- The schema is versioned (``schema_versions``, component ``conversations``):
  a version 1 database (the SQLite layout before SQLAlchemy) is upgraded in
  place; a database written by a newer version is refused with
  :class:`SchemaVersionError` rather than modified.
- Every error is a :class:`core.errors.PlaygroundError` subclass with a hint:
  a missing conversation (:class:`ConversationNotFoundError`, also a
  ``KeyError``), a bad argument (:class:`InvalidConversationError`, also a
  ``ValueError``), a malformed import (:class:`ImportFormatError`), an unusable
  database file (:class:`ConversationStoreError`), a database server that
  cannot be reached (:class:`core.db.DatabaseUnavailableError`, naming the URL
  with its password masked).
- Text is stored exactly (emoji, NUL characters, SQL-looking strings); a lone
  surrogate, which cannot be encoded as UTF-8, is replaced by U+FFFD.
- Search is case-insensitive (Unicode case folding) over titles and message
  text; the query is a literal substring, so ``%`` and ``_`` match themselves.
  Each title and message keeps its case-folded UTF-8 bytes for this, so the
  database does the matching on both backends.

Command line: ``python -m core.conversations {list,export,import,delete}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from core import db
from core.db import ExactText, SchemaVersionError  # noqa: F401 - SchemaVersionError is part of this API
from core.errors import PlaygroundError
from core.params import GenerationParams

SCHEMA_VERSION = 2
DB_FILE = "conversations.sqlite3"
EXPORT_FORMAT = "qwen-playground-chat"
EXPORT_VERSION = 1
DEFAULT_TITLE = "New chat"
IMPORTED_SUFFIX = " (imported)"
AUTO_TITLE_CHARS = 60
MAX_TITLE_CHARS = 200
MAX_MESSAGE_BYTES = 1_000_000  # per content / reasoning field, UTF-8 encoded
MAX_METRICS_BYTES = 2_000_000  # metrics may carry per-token log-probabilities
MAX_SETTINGS_BYTES = 2_000_000
MAX_IMPORT_BYTES = 5_000_000
MAX_IMPORT_MESSAGES = 10_000
MAX_JSON_DEPTH = 32
MAX_TIMESTAMP = 32_503_680_000.0  # year 3000: later "times" in an import are nonsense
BUSY_TIMEOUT_S = db.BUSY_TIMEOUT_S
_MIN_ID, _MAX_ID = 1, 2**63 - 1  # message ids are positive 64-bit integers

ROLES = ("system", "user", "assistant")
STATUSES = ("complete", "streaming", "stopped", "error")
SETTING_TEXT_FIELDS = ("system_prompt", "model", "quant", "device")

# --- schema ----------------------------------------------------------------------------------

_Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY is the rowid
metadata = MetaData()
CONVERSATIONS = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("title", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("settings", Text, nullable=False, server_default="{}"),
    Column("folded_title", LargeBinary, nullable=False),  # version 2: search key of the title
    Index("conversations_by_update", "updated_at"),
)
# sqlite_autoincrement: a message id is never reused (PostgreSQL sequences never are), so a stale
# id held by a UI (e.g. a reply still streaming) can never overwrite a newer message.
MESSAGES = Table(
    "messages",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), CheckConstraint(f"role IN {ROLES!r}"), nullable=False),
    Column("content", ExactText, nullable=False),
    Column("reasoning", ExactText, nullable=False, server_default=""),
    Column("metrics", Text, nullable=False, server_default="{}"),
    Column("status", String(16), CheckConstraint(f"status IN {STATUSES!r}"), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("folded_content", LargeBinary, nullable=False),  # version 2: search key of the content
    Index("messages_by_conversation", "conversation_id", "id"),
    sqlite_autoincrement=True,
)


# Statements built once (the hot path saves a streaming reply every half second). Every write that
# touches a conversation starts with an UPDATE of its row: on PostgreSQL that row lock makes the
# writers of one conversation queue (SQLite's BEGIN IMMEDIATE already serialises all writers).
_c, _m = CONVERSATIONS.c, MESSAGES.c
_bumped = _c.updated_at + 0.000001
_STAMP = case((_bumped > bindparam("now", type_=Double()), _bumped), else_=bindparam("now", type_=Double()))
_TOUCH = CONVERSATIONS.update().where(_c.id == bindparam("cid")).values(updated_at=_STAMP)
# add_message: bump updated_at and, for the first user message of a "New chat", set the auto title.
_TOUCH_AND_NAME = CONVERSATIONS.update().where(_c.id == bindparam("cid")).values(
    updated_at=_STAMP,
    title=case((_c.title == bindparam("rename_from"), bindparam("auto_title")), else_=_c.title),
    folded_title=case((_c.title == bindparam("rename_from"), bindparam("auto_folded")), else_=_c.folded_title),
)
_TOUCH_OWNER = (
    CONVERSATIONS.update()
    .where(_c.id == select(_m.conversation_id).where(_m.id == bindparam("mid")).scalar_subquery())
    .values(updated_at=_STAMP)
)
_INSERT_MESSAGE = MESSAGES.insert().returning(_m.id)
_MESSAGE_EXISTS = select(_m.id).where(_m.id == bindparam("mid"))
_HEAD = select(_c.id, _c.title, _c.created_at, _c.updated_at, _c.settings).where(_c.id == bindparam("cid"))
_MESSAGES_OF = (
    select(_m.id, _m.role, _m.content, _m.reasoning, _m.metrics, _m.status, _m.created_at)
    .where(_m.conversation_id == bindparam("cid"))
    .order_by(_m.id)
)


class contains_bytes(FunctionElement):  # noqa: N801 - used like a SQL function
    """SQL: does the bytes column (first argument) contain the bytes (second)? NUL-safe on both backends."""

    type = Integer()
    inherit_cache = True


@compiles(contains_bytes)
def _contains_sqlite(element: contains_bytes, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(instr({haystack}, {needle}) > 0)"


@compiles(contains_bytes, "postgresql")
def _contains_postgres(element: contains_bytes, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(position({needle} IN {haystack}) > 0)"


def _legacy_version(conn: Connection) -> int | None:
    """Version 1 (stdlib sqlite3) kept its version in a ``meta`` table."""
    if db.has_table(conn, "meta"):
        value = conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").scalar()
        try:
            return int(value) if value is not None else 1
        except (TypeError, ValueError):
            raise ConversationStoreError(
                f"The conversation database has an unreadable schema version ({value!r}).",
                "Move the file aside; the playground then starts a fresh one.",
            ) from None
    return 1 if db.has_table(conn, "conversations") else None


_BATCH = 500


def _upgrade_to_2(conn: Connection) -> None:
    """Version 1 → 2: case-folded search keys for titles and messages; the version moves to schema_versions."""
    blob = LargeBinary().compile(dialect=conn.dialect)
    for table, column in (("conversations", "folded_title"), ("messages", "folded_content")):
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {blob} NOT NULL DEFAULT ''")
    c, m = CONVERSATIONS.c, MESSAGES.c
    titles = conn.execute(select(c.id, c.title)).all()
    if titles:
        conn.execute(
            CONVERSATIONS.update().where(c.id == bindparam("key")).values(folded_title=bindparam("folded")),
            [{"key": row[0], "folded": _fold(row[1])} for row in titles],
        )
    last = 0
    while batch := conn.execute(select(m.id, m.content).where(m.id > last).order_by(m.id).limit(_BATCH)).all():
        conn.execute(
            MESSAGES.update().where(m.id == bindparam("key")).values(folded_content=bindparam("folded")),
            [{"key": row[0], "folded": _fold(row[1])} for row in batch],
        )
        last = batch[-1][0]
    if db.has_table(conn, "meta"):
        conn.exec_driver_sql("DROP TABLE meta")


SCHEMA = db.Schema("conversations", SCHEMA_VERSION, metadata, {2: _upgrade_to_2}, _legacy_version)


# --- errors ----------------------------------------------------------------------------------


class ConversationStoreError(db.DatabaseError):
    """The conversation database cannot be used (unreadable, locked too long, not writable)."""


class ConversationNotFoundError(ConversationStoreError, KeyError):
    """No conversation (or message) with that id: it was deleted, or never existed."""


class InvalidConversationError(ConversationStoreError, ValueError):
    """An argument is invalid: unknown role or status, oversized text, empty title, bad settings."""


class ImportFormatError(ConversationStoreError, ValueError):
    """An imported chat file is not a valid export of this playground."""


# --- records ---------------------------------------------------------------------------------


@dataclass
class StoredMessage:
    id: int
    role: str
    content: str
    reasoning: str
    metrics: dict
    status: str  # "complete" | "streaming" | "stopped" | "error"
    created_at: float


@dataclass
class ConversationSummary:
    id: str
    title: str
    created_at: float
    updated_at: float
    message_count: int


@dataclass
class Conversation:
    id: str
    title: str
    created_at: float
    updated_at: float
    settings: dict
    messages: list[StoredMessage] = field(default_factory=list)


# --- validation helpers ----------------------------------------------------------------------


def _clean_text(value: Any, name: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """Return ``value`` as storable text, or raise :class:`InvalidConversationError`."""
    if not isinstance(value, str):
        raise InvalidConversationError(f"{name} must be text, got {type(value).__name__}.")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: not encodable, so not storable as is
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        size = len(value.encode("utf-8"))
    if size > limit:
        raise InvalidConversationError(
            f"{name} is too large ({size:,} bytes; the limit is {limit:,}).",
            "Shorten the text or split it over several messages.",
        )
    return value


def _one_line(text: str) -> str:
    """Control characters (NUL, tabs, newlines) become spaces; runs of whitespace collapse."""
    spaced = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(spaced.split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def title_from_message(content: str) -> str:
    """The auto title: first non-blank line, whitespace collapsed, at most 60 characters."""
    for line in content.splitlines():
        line = _one_line(line)
        if line:
            return _shorten(line, AUTO_TITLE_CHARS)
    return DEFAULT_TITLE


def _clean_title(title: Any, limit: int = MAX_TITLE_CHARS) -> str:
    if not isinstance(title, str):
        raise InvalidConversationError(f"The title must be text, got {type(title).__name__}.")
    cleaned = _one_line(_clean_text(title, "The title"))
    if not cleaned:
        raise InvalidConversationError("The title is empty.", "Type at least one visible character.")
    return _shorten(cleaned, limit)


def _jsonable(value: Any, name: str, depth: int = 0) -> Any:
    """A deep copy of ``value`` made only of JSON types; non-finite floats become ``None``."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidConversationError(f"{name} is nested too deeply (more than {MAX_JSON_DEPTH} levels).")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _clean_text(value, name, MAX_METRICS_BYTES)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidConversationError(f"{name}: keys must be text, got {key!r}.")
            out[key] = _jsonable(item, f"{name}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, f"{name}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise InvalidConversationError(f"{name} must hold JSON data (text, numbers, lists, dicts), got {type(value).__name__}.")


def _dump(value: Any, name: str, limit: int) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if len(text.encode("utf-8")) > limit:
        raise InvalidConversationError(f"{name} is too large (the limit is {limit:,} bytes).")
    return text


def _metrics_json(metrics: Any) -> str:
    if metrics is None:
        metrics = {}
    if not isinstance(metrics, Mapping):
        raise InvalidConversationError(f"metrics must be a dict, got {type(metrics).__name__}.")
    return _dump(_jsonable(metrics, "metrics"), "metrics", MAX_METRICS_BYTES)


def normalize_settings(settings: Any) -> dict[str, Any]:
    """Validate chat settings; ``params`` is checked by :class:`GenerationParams` and filled in.

    Known keys: ``system_prompt``, ``model``, ``quant``, ``device`` (text or None),
    ``thinking`` (bool or None), ``params`` (a GenerationParams, its dict, or None).
    Other keys are kept if they hold JSON data, so the Chat page can add settings.
    """
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise InvalidConversationError(f"settings must be a dict, got {type(settings).__name__}.")
    out = _jsonable({k: v for k, v in settings.items() if k != "params"}, "settings")
    for key in SETTING_TEXT_FIELDS:
        if out.get(key) is not None and not isinstance(out[key], str):
            raise InvalidConversationError(f"settings.{key} must be text, got {type(out[key]).__name__}.")
    if out.get("thinking") is not None and not isinstance(out["thinking"], bool):
        raise InvalidConversationError(f"settings.thinking must be true or false, got {out['thinking']!r}.")
    if "params" in settings:
        params = settings["params"]
        if isinstance(params, GenerationParams):
            out["params"] = params.to_dict()
        elif params is None:
            out["params"] = None
        elif isinstance(params, Mapping):
            try:
                out["params"] = GenerationParams.from_dict(dict(params)).to_dict()
            except PlaygroundError as exc:
                raise InvalidConversationError(f"settings.params: {exc.message}") from exc
            except TypeError as exc:  # e.g. a non-text key
                raise InvalidConversationError(f"settings.params: {exc}") from exc
        else:
            raise InvalidConversationError(f"settings.params must be a dict, got {type(params).__name__}.")
    _dump(out, "settings", MAX_SETTINGS_BYTES)
    return out


def _check_role(role: Any) -> str:
    if role not in ROLES:
        raise InvalidConversationError(f"role must be one of {', '.join(ROLES)}, got {role!r}.")
    return role


def _check_status(status: Any) -> str:
    if status not in STATUSES:
        raise InvalidConversationError(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
    return status


def _loads_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


# --- the store -------------------------------------------------------------------------------


def _fold(text: str) -> bytes:
    """The search key of a text: Unicode case folding, UTF-8 bytes (NUL-safe, substring-preserving)."""
    return text.casefold().encode("utf-8")


def _translate(exc: Exception, where: str) -> ConversationStoreError:
    """A driver error as a ConversationStoreError with a hint (connection failures are handled by core.db)."""
    if db.is_busy(exc):
        return ConversationStoreError(
            f"The conversation database stayed busy for more than {BUSY_TIMEOUT_S:g} s.",
            "Another process holds it; try again in a moment.",
        )
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    if db.is_corrupt(exc):
        return ConversationStoreError(
            f"{where} is not a readable conversation database ({reason}).",
            "Move the file aside (the playground then starts a fresh one) or set PLAYGROUND_HOME elsewhere.",
        )
    return ConversationStoreError(
        f"The conversation database failed: {reason}.", f"Check that {where} is on a writable disk and reachable."
    )


class ConversationStore(db.Store):
    """Conversations and their messages in SQLite or PostgreSQL; safe across threads, processes and replicas.

    The object holds only the database handle: share one instance freely, or
    make one per thread; each call runs in its own short transaction.
    """

    def __init__(self, path: Path | str | None = None, *, url: str | None = None) -> None:
        """``url`` (any SQLAlchemy URL) wins, else SQLite at ``path``, else ``DATABASE_URL``, else the home file."""
        super().__init__(
            path, url, default_file=DB_FILE, schema=SCHEMA, translate=_translate, error=ConversationStoreError
        )

    # helpers ------------------------------------------------------------------------------

    @staticmethod
    def _touch(conn: Connection, conversation_id: Any, now: float | None = None) -> None:
        """Bump updated_at (strictly increasing, even within the clock's resolution) and lock the row;
        raises ConversationNotFoundError when there is no such conversation."""
        found = 0
        if isinstance(conversation_id, str):
            found = conn.execute(_TOUCH, {"cid": conversation_id, "now": now or time.time()}).rowcount
        if not found:
            raise ConversationNotFoundError(
                f"Conversation {conversation_id!r} does not exist.", "It may have been deleted in another tab."
            )

    @staticmethod
    def _message_row(conn: Connection, message_id: Any, conversation_id: str | None = None) -> Any:
        if isinstance(message_id, bool) or not isinstance(message_id, int) or not _MIN_ID <= message_id <= _MAX_ID:
            return None
        query = select(MESSAGES.c.conversation_id).where(MESSAGES.c.id == message_id)
        if conversation_id is not None:
            query = query.where(MESSAGES.c.conversation_id == conversation_id)
        return conn.execute(query).first()

    # API ----------------------------------------------------------------------------------

    def create(self, title: str = DEFAULT_TITLE, settings: dict | None = None) -> str:
        """Create an empty conversation; returns its id (uuid4 hex)."""
        title = _clean_title(title)
        settings_json = _dump(normalize_settings(settings), "settings", MAX_SETTINGS_BYTES)
        conversation_id = uuid.uuid4().hex
        now = time.time()
        with self._db.write() as conn:
            conn.execute(CONVERSATIONS.insert().values(
                id=conversation_id, title=title, folded_title=_fold(title), created_at=now, updated_at=now,
                settings=settings_json,
            ))  # fmt: skip
        return conversation_id

    def list(self, query: str = "", limit: int = 200) -> list[ConversationSummary]:
        """Conversations, most recently updated first; ``query`` filters on title and message text."""
        if not isinstance(query, str):
            raise InvalidConversationError(f"The search query must be text, got {type(query).__name__}.")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidConversationError(f"limit must be a non-negative integer, got {limit!r}.")
        c, m = CONVERSATIONS.c, MESSAGES.c
        count = select(func.count()).where(m.conversation_id == c.id).scalar_subquery()
        sql = select(c.id, c.title, c.created_at, c.updated_at, count)
        needle = _fold(_clean_text(query.strip(), "The search query"))
        if needle:
            in_messages = select(m.id).where(m.conversation_id == c.id, contains_bytes(m.folded_content, needle))
            sql = sql.where(or_(contains_bytes(c.folded_title, needle), in_messages.exists()))
        sql = sql.order_by(c.updated_at.desc(), c.created_at.desc(), c.id.desc()).limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(sql).all()
        return [ConversationSummary(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def get(self, conversation_id: str) -> Conversation:
        """The conversation with all its messages, oldest first (header and messages from one snapshot)."""
        head = None
        with self._db.read() as conn:
            if isinstance(conversation_id, str):
                head = conn.execute(_HEAD, {"cid": conversation_id}).first()
            if head is None:
                raise ConversationNotFoundError(
                    f"Conversation {conversation_id!r} does not exist.", "It may have been deleted in another tab."
                )
            rows = conn.execute(_MESSAGES_OF, {"cid": conversation_id}).all()
        messages = [StoredMessage(int(r[0]), r[1], r[2], r[3], _loads_dict(r[4]), r[5], r[6]) for r in rows]
        return Conversation(head[0], head[1], head[2], head[3], _loads_dict(head[4]), messages)

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        reasoning: str = "",
        metrics: dict | None = None,
        status: str = "complete",
    ) -> int:
        """Append a message; returns its id. The first user message names a "New chat"."""
        role = _check_role(role)
        content = _clean_text(content, "content")
        reasoning = _clean_text(reasoning, "reasoning")
        metrics_json = _metrics_json(metrics)
        status = _check_status(status)
        auto_title = title_from_message(content) if role == "user" else DEFAULT_TITLE
        # Only a user message renames, and only a "New chat"; "" is never a title, so it renames nothing.
        rename_from = DEFAULT_TITLE if role == "user" else ""
        naming = {"rename_from": rename_from, "auto_title": auto_title, "auto_folded": _fold(auto_title)}
        with self._db.write() as conn:
            now = time.time()  # the message's time; updated_at is stamped at least this
            touched = 0
            if isinstance(conversation_id, str):
                touched = conn.execute(_TOUCH_AND_NAME, {"cid": conversation_id, "now": now, **naming}).rowcount
            if not touched:
                raise ConversationNotFoundError(
                    f"Conversation {conversation_id!r} does not exist.", "It may have been deleted in another tab."
                )
            message_id = conn.execute(_INSERT_MESSAGE, {
                "conversation_id": conversation_id, "role": role, "content": content, "folded_content": _fold(content),
                "reasoning": reasoning, "metrics": metrics_json, "status": status, "created_at": now,
            }).scalar_one()  # fmt: skip
            return int(message_id)

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
        metrics: dict | None = None,
        status: str | None = None,
    ) -> None:
        """Replace the given fields of a message (None leaves a field as it is)."""
        changes: dict[str, Any] = {}
        if content is not None:
            changes["content"] = _clean_text(content, "content")
            changes["folded_content"] = _fold(changes["content"])
        if reasoning is not None:
            changes["reasoning"] = _clean_text(reasoning, "reasoning")
        if metrics is not None:
            changes["metrics"] = _metrics_json(metrics)
        if status is not None:
            changes["status"] = _check_status(status)
        missing = ConversationNotFoundError(
            f"Message {message_id!r} does not exist.", "Its conversation may have been deleted or cut."
        )
        valid_id = not isinstance(message_id, bool) and isinstance(message_id, int) and _MIN_ID <= message_id <= _MAX_ID
        if not valid_id:
            raise missing
        with self._db.write() as conn:
            if not changes:
                if conn.execute(_MESSAGE_EXISTS, {"mid": message_id}).first() is None:
                    raise missing
                return
            # The conversation's row first (locked until commit), then the message: a concurrent cut of
            # the conversation either happened before (no message: not found) or waits for this write.
            touched = conn.execute(_TOUCH_OWNER, {"mid": message_id, "now": time.time()}).rowcount
            if not touched or not conn.execute(MESSAGES.update().where(_m.id == message_id).values(**changes)).rowcount:
                raise missing

    def delete_messages_from(self, conversation_id: str, message_id: int) -> int:
        """Delete ``message_id`` and every later message of the conversation; returns how many."""
        with self._db.write() as conn:
            self._touch(conn, conversation_id)
            if self._message_row(conn, message_id, conversation_id) is None:
                raise ConversationNotFoundError(
                    f"Message {message_id!r} is not part of conversation {conversation_id!r}.",
                    "Reload the conversation; it may have changed in another tab.",
                )
            deleted = conn.execute(
                MESSAGES.delete().where(MESSAGES.c.conversation_id == conversation_id, MESSAGES.c.id >= message_id)
            ).rowcount
            return int(deleted)

    def rename(self, conversation_id: str, title: str) -> None:
        """Set the title: trimmed to one line, at most 200 characters; empty is refused."""
        title = _clean_title(title)
        with self._db.write() as conn:
            self._touch(conn, conversation_id)
            conn.execute(
                CONVERSATIONS.update()
                .where(CONVERSATIONS.c.id == conversation_id)
                .values(title=title, folded_title=_fold(title))
            )

    def delete(self, conversation_id: str) -> None:
        """Delete the conversation and all its messages."""
        with self._db.write() as conn:
            self._touch(conn, conversation_id)  # locks the row
            conn.execute(MESSAGES.delete().where(MESSAGES.c.conversation_id == conversation_id))
            conn.execute(CONVERSATIONS.delete().where(CONVERSATIONS.c.id == conversation_id))

    def update_settings(self, conversation_id: str, settings: dict) -> None:
        """Replace the conversation's settings (see :func:`normalize_settings`)."""
        settings_json = _dump(normalize_settings(settings), "settings", MAX_SETTINGS_BYTES)
        with self._db.write() as conn:
            self._touch(conn, conversation_id)
            conn.execute(
                CONVERSATIONS.update().where(CONVERSATIONS.c.id == conversation_id).values(settings=settings_json)
            )

    # export / import ----------------------------------------------------------------------

    def export_json(self, conversation_id: str) -> dict:
        """Everything needed to reproduce the chat, in the versioned export format."""
        chat = self.get(conversation_id)
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "title": chat.title,
            "created_at": chat.created_at,
            "settings": chat.settings,
            "messages": [
                {
                    "role": m.role,
                    "content": m.content,
                    "reasoning": m.reasoning,
                    "metrics": m.metrics,
                    "status": m.status,
                    "created_at": m.created_at,
                }
                for m in chat.messages
            ],
        }

    def export_markdown(self, conversation_id: str) -> str:
        """A readable transcript: title, settings table, then each message under a heading."""
        return render_markdown(self.export_json(conversation_id))

    def import_json(self, data: dict | str | bytes) -> str:
        """Store an exported chat as a new conversation; returns its id.

        Raises :class:`ImportFormatError` for anything that is not a valid export:
        not JSON, too large, wrong format or version, missing fields, wrong types.
        """
        payload = parse_export(data)
        title = _shorten(_one_line(payload["title"]) or "Untitled", MAX_TITLE_CHARS - len(IMPORTED_SUFFIX))
        title += IMPORTED_SUFFIX
        conversation_id = uuid.uuid4().hex
        with self._db.write() as conn:
            conn.execute(CONVERSATIONS.insert().values(
                id=conversation_id, title=title, folded_title=_fold(title), created_at=payload["created_at"],
                updated_at=time.time(), settings=payload["settings"],
            ))  # fmt: skip
            if payload["messages"]:
                conn.execute(
                    MESSAGES.insert(),
                    [{**m, "conversation_id": conversation_id, "folded_content": _fold(m["content"])}
                     for m in payload["messages"]],
                )  # fmt: skip
        return conversation_id


# --- import parsing --------------------------------------------------------------------------

_IMPORT_HINT = "Import a .json file made by this playground's Export button."


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _timestamp(value: Any, name: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_TIMESTAMP:
        raise ImportFormatError(f"{name} must be a Unix time (seconds since 1970), got {value!r}.", _IMPORT_HINT)
    return float(value)


def parse_export(data: Any) -> dict[str, Any]:
    """Validate an export (dict, JSON text or bytes) and return it ready to store.

    Returned keys: ``title`` (str), ``created_at`` (float), ``settings`` (JSON
    text) and ``messages`` (dicts with role, content, reasoning, metrics as JSON
    text, status, created_at).
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportFormatError(
                f"The file is too large ({len(data):,} bytes; the limit is {MAX_IMPORT_BYTES:,}).", _IMPORT_HINT
            )
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFormatError("The file is not UTF-8 text (is it a binary file?).", _IMPORT_HINT) from None
    if isinstance(data, str):
        if len(data) > MAX_IMPORT_BYTES or len(data.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
            raise ImportFormatError(f"The file is too large (the limit is {MAX_IMPORT_BYTES:,} bytes).", _IMPORT_HINT)
        if not data.strip():
            raise ImportFormatError("The file is empty.", _IMPORT_HINT)
        try:
            data = json.loads(data, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                f"The file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).", _IMPORT_HINT
            ) from None
        except (ValueError, RecursionError) as exc:
            raise ImportFormatError(f"The file is not valid JSON ({exc}).", _IMPORT_HINT) from None
    elif isinstance(data, Mapping):
        try:
            size = len(json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8", "surrogatepass"))
        except (TypeError, ValueError, RecursionError) as exc:
            raise ImportFormatError(f"The chat is not JSON data ({exc}).", _IMPORT_HINT) from None
        if size > MAX_IMPORT_BYTES:
            raise ImportFormatError(f"The chat is too large ({size:,} bytes; the limit is {MAX_IMPORT_BYTES:,}).", _IMPORT_HINT)
    else:
        raise ImportFormatError(f"Cannot import a {type(data).__name__}; expected JSON text or a dict.", _IMPORT_HINT)

    if not isinstance(data, dict):
        raise ImportFormatError(f"The file holds a JSON {type(data).__name__}, not an exported chat object.", _IMPORT_HINT)
    for key in ("format", "version", "title", "settings", "messages"):
        if key not in data:
            raise ImportFormatError(f"The file has no {key!r} field, so it is not an exported chat.", _IMPORT_HINT)
    if data["format"] != EXPORT_FORMAT:
        raise ImportFormatError(f"format must be {EXPORT_FORMAT!r}, got {data['format']!r}.", _IMPORT_HINT)
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ImportFormatError(f"version must be an integer, got {version!r}.", _IMPORT_HINT)
    if version > EXPORT_VERSION:
        raise ImportFormatError(
            f"The file was exported by a newer playground (format version {version}; this one reads {EXPORT_VERSION}).",
            "Update the playground, then import it again.",
        )
    if version != EXPORT_VERSION:
        raise ImportFormatError(f"Unsupported format version {version}.", _IMPORT_HINT)
    if not isinstance(data["title"], str):
        raise ImportFormatError(f"title must be text, got {type(data['title']).__name__}.", _IMPORT_HINT)
    messages = data["messages"]
    if not isinstance(messages, list):
        raise ImportFormatError(f"messages must be a list, got {type(messages).__name__}.", _IMPORT_HINT)
    if len(messages) > MAX_IMPORT_MESSAGES:
        raise ImportFormatError(f"Too many messages ({len(messages):,}; the limit is {MAX_IMPORT_MESSAGES:,}).", _IMPORT_HINT)
    now = time.time()
    try:
        title = _clean_text(data["title"], "title")
        settings = _dump(normalize_settings(data["settings"]), "settings", MAX_SETTINGS_BYTES)
        created_at = _timestamp(data.get("created_at"), "created_at", now)
        parsed = [_parse_message(m, i, created_at) for i, m in enumerate(messages)]
    except InvalidConversationError as exc:
        raise ImportFormatError(f"Invalid chat file: {exc.message}", _IMPORT_HINT) from exc
    return {"title": title, "created_at": created_at, "settings": settings, "messages": parsed}


def _parse_message(message: Any, index: int, default_time: float) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise ImportFormatError(f"{where} must be an object, got {type(message).__name__}.", _IMPORT_HINT)
    for key in ("role", "content"):
        if key not in message:
            raise ImportFormatError(f"{where} has no {key!r} field.", _IMPORT_HINT)
    try:
        return {
            "role": _check_role(message["role"]),
            "content": _clean_text(message["content"], f"{where}.content"),
            "reasoning": _clean_text(message.get("reasoning", ""), f"{where}.reasoning"),
            "metrics": _metrics_json(message.get("metrics")),
            "status": _check_status(message.get("status", "complete")),
            "created_at": _timestamp(message.get("created_at"), f"{where}.created_at", default_time),
        }
    except InvalidConversationError as exc:
        message_text = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
        raise ImportFormatError(f"Invalid chat file: {message_text}", _IMPORT_HINT) from exc


# --- Markdown --------------------------------------------------------------------------------

_METRIC_LABELS = (
    ("completion_tokens", "{} tokens"),
    ("decode_tokens_per_s", "{:.1f} tok/s"),
    ("ttft_s", "first token {:.2f} s"),
    ("total_s", "total {:.2f} s"),
    ("stop_reason", "stop: {}"),
    ("device", "on {}"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        value = ", ".join(json.dumps(v, ensure_ascii=False) for v in value) or "—"
    return _one_line(str(value)).replace("|", "\\|") or "—"


def _metrics_line(metrics: Mapping[str, Any]) -> str:
    parts = []
    for key, template in _METRIC_LABELS:
        value = metrics.get(key)
        if value is None or isinstance(value, (dict, list)):
            continue
        try:
            parts.append(template.format(value))
        except (TypeError, ValueError):
            parts.append(f"{key} {value}")
    if metrics.get("error"):
        parts.append(f"error: {_one_line(str(metrics['error']))}")
    return " · ".join(parts)


def render_markdown(export: Mapping[str, Any]) -> str:
    """Markdown for an export dict; message text is kept verbatim (it is Markdown already)."""
    settings = export.get("settings") or {}
    lines = [f"# {_one_line(export['title'])}", ""]
    created = export.get("created_at")
    if isinstance(created, (int, float)):
        lines += [f"Created {time.strftime('%Y-%m-%d %H:%M', time.localtime(created))}.", ""]
    rows = [
        ("Model", settings.get("model")),
        ("Quantization", settings.get("quant")),
        ("Device", settings.get("device")),
        ("Thinking", settings.get("thinking")),
    ]
    params = settings.get("params") or {}
    rows += [(f"`{key}`", value) for key, value in params.items()]
    lines += ["| Setting | Value |", "| --- | --- |"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    lines.append("")
    if settings.get("system_prompt"):
        lines += ["## System prompt", "", settings["system_prompt"], ""]
    for number, message in enumerate(export["messages"], start=1):
        heading = f"## {number}. {message['role'].capitalize()}"
        if message.get("status", "complete") != "complete":
            heading += f" ({message['status']})"
        lines += ["---", "", heading, ""]
        if message.get("reasoning"):
            lines += ["**Reasoning**", "", message["reasoning"], "", "**Answer**", ""]
        lines += [message["content"], ""]
        summary = _metrics_line(message.get("metrics") or {})
        if summary:
            lines += [f"*{summary}*", ""]
    return "\n".join(lines)


# --- command line ----------------------------------------------------------------------------


def _open(db_arg: str | None) -> ConversationStore:
    """``--db``: a URL when it has a scheme (``postgresql://...``), else a SQLite file."""
    if db_arg is not None and "://" in db_arg:
        return ConversationStore(url=db_arg)
    return ConversationStore(db_arg)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.conversations", description="Saved chats.")
    parser.add_argument("--db", default=None,
                        help="SQLite file or database URL (default: DATABASE_URL, else PLAYGROUND_HOME)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list conversations, newest first")
    listing.add_argument("query", nargs="?", default="", help="only chats whose title or text contains this")
    export = sub.add_parser("export", help="print a conversation as JSON or Markdown")
    export.add_argument("id")
    export.add_argument("--format", choices=("json", "md"), default="json")
    importing = sub.add_parser("import", help="import an exported .json file; prints the new id")
    importing.add_argument("file", type=Path)
    deleting = sub.add_parser("delete", help="delete a conversation")
    deleting.add_argument("id")
    args = parser.parse_args(argv)
    try:
        store = _open(args.db)
        if args.command == "list":
            for s in store.list(args.query):
                stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated_at))
                print(f"{s.id}  {stamp}  {s.message_count:4d} msgs  {s.title}")
        elif args.command == "export":
            if args.format == "md":
                print(store.export_markdown(args.id))
            else:
                print(json.dumps(store.export_json(args.id), ensure_ascii=False, indent=2))
        elif args.command == "import":
            try:
                if args.file.stat().st_size > MAX_IMPORT_BYTES:
                    raise ImportFormatError(f"{args.file} is larger than {MAX_IMPORT_BYTES:,} bytes.", _IMPORT_HINT)
                raw = args.file.read_bytes()
            except OSError as exc:
                raise ImportFormatError(f"Cannot read {args.file}: {exc.strerror or exc}.", _IMPORT_HINT) from exc
            print(store.import_json(raw))
        else:
            store.delete(args.id)
    except PlaygroundError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
