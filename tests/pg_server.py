"""A real PostgreSQL server for the store tests, and the ``sqlite`` / ``postgresql`` store parametrization.

- :func:`pg_bin_dir` finds Debian's server binaries (``/usr/lib/postgresql/NN/bin``, newest first,
  else ``initdb`` on PATH).
- :class:`PostgresServer` runs ``initdb`` and ``pg_ctl start`` in a fresh temporary directory
  (data, unix socket and log inside it) on a free local port, with password (scram) logins over
  TCP, and stops it (``pg_ctl stop -m immediate``) and removes the directory at the end.
  PostgreSQL refuses to run as root, so as root the commands run as the ``postgres`` system user
  (``runuser -u postgres --``; the user is created when missing) and the directory is chown'ed to it.
- Fixtures: ``pg_server`` (one server per test session; skipped with a reason when PostgreSQL is
  not installed, failed instead when ``PLAYGROUND_REQUIRE_POSTGRES=1``), ``db_backend``
  (parametrized ``sqlite`` and ``postgresql``, the latter marked ``server``) and ``db_url``
  (a factory: ``db_url("name")`` is an empty database of that backend for this test, the same
  name giving the same database; on PostgreSQL each name is a fresh schema, dropped afterwards).
  Test modules import the fixtures they use: ``from tests.pg_server import db_backend, db_url, pg_server``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.net import free_port

SUPERUSER = "postgres"
USER, PASSWORD = "playground", "s3cret-Pässword"  # a password that must never show in any message
DATABASE = "playground"
STARTUP_TIMEOUT_S = 30
RUN_AS = "postgres"  # the system user that runs the server when the tests run as root


def pg_bin_dir() -> Path | None:
    """The directory of ``initdb`` / ``pg_ctl``: Debian's newest version, else PATH; None if not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *argv] if os.geteuid() == 0 else argv


def _ensure_server_user() -> None:
    """As root, the server needs an unprivileged user; Debian's package creates ``postgres``."""
    if os.geteuid() != 0:
        return
    if subprocess.run(["id", "-u", RUN_AS], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS], check=True)


class PostgresServer:
    """One throwaway PostgreSQL cluster on 127.0.0.1 (TCP, password logins) in its own temp directory."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="playground-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"

    @property
    def url(self) -> str:
        """The playground user's URL (the password is URL-encoded by hand: it holds non-ASCII characters)."""
        from urllib.parse import quote

        return f"postgresql+psycopg://{USER}:{quote(PASSWORD)}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *argv: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
        result = subprocess.run(_as_server_user([str(a) for a in argv]), capture_output=True, text=True,
                                timeout=timeout, cwd=self.root)  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        _ensure_server_user()
        self.sockets.mkdir()
        password_file = self.root / "superuser-password"
        password_file.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, RUN_AS)
            for path in (self.sockets, password_file):
                shutil.chown(path, RUN_AS)
        self._run(self.bin_dir / "initdb", "-D", self.data, "-U", SUPERUSER, "-E", "UTF8", "--no-locale", "-N",
                  "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}")  # fmt: skip
        self.resume()
        self.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'", f"CREATE DATABASE {DATABASE} OWNER {USER}")
        return self

    def resume(self) -> None:
        """Start the server on the cluster (again, after :meth:`halt`); returns once it accepts connections."""
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")  # fmt: skip
        self._run(self.bin_dir / "pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w",
                  "-t", str(STARTUP_TIMEOUT_S), "start", timeout=STARTUP_TIMEOUT_S + 10)  # fmt: skip

    def halt(self) -> None:
        """Shut the server down cleanly (committed data kept; every client connection is closed)."""
        self._run(self.bin_dir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def psql(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser over the unix socket."""
        argv = [self.bin_dir / "psql", "-h", self.sockets, "-p", str(self.port), "-U", SUPERUSER, "-d", database,
                "-v", "ON_ERROR_STOP=1", "-q"]  # fmt: skip
        for statement in statements:
            argv += ["-c", statement]
        self._run(*argv)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(self.bin_dir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # the directory is removed below either way
        shutil.rmtree(self.root, ignore_errors=True)


def require_pg_bin() -> Path:
    """The server binaries, or skip the test with the reason (fail it when PLAYGROUND_REQUIRE_POSTGRES=1)."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL is not installed (make postgres-deps, or apt-get install postgresql)"
        if os.environ.get("PLAYGROUND_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; PLAYGROUND_REQUIRE_POSTGRES=1 requires it.")
        pytest.skip(reason)
    return bin_dir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer(require_pg_bin())
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    yield server
    from core import db

    for url in [u for u in db._engines if f":{server.port}/" in u]:
        db.dispose(url)
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def db_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``db_url(name)``: this test's database ``name`` on the backend under test (created empty on first use)."""
    from core import db

    made: dict[str, str] = {}
    server: PostgresServer | None = request.getfixturevalue("pg_server") if db_backend == "postgresql" else None

    def make(name: str = "main") -> str:
        if name not in made:
            if server is None:
                made[name] = db.sqlite_url(tmp_path / f"{name}.sqlite3")
            else:
                schema = f"t_{uuid.uuid4().hex[:12]}"
                server.psql(f"CREATE SCHEMA {schema} AUTHORIZATION {USER}", database=DATABASE)
                made[name] = f"{server.url}?options=-csearch_path%3D{schema}"
        return made[name]

    yield make
    for url in made.values():
        db.dispose(url)
    if server is not None and made:
        schemas = [u.rsplit("%3D", 1)[1] for u in made.values()]
        server.psql(*(f"DROP SCHEMA IF EXISTS {s} CASCADE" for s in schemas), database=DATABASE)
