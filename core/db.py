"""Database engines for the stores: SQLite by default, PostgreSQL when ``DATABASE_URL`` is set.

Contract:
- :func:`resolve_url` picks a store's database: an explicit URL, else an explicit
  SQLite path, else ``DATABASE_URL``, else ``PLAYGROUND_HOME/<file>``.
  :func:`normalize_url` accepts ``postgres://``, ``postgresql://`` and any
  ``postgresql+driver://`` (all become ``postgresql+psycopg://``) and
  ``sqlite:///path``; anything else is a :class:`DatabaseURLError` naming the
  masked URL.
- :func:`mask_url` hides the password (also a ``password=`` query value); no
  message or log line of this module shows a URL unmasked.
- :func:`get_engine`: one engine per URL for the process (thread-safe).
  SQLite: a new connection per checkout (files may be removed and recreated
  while the app runs), WAL mode, a busy timeout, foreign keys on, and
  SQLAlchemy emits ``BEGIN`` itself (``BEGIN IMMEDIATE`` for writes) so that
  writers queue and reads are repeatable. PostgreSQL: a pool with
  ``pool_pre_ping``, a connect timeout (``CONNECT_TIMEOUT_S`` unless the URL
  sets ``connect_timeout``) and a lock timeout.
- :class:`Database` is one store's handle: :meth:`Database.read` (a consistent
  snapshot: ``REPEATABLE READ`` on PostgreSQL) and :meth:`Database.write`
  transactions; a server that is down, refuses the login or drops the
  connection becomes :class:`DatabaseUnavailableError` (quickly, never a
  hang); other driver errors go to the store's own translator.
- Schema management (:class:`Schema`, run when a store opens): tables are
  created if missing and each store's version is kept in ``schema_versions``
  (one row per store). An older version is upgraded in place, step by step, in
  the same transaction; a newer one is refused with :class:`SchemaVersionError`
  and left untouched. On PostgreSQL an advisory lock lets several replicas
  start at once.
- :class:`ExactText` stores text exactly on both backends: PostgreSQL refuses
  NUL characters in text, so there NUL (and the escape character itself) are
  escaped reversibly.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, create_engine, event, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.types import Text, TypeDecorator

from core.errors import PlaygroundError
from core.paths import home_dir

ENV_VAR = "DATABASE_URL"
CONNECT_TIMEOUT_S = 3  # libpq's minimum is 2 s
BUSY_TIMEOUT_S = 30.0  # SQLite busy timeout and PostgreSQL lock timeout
WAL_RETRY_S = 0.02  # pause between attempts to switch a new SQLite file to WAL (see Database._enable_wal)
PG_DRIVER = "postgresql+psycopg"
_SCHEMA_LOCK_KEY = 0x51_57_45_4E  # advisory lock held while a store creates or upgrades its tables
_BEGIN = "playground_begin"  # execution option: "write" makes SQLite take the write lock at BEGIN


# --- errors ------------------------------------------------------------------------------------


class DatabaseError(PlaygroundError):
    """A store's database cannot be used."""


class DatabaseURLError(DatabaseError, ValueError):
    """``DATABASE_URL`` (or a ``--db`` URL) is malformed or names an unsupported database."""


class DatabaseUnavailableError(DatabaseError):
    """The database server cannot be reached, refuses the login, or dropped the connection."""


class SchemaVersionError(DatabaseError):
    """The database was written by a newer version of the playground."""


# --- URLs ------------------------------------------------------------------------------------------

_URL_HINT = (
    "Set DATABASE_URL to postgresql://USER:PASSWORD@HOST:PORT/DATABASE (or unset it to use SQLite files "
    "under PLAYGROUND_HOME)."
)
_SECRET_QUERY_KEYS = ("password", "sslpassword")


def mask_url(url: str | URL) -> str:
    """The URL with its password (and any ``password=`` query value) replaced by ``***``."""
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except (sa_exc.ArgumentError, ValueError, TypeError):
        masked = str(url)
        if "://" in masked:  # up to the last @: the password may hold a raw / or @
            masked = re.sub(r"(://[^:/@]*:).*@", r"\1***@", masked)
        else:  # no scheme: anything shaped like user:password@
            masked = re.sub(r"([^\s:/@]+:)[^\s@]*@", r"\1***@", masked)
        return re.sub(r"(?i)((?:ssl)?password=)[^&]*", r"\1***", masked)
    rendered = parsed.render_as_string(hide_password=True)
    return re.sub(r"(?i)((?:ssl)?password=)[^&]*", r"\1***", rendered)


def _secrets(url: URL) -> list[str]:
    values = [url.password] if url.password else []
    values += [str(v) for k, v in url.query.items() if k.lower() in _SECRET_QUERY_KEYS and v]
    return [str(v) for v in values if str(v)]


def scrub(message: str, url: str | URL) -> str:
    """``message`` with every secret of ``url`` replaced by ``***`` (driver messages can echo them)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except (sa_exc.ArgumentError, ValueError, TypeError):
        return message
    for secret in _secrets(parsed):
        message = message.replace(secret, "***")
    return message


def normalize_url(url: str) -> str:
    """A URL SQLAlchemy can open with the drivers shipped here; raises :class:`DatabaseURLError`."""
    if not isinstance(url, str) or not url.strip():
        raise DatabaseURLError("The database URL is empty.", _URL_HINT)
    raw = url.strip()
    try:
        parsed = make_url(raw)
    except (sa_exc.ArgumentError, ValueError, TypeError) as exc:
        reason = (str(exc).splitlines() or ["unparsable"])[0]
        raise DatabaseURLError(f"The database URL {mask_url(raw)} is malformed ({reason}).", _URL_HINT) from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=PG_DRIVER)
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise DatabaseURLError(f"The database URL {mask_url(parsed)} has an invalid port.", _URL_HINT)
    elif backend == "sqlite":
        if parsed.drivername != "sqlite":
            parsed = parsed.set(drivername="sqlite")
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseURLError(
                f"The database URL {mask_url(parsed)} names no file; an in-memory database would not be shared.",
                "Use sqlite:////absolute/path/to/file.sqlite3.",
            )
    else:
        raise DatabaseURLError(f"The database URL {mask_url(parsed)} is not PostgreSQL or SQLite.", _URL_HINT)
    return parsed.render_as_string(hide_password=False)


def sqlite_url(path: Path | str) -> str:
    """The SQLite URL of a file (made absolute, so the working directory does not matter)."""
    return URL.create("sqlite", database=str(Path(path).expanduser().absolute())).render_as_string()


def env_url() -> str | None:
    """``DATABASE_URL`` normalized, or None when it is unset or blank."""
    value = os.environ.get(ENV_VAR, "").strip()
    return normalize_url(value) if value else None


def resolve_url(path: Path | str | None = None, url: str | None = None, *, default_file: str) -> str:
    """A store's database: ``url``, else SQLite at ``path``, else ``DATABASE_URL``, else ``PLAYGROUND_HOME``."""
    if url is not None:
        return normalize_url(url)
    if path is not None:
        return sqlite_url(path)
    return env_url() or sqlite_url(home_dir() / default_file)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for a server database."""
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def describe(url: str) -> str:
    """What to show a user: the SQLite file, or the masked server URL."""
    path = sqlite_path(url)
    return str(path) if path is not None else mask_url(url)


# --- engines -----------------------------------------------------------------------------------------

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_BEGIN) == "write"
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: str) -> Engine:
    parsed = make_url(url)
    connect_args: dict[str, Any] = {"application_name": "qwen-playground"}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    options = parsed.query.get("options", "")
    if isinstance(options, str) and "lock_timeout" not in options:  # added to the URL's own options
        connect_args["options"] = f"{options} -c lock_timeout={int(BUSY_TIMEOUT_S * 1000)}".strip()
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_timeout=BUSY_TIMEOUT_S, connect_args=connect_args
    )


def get_engine(url: str) -> Engine:
    """The process's engine for a normalized URL (created on first use)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            backend = make_url(url).get_backend_name()
            engine = _sqlite_engine(url) if backend == "sqlite" else _postgres_engine(url)
            _engines[url] = engine
        return engine


def dispose(url: str) -> None:
    """Close the pooled connections of a URL's engine and forget it (tests, shutdown)."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


# --- exact text -----------------------------------------------------------------------------------------

_ESC = "\ue000"  # a private-use character: escapes itself and NUL in PostgreSQL text


class ExactText(TypeDecorator):
    """Text stored exactly: on PostgreSQL, NUL becomes ESC+"0" and ESC becomes ESC+ESC."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None or dialect.name != "postgresql" or ("\x00" not in value and _ESC not in value):
            return value
        return value.replace(_ESC, _ESC + _ESC).replace("\x00", _ESC + "0")

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None or dialect.name != "postgresql" or _ESC not in value:
            return value
        return re.sub(f"{_ESC}(.)", lambda m: "\x00" if m.group(1) == "0" else m.group(1), value, flags=re.DOTALL)


# --- schema versions ---------------------------------------------------------------------------------------

_versions_metadata = MetaData()
VERSIONS = Table(
    "schema_versions",
    _versions_metadata,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)

Upgrade = Callable[[Connection], None]


@dataclass(frozen=True)
class Schema:
    """A store's tables at ``version`` and the steps that bring an older database there.

    ``upgrades[n]`` turns a version ``n - 1`` database into version ``n``.
    ``legacy_version`` reads the version of a database that predates
    ``schema_versions`` (None: there is no such database here, create it).
    """

    component: str
    version: int
    metadata: MetaData
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)
    legacy_version: Callable[[Connection], int | None] = lambda _conn: None


def has_table(conn: Connection, name: str) -> bool:
    return bool(conn.dialect.has_table(conn, name))


def recorded_version(conn: Connection, component: str) -> int | None:
    """The version in ``schema_versions`` for ``component``; None when there is no such row (or table)."""
    if not has_table(conn, VERSIONS.name):
        return None
    found = conn.execute(select(VERSIONS.c.version).where(VERSIONS.c.component == component)).scalar()
    return None if found is None else int(found)


def _set_version(conn: Connection, component: str, version: int) -> None:
    updated = conn.execute(VERSIONS.update().where(VERSIONS.c.component == component).values(version=version))
    if updated.rowcount == 0:
        conn.execute(VERSIONS.insert().values(component=component, version=version))


def apply_schema(conn: Connection, schema: Schema, where: str) -> int:
    """Create, upgrade or accept the schema inside the caller's write transaction; returns the old version."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
    recorded = recorded_version(conn, schema.component)
    found = recorded if recorded is not None else schema.legacy_version(conn) or 0
    if found > schema.version:
        raise SchemaVersionError(
            f"{where} was written by a newer version of the playground "
            f"({schema.component} schema {found}; this version reads up to {schema.version}).",
            "Update the playground, or point PLAYGROUND_HOME / DATABASE_URL at another database.",
        )
    if 0 < found < schema.version:
        for step in range(found + 1, schema.version + 1):
            schema.upgrades[step](conn)
    _versions_metadata.create_all(conn, checkfirst=True)
    schema.metadata.create_all(conn, checkfirst=True)
    if recorded != schema.version:
        _set_version(conn, schema.component, schema.version)
    return found


# --- a store's handle -------------------------------------------------------------------------------------

Translator = Callable[[Exception], PlaygroundError]


def _reason(exc: BaseException, url: str) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(orig).__name__, url)


class Database:
    """One store's database: its URL, engine and schema, and transactions with clear errors.

    ``translate`` turns driver errors that are not connection failures (a locked
    or corrupt SQLite file, a constraint) into the store's own errors; ``error``
    is the store's error class for a SQLite folder that cannot be created.
    """

    def __init__(
        self, url: str, schema: Schema, translate: Translator, error: type[DatabaseError] = DatabaseError
    ) -> None:
        self.url = url
        self.error = error
        self.schema = schema
        self.path = sqlite_path(url)
        self.location = describe(url)
        self.backend = "sqlite" if self.path is not None else "postgresql"
        self.engine = get_engine(url)
        self._translate = translate
        self.upgraded_from = self.ensure_schema()

    def ensure_schema(self) -> int:
        """Create the SQLite folder, then create, upgrade or check the tables; returns the version found."""
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self.error(
                    f"Cannot create the folder for {self.schema.component} ({self.path.parent}): "
                    f"{exc.strerror or exc}.",
                    "Set PLAYGROUND_HOME to a writable folder.",
                ) from exc
            self._enable_wal()
        with self._transaction(write=True, initializing=True) as conn:
            return apply_schema(conn, self.schema, self.location)

    def _enable_wal(self) -> None:
        """WAL mode (persistent in the file) lets readers go on while one writer commits; set outside BEGIN.

        Switching the journal mode needs the file to itself, and SQLite answers "database is
        locked" at once, without its busy handler, while another connection is in a transaction
        (another replica creating the tables, say): so it is retried until the busy timeout.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                with self.engine.connect() as conn:
                    conn.connection.driver_connection.execute("PRAGMA journal_mode = WAL")
                return
            except (sa_exc.SQLAlchemyError, sqlite3.Error) as exc:  # the driver's own connection: its own errors
                if not (is_busy(exc) and time.monotonic() < deadline):
                    raise self._translate(exc) from exc
                time.sleep(WAL_RETRY_S)

    def unavailable(self, exc: BaseException, lost: bool = False) -> DatabaseUnavailableError:
        what = "lost its connection to" if lost else "cannot reach"
        return DatabaseUnavailableError(
            f"The playground {what} the database {mask_url(self.url)} ({_reason(exc, self.url)}).",
            "Check that the PostgreSQL server is running and that DATABASE_URL (host, port, user, password, "
            f"database) is right; each attempt waits at most {CONNECT_TIMEOUT_S} s.",
        )

    @contextmanager
    def _transaction(self, *, write: bool, initializing: bool = False) -> Iterator[Connection]:
        if self.path is not None and not initializing and not self.path.exists():
            # The file was removed while the app ran (e.g. data/ cleaned): start a fresh one.
            self.ensure_schema()
        try:
            conn = self.engine.connect()
        except sa_exc.SQLAlchemyError as exc:
            if self.backend == "postgresql":
                raise self.unavailable(exc) from None
            raise self._translate(exc) from exc
        try:
            if self.backend == "sqlite":
                conn.execution_options(**{_BEGIN: "write" if write else "read"})
            elif not write:
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn
        except sa_exc.DBAPIError as exc:
            if self.backend == "postgresql" and exc.connection_invalidated:
                raise self.unavailable(exc, lost=True) from None
            raise self._translate(exc) from exc
        except sa_exc.SQLAlchemyError as exc:
            raise self._translate(exc) from exc
        finally:
            conn.close()

    def read(self) -> Any:
        """A read transaction: every SELECT inside sees one consistent snapshot."""
        return self._transaction(write=False)

    def write(self) -> Any:
        """A write transaction, committed when the block ends without an exception."""
        return self._transaction(write=True)


def is_busy(exc: BaseException) -> bool:
    """The database stayed locked longer than the busy / lock timeout."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "55P03":  # lock_not_available
        return True
    message = str(orig or exc)
    return "database is locked" in message or "database is busy" in message


def is_corrupt(exc: BaseException) -> bool:
    """The SQLite file is not a database (or is damaged)."""
    message = str(getattr(exc, "orig", None) or exc)
    return "not a database" in message or "malformed" in message


class Store:
    """The part every store on a :class:`Database` shares: its URL resolved once, where it lives.

    ``url`` wins, else SQLite at ``path``, else ``DATABASE_URL``, else ``PLAYGROUND_HOME/default_file``;
    ``translate(exc, where)`` turns driver errors into the store's own (``where`` is the masked location).
    """

    def __init__(
        self,
        path: Path | str | None,
        url: str | None,
        *,
        default_file: str,
        schema: Schema,
        translate: Callable[[Exception, str], PlaygroundError],
        error: type[DatabaseError],
    ) -> None:
        self.url = resolve_url(path, url, default_file=default_file)
        where = describe(self.url)
        self._db = Database(self.url, schema, lambda exc: translate(exc, where), error)

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        return self._db.path

    @property
    def location(self) -> str:
        """Where the data lives, for messages: the file, or the URL with its password masked."""
        return self._db.location
