"""Start and stop a real Chroma server (``chroma run``) for the server-mode RAG tests.

- :func:`chroma_cli` finds the ``chroma`` command (next to the running Python, else on PATH).
- :class:`ChromaServer` runs ``chroma run --path DIR --port N`` on a free local
  port, waits until its heartbeat answers and stops it (terminate, then kill).
- Fixtures for test modules: ``chroma_server`` (one server per test session;
  skipped with a reason only when the CLI is missing), ``rag_store`` (a
  :class:`rag.store.RagStore` with hashing embeddings, parametrized over
  ``embedded`` and ``server``; each test gets its own directory or, on the
  shared server, the collections it made are deleted afterwards).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.net import free_port

STARTUP_TIMEOUT_S = 30.0


def chroma_cli() -> str | None:
    """Path of the ``chroma`` command, or None."""
    local = Path(sys.executable).parent / "chroma"
    if local.exists():
        return str(local)
    return shutil.which("chroma")


class ChromaServer:
    """A ``chroma run`` process serving ``path`` on localhost."""

    def __init__(self, path: Path, port: int | None = None, cli: str | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.host = "localhost"
        self.cli = cli or chroma_cli()
        self.log = path.parent / f"chroma-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> ChromaServer:
        if self.cli is None:
            raise RuntimeError("The chroma command line is not installed.")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [self.cli, "run", "--path", str(self.path), "--port", str(self.port), "--host", self.host],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        url = f"http://{self.host}:{self.port}/api/v2/heartbeat"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer within {STARTUP_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    if chroma_cli() is None:
        pytest.skip("the `chroma` command line is not installed (pip install chromadb puts it in .venv/bin)")
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db")
    with server:
        yield server


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def rag_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """A RagStore with hashing embeddings, embedded (own tmp dir) or on the shared test server."""
    from rag.store import RagStore, StoreConfig

    if request.param == "embedded":
        yield RagStore(StoreConfig(persist_dir=tmp_path / "chroma"), embedding_model="hashing")
        return
    server: ChromaServer = request.getfixturevalue("chroma_server")
    store = RagStore(StoreConfig(host=server.host, port=server.port), embedding_model="hashing")
    before = set(store.collection_names())
    yield store
    for name in set(store.collection_names()) - before:
        store.delete_collection(name)
