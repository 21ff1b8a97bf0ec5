"""Running a comparison in the page: load through background jobs, stream every pane into its view.

Contract:
- :class:`BackgroundLoads` is the pool as :func:`core.compare.run_comparison`
  sees it (``peek`` / ``get``), but a load runs in a :class:`ui.load_jobs.LoadJobs`
  thread and ``get`` polls it, reporting progress. A Streamlit rerun or Stop
  interrupts the poll, never the load: the next run finds the model loaded.
- :func:`stream_comparison` consumes the comparison's events and redraws
  each pane's :class:`ui.compare_view.PaneView`. Streamlit stops a script
  (Stop button, another click, a closed tab) by raising at its next ``st``
  call; the ``finally`` block then sets the cancel event and closes the
  events, which finishes every pane (partial replies kept, status
  "stopped") without calling ``st`` again. On a normal end it draws every
  pane once more with its final figures.
- :class:`ActiveRun` and :func:`settle`: the page keeps the running
  comparison's cancel/finished events in the session, so the next script run
  (which Streamlit may start in a new thread before the old one has stopped)
  stops it and waits until its panes are final before drawing them.
- :func:`stream_factory` is where RAG and guardrails plug in: the
  :data:`core.compare.StreamFactory` of :mod:`core.compare_pipeline`, fed with
  the session's settings by :mod:`ui.compare_switches` (each pane's setup is
  built when that pane runs, so a failing one fails in its pane only).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

from core.compare import PaneConfig, PaneState, StreamFactory, run_comparison
from core.compare_pipeline import make_stream_factory
from core.loading import LoadedModel, LoadProgress
from core.pool import ModelPool
from ui.compare_view import PaneView
from ui.load_jobs import LoadJobs

POLL_S = 0.1
SETTLE_S = 60.0


def stream_factory() -> StreamFactory:
    """The stream factory honouring each pane's RAG and guardrails switches (plain panes: the engine's stream)."""
    from ui.compare_switches import guard_setup, rag_setup  # imports the RAG and guardrails UI modules

    return make_stream_factory(rag_setup, guard_setup)


class BackgroundLoads:
    """``peek``/``get`` of the shared pool, loading in background jobs (see the module docstring)."""

    def __init__(self, pool: ModelPool, jobs: LoadJobs, poll_s: float = POLL_S) -> None:
        self.pool = pool
        self.jobs = jobs
        self.poll_s = poll_s

    def peek(self, name: str, quant: str = "auto", device: str = "auto") -> LoadedModel | None:
        return self.pool.peek(name, quant, device)

    def get(self, name: str, quant: str = "auto", device: str = "auto", progress: LoadProgress | None = None
            ) -> LoadedModel:  # fmt: skip
        job = self.jobs.start(name, quant, device)
        while not job.wait(self.poll_s):
            if progress is not None:
                progress(job.fraction, job.message)
        if job.failure is not None:
            raise job.failure
        assert job.result is not None
        return job.result


@dataclass
class ActiveRun:
    """A comparison in progress: ``cancel`` stops it, ``finished`` is set once every pane is final."""

    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


def settle(active: ActiveRun | None, timeout_s: float = SETTLE_S) -> bool:
    """Stop a comparison left running by an interrupted script run and wait until its panes are final.

    With fast reruns (Streamlit's default) a click during a run starts the next
    run at once in a new thread, while the old one only stops at its next
    ``st`` call; without this wait the new run would draw panes still marked
    "streaming". Returns False if it did not finish in ``timeout_s``.
    """
    if active is None or active.finished.is_set():
        return True
    active.cancel.set()
    return active.finished.wait(timeout_s)


def stream_comparison(
    pool: BackgroundLoads | ModelPool,
    panes: Mapping[str, PaneConfig],
    states: MutableMapping[str, PaneState],
    prompt: str,
    views: Mapping[str, PaneView],
    active: ActiveRun | None = None,
) -> None:
    """Run the comparison, drawing each pane as it streams; states are final however this ends.

    Invalid input (pane count, prompt) raises core's InvalidParameterError before anything loads.
    ``active`` (kept in the session by the page) lets a later run stop this one and wait for it.
    """
    active = active or ActiveRun()
    try:
        events = run_comparison(
            pool,  # type: ignore[arg-type]  # BackgroundLoads has the two methods run_comparison uses
            panes,
            states,
            prompt,
            cancel=active.cancel,
            on_load_progress=lambda pane_id, fraction, message: views[pane_id].loading(fraction, message),
            stream_factory=stream_factory(),
        )
    except BaseException:
        active.finished.set()
        raise
    try:
        for event in events:
            view = views[event.pane_id]
            if event.kind != "chunk":
                view.ended = event.kind
            view.show(states[event.pane_id], force=event.kind != "chunk")
    finally:  # no st call in here: an interrupted script raises again at each one
        active.cancel.set()
        try:
            events.close()  # type: ignore[attr-defined]
        finally:
            active.finished.set()
    for pane_id, view in views.items():
        view.show(states[pane_id], live=False, force=True)
