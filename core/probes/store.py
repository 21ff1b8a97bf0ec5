"""Saved probe runs, so earlier runs can be compared: one SQLite file under PLAYGROUND_HOME.

Contract of :class:`ProbeStore`:
- ``save(result)`` stores a :class:`SuiteResult` (replacing one with the same run id)
  and returns its id; ``load(run_id)`` gives it back equal to what was saved;
  ``list_runs()`` gives summaries, newest first; ``delete(run_id)`` removes one.
- An unknown id raises :class:`RunNotFoundError`; a damaged database file raises
  :class:`ProbeStoreError` with a hint (both are PlaygroundErrors). A stored row whose
  JSON cannot be read is skipped by ``list_runs`` and reported by ``load``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import PlaygroundError
from core.paths import home_dir
from core.probes.runner import SuiteResult

DB_NAME = "probes.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    model       TEXT NOT NULL,
    quant       TEXT NOT NULL,
    device      TEXT NOT NULL,
    thinking    INTEGER NOT NULL,
    overall     REAL NOT NULL,
    probes      INTEGER NOT NULL,
    passed      INTEGER NOT NULL,
    complete    INTEGER NOT NULL,
    capabilities TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
"""


class ProbeStoreError(PlaygroundError):
    """The results database cannot be opened or read."""


class RunNotFoundError(ProbeStoreError):
    """No saved run has this id."""


@dataclass(frozen=True)
class RunSummary:
    """A saved run as a list shows it."""

    run_id: str
    started_at: str
    model: str
    quant: str
    device: str
    thinking: bool
    overall: float
    probes: int
    passed: int
    complete: bool
    capabilities: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.model} · {self.quant or '?'} · {'thinking' if self.thinking else 'no thinking'}"


def default_path() -> Path:
    return home_dir() / DB_NAME


class ProbeStore:
    """Probe runs in ``path`` (default: ``PLAYGROUND_HOME/probes.sqlite3``)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise ProbeStoreError(f"Cannot open the probe results at {self.path}: {exc}",
                                  "Check that PLAYGROUND_HOME is writable.") from exc  # fmt: skip
        try:
            with connection:
                connection.executescript(_SCHEMA)
                yield connection
        except sqlite3.DatabaseError as exc:
            raise ProbeStoreError(
                f"The probe results database {self.path} cannot be read: {exc}",
                "Move the file away (earlier runs are then no longer listed) and run the suite again.",
            ) from exc
        finally:
            connection.close()

    def save(self, result: SuiteResult) -> str:
        payload = result.to_json(indent=None)
        config = result.config
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result.run_id, result.started_at, config.model, config.quant, config.device, int(config.thinking),
                 result.overall, len(result.results), result.passed, int(result.complete),
                 ",".join(result.capabilities), payload),
            )  # fmt: skip
        return result.run_id

    def list_runs(self, limit: int = 100, model: str | None = None) -> list[RunSummary]:
        """Summaries, newest first (at most ``limit``; only ``model``'s when given)."""
        query = ("SELECT run_id, started_at, model, quant, device, thinking, overall, probes, passed, complete, "
                 "capabilities FROM runs")  # fmt: skip
        if not self.path.exists():  # listing must not create the file
            return []
        args: tuple = ()
        if model:
            query, args = query + " WHERE model = ?", (model,)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(query, (*args, max(int(limit), 0))).fetchall()
        return [
            RunSummary(
                run_id=r[0],
                started_at=r[1],
                model=r[2],
                quant=r[3],
                device=r[4],
                thinking=bool(r[5]),
                overall=float(r[6]),
                probes=int(r[7]),
                passed=int(r[8]),
                complete=bool(r[9]),
                capabilities=tuple(c for c in r[10].split(",") if c),
            )  # fmt: skip
            for r in rows
        ]

    def load(self, run_id: str) -> SuiteResult:
        row = None
        if self.path.exists():
            with self._connect() as db:
                row = db.execute("SELECT payload FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(f"No saved probe run with id '{run_id}'.",
                                   "List the saved runs with `python -m core.probes list`.")  # fmt: skip
        try:
            return SuiteResult.from_json(row[0])
        except ValueError as exc:
            raise ProbeStoreError(f"Saved run '{run_id}' cannot be read: {exc}",
                                  "Delete it and run the suite again.") from exc  # fmt: skip

    def delete(self, run_id: str) -> bool:
        if not self.path.exists():
            return False
        with self._connect() as db:
            return db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount > 0


def summary_to_dict(summary: RunSummary) -> dict:
    """A JSON-ready dict of a :class:`RunSummary` (with its label)."""
    data = asdict(summary)
    data["capabilities"] = list(summary.capabilities)
    data["label"] = summary.label
    return data
