"""Model loads run in a background thread, so a Streamlit rerun never aborts one half-way.

A script run that wants a model calls :meth:`LoadJobs.start` and polls the
returned :class:`LoadJob` (``fraction``/``message``) to draw a progress bar.
If the run is interrupted (the user clicks something, stops, reloads), the
load goes on; the next run finds the same job, or the model already in the
pool. Progress callbacks therefore never touch Streamlit from a foreign
thread. This module does not import streamlit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from core.errors import PlaygroundError
from core.loading import LoadedModel
from core.pool import Key, ModelPool


@dataclass
class LoadJob:
    """One load: progress as reported by the loader, then a result or an error."""

    key: Key
    fraction: float = 0.0
    message: str = "Waiting to load…"
    result: LoadedModel | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def report(self, fraction: float, message: str) -> None:
        """The loader's progress callback (called from the loading thread)."""
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        self.message = message

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    @property
    def failure(self) -> PlaygroundError | None:
        """The error as a PlaygroundError (unexpected exceptions wrapped with a hint)."""
        if self.error is None or isinstance(self.error, PlaygroundError):
            return self.error
        return PlaygroundError(
            f"Loading '{self.key[0]}' failed: {type(self.error).__name__}: {self.error}",
            "Check the model name, path and quantization.",
        )


class LoadJobs:
    """At most one running load per pool key; finished jobs are handed out once and dropped."""

    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool
        self._lock = threading.Lock()
        self._running: dict[Key, LoadJob] = {}

    def start(self, name: str, quant: str = "auto", device: str = "auto") -> LoadJob:
        """The job loading this key: an already running one, a finished one if loaded, or a new one."""
        key = ModelPool.key(name, quant, device)
        loaded = self.pool.peek(*key)
        if loaded is not None:
            job = LoadJob(key, 1.0, "Loaded.", result=loaded)
            job.done.set()
            return job
        with self._lock:
            job = self._running.get(key)
            if job is None:
                job = LoadJob(key)
                self._running[key] = job
                threading.Thread(target=self._run, args=(job,), name=f"load {key[0]}", daemon=True).start()
            return job

    def running(self, name: str, quant: str = "auto", device: str = "auto") -> LoadJob | None:
        with self._lock:
            return self._running.get(ModelPool.key(name, quant, device))

    def _run(self, job: LoadJob) -> None:
        try:
            job.result = self.pool.get(*job.key, progress=job.report)
            job.report(1.0, "Loaded.")
        except BaseException as exc:  # noqa: BLE001 - handed to the page, which shows it
            job.error = exc
        finally:
            with self._lock:
                self._running.pop(job.key, None)
            job.done.set()
