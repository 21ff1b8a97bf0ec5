"""Side-by-side comparison: one prompt, 2 to 4 configurations, replies streamed in turn.

Contract:
- :class:`PaneConfig` is one pane's configuration (model, quantization, device,
  system prompt, sampling, thinking, RAG and guardrails flags, label); it is
  validated on construction and raises :class:`InvalidParameterError` with a
  message naming the field.
- :func:`interleave` advances one iterator per pane in turn (round robin) in
  the caller's thread and turns what happens into :class:`PaneEvent` objects.
  An exception in one pane becomes an ``"error"`` event for that pane only;
  the others carry on. When ``cancel`` is set, every pane still running is
  closed (a closed engine stream keeps its partial text) and reported
  ``"stopped"``. Closing the event generator closes every pane too.
- :func:`run_comparison` loads each pane's model through a
  :class:`core.pool.ModelPool` (panes with the same (model, quant, device)
  share one loaded model), sends the same prompt to every pane with that pane's
  own history and system prompt, and interleaves the streams. It keeps each
  :class:`PaneState` up to date while streaming (reply text, status) and, at
  the end, for whatever reason it ends, records the metrics and extends the
  pane's history. A pane that fails to load is an error in that pane only.
- :func:`metrics_table`, :func:`export_markdown` and :func:`export_json` turn
  the states into chart rows and shareable documents (no secrets in them).

Why one thread: the panes' generators are advanced in turn, so the work of all
panes shares one device and one Python thread; a model shared by two panes is
safe because the model lock is re-entrant per thread and each stream has its
own KV cache. The price is that each pane's wall-clock time includes the other
panes' turns, so the per-pane figures (tokens/s, total time) are computed from
the time spent advancing that pane's own generator (``busy``), which is what
the configuration would take alone on the same device; the wall-clock time is
reported next to it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from core.context import Message
from core.engine import Chunk, Reply, stream_chat
from core.errors import InvalidParameterError, PlaygroundError
from core.loading import LoadedModel
from core.params import GenerationParams
from core.pool import Key, ModelPool
from core.registry import DEVICES, QUANTS

MIN_PANES, MAX_PANES = 2, 4
MAX_MODEL_CHARS = 1000
MAX_SYSTEM_PROMPT_CHARS = 20_000
MAX_PROMPT_CHARS = 50_000
MAX_LABEL_CHARS = 60
MAX_COLLECTION_CHARS = 512  # Chroma's limit; rag.store validates the name itself when the pane runs
EXPORT_FORMAT = "qwen-playground-compare/1"

PaneStatus = Literal["idle", "loading", "streaming", "done", "stopped", "error"]
EventKind = Literal["chunk", "done", "stopped", "error"]
LoadProgressByPane = Callable[[str, float, str], None]  # (pane_id, fraction, message)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONFIG_FIELDS = (
    "model", "quant", "device", "system_prompt", "params", "thinking", "rag", "guardrails", "collection", "label",
)  # fmt: skip


# --- configuration ---------------------------------------------------------------------------


def _text_field(name: str, value: Any, limit: int, *, allow_newlines: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be text, got {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidParameterError(f"{name} is too long ({len(value):,} characters; at most {limit:,}).")
    if _CONTROL.search(value) or (not allow_newlines and ("\n" in value or "\r" in value)):
        raise InvalidParameterError(f"{name} contains control characters.", "Remove them (binary pasted by mistake?).")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be true or false, got {value!r}.")
    return value


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class PaneConfig:
    """One pane: what to load and how to ask it.

    ``rag`` and ``guardrails`` are carried (and exported, and part of the
    configuration's identity in the arena); they only change the reply when the
    caller of :func:`run_comparison` supplies a ``stream_factory`` that honours
    them (:func:`core.compare_pipeline.make_stream_factory`). ``collection`` is
    the RAG pane's document collection: required when ``rag`` is on, and
    cleared when it is off (it changes nothing then), so ``to_dict()`` leaves it
    out of a configuration without RAG, whose identity stays what it was.
    """

    model: str
    quant: str = "auto"
    device: str = "auto"
    system_prompt: str = ""
    params: GenerationParams = field(default_factory=GenerationParams)
    thinking: bool = False
    rag: bool = False
    guardrails: bool = False
    collection: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        model = _text_field("model", self.model, MAX_MODEL_CHARS, allow_newlines=False).strip()
        if not model:
            raise InvalidParameterError("model is empty.", "Pick a model alias, a local path or a hub id.")
        object.__setattr__(self, "model", model)
        if self.quant not in QUANTS:
            raise InvalidParameterError(f"Unknown quantization {self.quant!r}.", f"Choose one of: {', '.join(QUANTS)}.")
        if self.device not in DEVICES:
            raise InvalidParameterError(f"Unknown device {self.device!r}.", f"Choose one of: {', '.join(DEVICES)}.")
        _text_field("system_prompt", self.system_prompt, MAX_SYSTEM_PROMPT_CHARS)
        params = self.params
        if isinstance(params, Mapping):
            params = GenerationParams.from_dict(dict(params))
        if not isinstance(params, GenerationParams):
            raise InvalidParameterError(f"params must be GenerationParams, got {type(params).__name__}.")
        object.__setattr__(self, "params", params)
        for name in ("thinking", "rag", "guardrails"):
            _flag(name, getattr(self, name))
        collection = _text_field("collection", self.collection, MAX_COLLECTION_CHARS, allow_newlines=False).strip()
        if self.rag and not collection:
            raise InvalidParameterError(
                "RAG is on but no collection is chosen.",
                "Pick a collection, or create one on the RAG page (its demo corpus takes one click).",
            )
        object.__setattr__(self, "collection", collection if self.rag else "")
        label = _text_field("label", self.label, MAX_LABEL_CHARS, allow_newlines=False)
        object.__setattr__(self, "label", label.strip())

    @property
    def key(self) -> Key:
        """The pool key: panes with equal keys share one loaded model."""
        return ModelPool.key(self.model, self.quant, self.device)

    @property
    def display_label(self) -> str:
        return self.label or self.describe(short=True)

    def describe(self, short: bool = False) -> str:
        """A one-line human summary, e.g. ``qwen3-0.6b · nf4 · cpu · thinking on · T 0.7, top-p 0.8``."""
        p = self.params
        sampling = "greedy" if p.greedy else f"T {p.temperature:g}, top-p {p.top_p:g}, top-k {p.top_k}"
        if p.seed is not None and not p.greedy:
            sampling += f", seed {p.seed}"
        parts = [self.model, self.quant, self.device, f"thinking {'on' if self.thinking else 'off'}", sampling]
        if short:
            parts = [self.model.rsplit("/", 1)[-1], self.quant, self.device]
            if self.thinking:
                parts.append("thinking")
        if self.rag:
            parts.append(f"RAG: {self.collection}")
        if self.guardrails:
            parts.append("guardrails")
        if self.system_prompt and not short:
            parts.append(f"system: “{_short(self.system_prompt, 40)}”")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "quant": self.quant,
            "device": self.device,
            "system_prompt": self.system_prompt,
            "params": self.params.to_dict(),
            "thinking": self.thinking,
            "rag": self.rag,
            "guardrails": self.guardrails,
            **({"collection": self.collection} if self.rag else {}),
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaneConfig:
        """Build from a dict (e.g. JSON); unknown keys and a missing model are errors."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"A pane configuration must be an object, got {type(data).__name__}.")
        unknown = sorted(set(data) - set(_CONFIG_FIELDS))
        if unknown:
            raise InvalidParameterError(f"Unknown pane setting(s): {', '.join(map(str, unknown))}.")
        if "model" not in data:
            raise InvalidParameterError("A pane configuration needs a model.")
        values = dict(data)
        if "params" in values:
            if not isinstance(values["params"], Mapping):
                raise InvalidParameterError("params must be an object of generation parameters.")
            values["params"] = GenerationParams.from_dict(dict(values["params"]))
        return cls(**values)

    def with_(self, **changes: Any) -> PaneConfig:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)


# --- state and events ------------------------------------------------------------------------


@dataclass
class PaneState:
    """What a pane shows: its conversation, the reply in progress or last reply, status, metrics."""

    label: str = ""
    history: list[Message] = field(default_factory=list)  # user/assistant turns, no system prompt
    reply: str = ""
    reasoning: str = ""
    error: str | None = None
    status: PaneStatus = "idle"
    metrics: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    # What RAG and guardrails did in the last turn ("rag", "guardrails"; see core.compare_pipeline)
    details: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget the conversation (the label stays)."""
        self.history.clear()
        self.reply = self.reasoning = ""
        self.error = None
        self.status = "idle"
        self.metrics = {}
        self.notices = []
        self.details = {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "history": [dict(m) for m in self.history],
            "reply": self.reply,
            "reasoning": self.reasoning,
            "error": self.error,
            "status": self.status,
            "metrics": dict(self.metrics),
            "notices": list(self.notices),
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Replace:
    """A stream item that replaces the pane's reply so far (an output rail's refusal); reasoning is dropped."""

    text: str
    kind: Literal["replace"] = "replace"


@dataclass(frozen=True)
class PaneEvent:
    """Something that happened in one pane.

    ``kind`` is ``"chunk"`` (``chunk`` holds the item the pane produced),
    ``"done"`` (the pane's iterator ended), ``"stopped"`` (closed by ``cancel``)
    or ``"error"`` (``error`` holds a user-facing message, ``exception`` the
    exception). ``busy_s`` is the time spent so far advancing this pane's
    iterator, its own share of the single thread.
    """

    pane_id: str
    kind: EventKind
    chunk: Any = None
    error: str | None = None
    busy_s: float = 0.0
    exception: BaseException | None = field(default=None, repr=False, compare=False)


def error_message(exc: BaseException) -> str:
    """The text a pane shows for an exception: message and hint of a typed error, else its type and text."""
    if isinstance(exc, PlaygroundError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The machine ran out of memory. Unload other models or pick a smaller model or quantization."
    return f"{type(exc).__name__}: {exc}"[:500]


def _close(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # noqa: BLE001 - a misbehaving finaliser must not hide the other panes
        pass


T = TypeVar("T")


def interleave(streams: Mapping[str, Iterable[T]], cancel: threading.Event | None = None) -> Iterator[PaneEvent]:
    """Advance every pane's iterator once per round, in the mapping's order, until all have ended.

    Yields one event per step (see :class:`PaneEvent`). ``cancel`` is checked
    before every step; once set, the remaining iterators are closed and each is
    reported ``"stopped"``. If the consumer closes this generator, the remaining
    iterators are closed as well (no events then).
    """
    iterators: dict[str, Iterator[T]] = {}
    busy: dict[str, float] = {pane_id: 0.0 for pane_id in streams}
    try:
        pending_errors: list[PaneEvent] = []
        for pane_id, stream in streams.items():
            try:
                iterators[pane_id] = iter(stream)
            except Exception as exc:  # noqa: BLE001 - one bad pane must not stop the others
                pending_errors.append(PaneEvent(pane_id, "error", error=error_message(exc), exception=exc))
        yield from pending_errors
        while iterators:
            for pane_id in list(iterators):
                if cancel is not None and cancel.is_set():
                    for stopped_id in list(iterators):
                        _close(iterators.pop(stopped_id))
                        yield PaneEvent(stopped_id, "stopped", busy_s=busy[stopped_id])
                    return
                iterator = iterators[pane_id]
                started = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    busy[pane_id] += time.perf_counter() - started
                    del iterators[pane_id]
                    kind: EventKind = "stopped" if cancel is not None and cancel.is_set() else "done"
                    yield PaneEvent(pane_id, kind, busy_s=busy[pane_id])
                    continue
                except Exception as exc:  # noqa: BLE001 - reported in that pane; the others carry on
                    busy[pane_id] += time.perf_counter() - started
                    del iterators[pane_id]
                    yield PaneEvent(pane_id, "error", error=error_message(exc), busy_s=busy[pane_id], exception=exc)
                    continue
                busy[pane_id] += time.perf_counter() - started
                yield PaneEvent(pane_id, "chunk", chunk=item, busy_s=busy[pane_id])
    finally:
        for iterator in iterators.values():
            _close(iterator)


# --- running a comparison --------------------------------------------------------------------


class ReplyStream(Protocol):
    """What a pane streams: chunks while iterating, the full :class:`Reply` afterwards.

    Optional attributes, used when present: ``notices`` (list of str, added to the
    pane's), ``details`` (dict, shown and exported as the pane's ``details``) and
    ``timings`` (seconds spent outside the model, e.g. ``retrieval_s``, recorded in
    the metrics and taken out of the generation figures).
    """

    reply: Reply

    def __iter__(self) -> Iterator[Chunk]: ...


StreamFactory = Callable[[PaneConfig, LoadedModel, list[Message], threading.Event], ReplyStream]


def default_stream(
    config: PaneConfig, loaded: LoadedModel, messages: list[Message], cancel: threading.Event
) -> ReplyStream:
    """The plain engine stream (no RAG, no guardrails)."""
    return stream_chat(loaded, messages, config.params, thinking=config.thinking, cancel=cancel)


def build_messages(config: PaneConfig, history: list[Message], prompt: str) -> list[Message]:
    """System prompt (if any) + the pane's previous turns + the new user prompt."""
    system = [{"role": "system", "content": config.system_prompt}] if config.system_prompt.strip() else []
    return [*system, *(dict(m) for m in history), {"role": "user", "content": prompt}]


def validate_prompt(prompt: Any) -> str:
    if not isinstance(prompt, str):
        raise InvalidParameterError(f"The prompt must be text, got {type(prompt).__name__}.")
    if not prompt.strip():
        raise InvalidParameterError("The prompt is empty.", "Type a question for the panes.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidParameterError(
            f"The prompt is too long ({len(prompt):,} characters; at most {MAX_PROMPT_CHARS:,})."
        )
    if "\x00" in prompt:
        raise InvalidParameterError("The prompt contains NUL characters.", "Paste text, not binary data.")
    return prompt


def validate_panes(panes: Mapping[str, PaneConfig]) -> None:
    if not MIN_PANES <= len(panes) <= MAX_PANES:
        raise InvalidParameterError(f"A comparison has {MIN_PANES} to {MAX_PANES} panes, got {len(panes)}.")
    for pane_id, config in panes.items():
        if not isinstance(pane_id, str) or not pane_id.strip():
            raise InvalidParameterError("Every pane needs a non-empty id.")
        if not isinstance(config, PaneConfig):
            raise InvalidParameterError(f"Pane {pane_id!r}: expected a PaneConfig, got {type(config).__name__}.")


def shared_models(panes: Mapping[str, PaneConfig]) -> dict[str, list[str]]:
    """For each pane, the other panes that use the same loaded model (same pool key)."""
    return {
        pane_id: [other for other, c in panes.items() if other != pane_id and c.key == config.key]
        for pane_id, config in panes.items()
    }


def _own_decode_rate(reply: Reply, busy_s: float) -> float | None:
    """Tokens/s after the first token, from this pane's own time (prefill and first token removed)."""
    m = reply.metrics
    if m.completion_tokens < 2 or m.ttft_s is None:
        return None
    decode_s = busy_s - m.ttft_s - m.queue_wait_s
    return (m.completion_tokens - 1) / decode_s if decode_s > 0 else None


def run_comparison(
    pool: ModelPool,
    panes: Mapping[str, PaneConfig],
    states: MutableMapping[str, PaneState],
    prompt: str,
    *,
    cancel: threading.Event | None = None,
    on_load_progress: LoadProgressByPane | None = None,
    stream_factory: StreamFactory | None = None,
) -> Iterator[PaneEvent]:
    """Send ``prompt`` to every pane and yield their events as the replies stream, in turn.

    Invalid input (pane count, prompt) raises before anything is loaded. Each
    pane loads its model lazily on its first turn, so the first pane starts
    streaming while the next one loads, and a model that is generating is never
    evicted from the pool to make room for another pane's model (the pool
    allows a temporary overshoot instead). Load errors, oversized prompts and
    generation errors become that pane's ``"error"`` event. ``states`` gets an
    entry per pane (created if missing) and is updated in place; when the
    generator ends or is closed, every pane's status, reply, metrics and
    history are final.
    """
    validate_panes(panes)
    prompt = validate_prompt(prompt)
    return _comparison_events(pool, panes, states, prompt, cancel or threading.Event(), on_load_progress,
                              stream_factory)  # fmt: skip


def _comparison_events(
    pool: ModelPool,
    panes: Mapping[str, PaneConfig],
    states: MutableMapping[str, PaneState],
    prompt: str,
    cancel: threading.Event,
    on_load_progress: LoadProgressByPane | None,
    stream_factory: StreamFactory | None,
) -> Iterator[PaneEvent]:
    factory = stream_factory or default_stream
    shared = shared_models(panes)
    streams: dict[str, ReplyStream] = {}
    load_wall: dict[str, float] = {}
    busy: dict[str, float] = {}
    outcome: dict[str, EventKind] = {}

    for pane_id, config in panes.items():
        state = states.setdefault(pane_id, PaneState())
        state.label = config.display_label
        state.reply = state.reasoning = ""
        state.error = None
        state.status = "idle"
        state.metrics = {}
        state.notices = []
        state.details = {}
        if (config.rag or config.guardrails) and stream_factory is None:
            missing = " and ".join(n for n, on in (("RAG", config.rag), ("guardrails", config.guardrails)) if on)
            state.notices.append(f"{missing} requested, but this comparison runs without it (not wired in here).")

    def pane_stream(pane_id: str, config: PaneConfig, state: PaneState) -> Iterator[Chunk]:
        started = time.perf_counter()
        state.status = "loading"
        reused = pool.peek(*config.key) is not None
        progress = (lambda f, m: on_load_progress(pane_id, f, m)) if on_load_progress else None
        loaded = pool.get(config.model, config.quant, config.device, progress)
        load_wall[pane_id] = time.perf_counter() - started
        state.metrics.update(
            model=loaded.name,
            quant=loaded.quant,
            device=loaded.device,
            load_seconds=loaded.load_seconds,
            load_wait_s=load_wall[pane_id],
            model_reused=reused,
            shared_with=shared[pane_id],
            memory_bytes=loaded.memory_bytes,
        )
        state.notices.extend(n for n in loaded.notices if n not in state.notices)
        if config.thinking and not loaded.supports_thinking:
            state.notices.append(f"{loaded.name} has no thinking mode: thinking is ignored in this pane.")
        stream = factory(config, loaded, build_messages(config, state.history, prompt), cancel)
        streams[pane_id] = stream
        state.notices.extend(n for n in getattr(stream, "notices", ()) if n not in state.notices)
        details = getattr(stream, "details", None)
        if isinstance(details, dict):
            state.details = details  # the stream's own dict: it fills it in as it runs
        state.status = "streaming"
        iterator = iter(stream)
        try:
            yield from iterator
        finally:
            _close(iterator)

    pane_iterators = {pane_id: pane_stream(pane_id, config, states[pane_id]) for pane_id, config in panes.items()}
    events = interleave(pane_iterators, cancel)
    try:
        for event in events:
            state = states[event.pane_id]
            busy[event.pane_id] = event.busy_s
            if event.kind == "chunk":
                chunk: Chunk = event.chunk
                if chunk.kind == "reasoning":
                    state.reasoning += chunk.text
                elif chunk.kind == "replace":
                    state.reply, state.reasoning = chunk.text, ""
                else:
                    state.reply += chunk.text
            else:
                outcome[event.pane_id] = event.kind
                if event.kind == "error":
                    state.error = event.error
                    state.status = "error"
            yield event
    finally:
        events.close()  # closes the panes still running (their partial replies are kept)
        for iterator in pane_iterators.values():
            _close(iterator)
        for pane_id in panes:
            _finish_pane(states[pane_id], prompt, streams.get(pane_id), outcome.get(pane_id),
                         busy.get(pane_id, 0.0) - load_wall.get(pane_id, 0.0))  # fmt: skip


def _finish_pane(
    state: PaneState, prompt: str, stream: ReplyStream | None, outcome: EventKind | None, busy_s: float
) -> None:
    """Final status, reply, metrics and history of one pane (also after a stop or an error)."""
    if stream is None:  # never got as far as streaming: load error, or stopped before its turn
        if state.status != "error":
            state.status = "stopped"
        return
    reply = stream.reply
    state.reply, state.reasoning = reply.text, reply.reasoning
    m = reply.metrics
    busy_s = max(busy_s, 0.0)
    timings = {k: float(v) for k, v in (getattr(stream, "timings", None) or {}).items() if isinstance(v, int | float)}
    outside = sum(timings.values())  # retrieval and rails: this pane's own time, but not the model's
    state.metrics.update(m.to_dict())
    state.metrics.update(
        wall_s=m.total_s,  # the engine's clock runs while the other panes take their turns
        busy_s=busy_s,
        total_s=busy_s if busy_s > 0 else m.total_s,
        decode_tokens_per_s=_own_decode_rate(reply, max(busy_s - outside, 0.0)),
        wall_decode_tokens_per_s=m.decode_tokens_per_s,
        **timings,
    )
    if timings:
        state.metrics["generation_s"] = max(busy_s - outside, 0.0)
    if "input_rails_s" in timings or "output_rail_s" in timings:
        state.metrics["rails_s"] = timings.get("input_rails_s", 0.0) + timings.get("output_rail_s", 0.0)
    if outcome == "error" or m.stop_reason == "error":
        state.status = "error"
        state.error = state.error or m.error or "Generation failed."
        return
    stopped = outcome in (None, "stopped") or reply.stopped
    state.status = "stopped" if stopped else "done"
    if stopped and not reply.text:
        return  # nothing was said: keep the history as it was, so the prompt can be sent again
    state.history.extend([{"role": "user", "content": prompt}, {"role": "assistant", "content": reply.text}])


# --- figures and exports ---------------------------------------------------------------------

# Column → (label, unit) for charts; the order is the order of metrics_table's columns.
METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    "ttft_s": ("Time to first token", "s"),
    "decode_tokens_per_s": ("Decode speed", "tokens/s"),
    "completion_tokens": ("Completion tokens", "tokens"),
    "total_s": ("Total time (own)", "s"),
    "retrieval_s": ("Retrieval time", "s"),  # RAG panes: embedding, search and prompt assembly
    "rails_s": ("Guardrails time", "s"),  # guardrails panes: input rails + output rail
    "wall_s": ("Wall-clock time", "s"),
    "load_seconds": ("Model load time", "s"),
    "load_wait_s": ("Waited for the model", "s"),  # ~0 when another pane or an earlier run loaded it
    "memory_mb": ("Model memory", "MiB"),
    "trimmed": ("Context trimmed", ""),
}


def _round(value: Any, digits: int = 3) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def metrics_table(states: Mapping[str, PaneState]) -> list[dict[str, Any]]:
    """One row per pane for a chart or a table: ``pane``, ``label``, ``status`` and the :data:`METRIC_COLUMNS`.

    Figures a pane does not have (it failed to load, or produced one token) are None.
    """
    rows = []
    for pane_id, state in states.items():
        m = state.metrics
        memory = m.get("memory_bytes")
        rows.append(
            {
                "pane": pane_id,
                "label": state.label or pane_id,
                "status": state.status,
                "ttft_s": _round(m.get("ttft_s")),
                "decode_tokens_per_s": _round(m.get("decode_tokens_per_s"), 2),
                "completion_tokens": m.get("completion_tokens"),
                "total_s": _round(m.get("total_s")),
                "retrieval_s": _round(m.get("retrieval_s"), 4),
                "rails_s": _round(m.get("rails_s"), 4),
                "wall_s": _round(m.get("wall_s")),
                "load_seconds": _round(m.get("load_seconds")),
                "load_wait_s": _round(m.get("load_wait_s")),
                "memory_mb": round(memory / 2**20, 1) if isinstance(memory, int) else None,
                "trimmed": m.get("trimmed"),
            }
        )
    return rows


_SECRET_PATTERNS = (
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),  # Hugging Face tokens
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),  # OpenAI-style keys
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b|\bgithub_pat_[A-Za-z0-9_]{20,}\b"),  # GitHub tokens
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*"),
)


def redact(text: str) -> str:
    """Replace anything shaped like an access token with ``[redacted]`` (exports are meant to be shared)."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def _redact_all(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_all(v) for v in value]
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def export_json(prompt: str, panes: Mapping[str, PaneConfig], states: Mapping[str, PaneState]) -> dict[str, Any]:
    """The comparison as a JSON-ready dict: prompt, and per pane config, conversation, reply, reasoning, metrics.

    Only whitelisted fields are exported and token-shaped strings are redacted.
    """
    out_panes = []
    for pane_id, config in panes.items():
        state = states.get(pane_id, PaneState())
        out_panes.append(
            {
                "id": pane_id,
                "label": config.display_label,
                "description": config.describe(),
                "config": config.to_dict(),
                "status": state.status,
                "error": state.error,
                "history": [dict(m) for m in state.history],
                "reply": state.reply,
                "reasoning": state.reasoning,
                "metrics": dict(state.metrics),
                "notices": list(state.notices),
                "rag": state.details.get("rag"),
                "guardrails": state.details.get("guardrails"),
            }
        )
    document = {
        "format": EXPORT_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "prompt": prompt,
        "panes": out_panes,
        "metrics_table": metrics_table({p["id"]: states.get(p["id"], PaneState()) for p in out_panes}),
    }
    return _json_safe(_redact_all(document))


def _fence(text: str) -> str:
    """A fenced block that cannot be closed early by backticks inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _shown(value: Any) -> bool:
    """Leave unset parameters out of the summary (but keep a temperature of 0)."""
    return value is not None and value is not False and value not in ([], ())


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def export_markdown(prompt: str, panes: Mapping[str, PaneConfig], states: Mapping[str, PaneState]) -> str:
    """The comparison as a Markdown document: prompt, a metrics table, then each pane's config and reply."""
    doc = export_json(prompt, panes, states)  # one source of truth, already redacted
    lines = ["# Side-by-side comparison", "", f"Exported {doc['created_at']}.", ""]
    lines += ["## Prompt", "", _fence(doc["prompt"]), ""]
    lines += ["## Figures", ""]
    headers = ["Pane", "Status"] + [f"{label} ({unit})" if unit else label for label, unit in METRIC_COLUMNS.values()]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "---|" * len(headers))
    for row in doc["metrics_table"]:
        cells = [row["label"], row["status"], *(row[c] for c in METRIC_COLUMNS)]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    for pane in doc["panes"]:
        config = pane["config"]
        lines += [f"## {_cell(pane['label'])}", "", "| Setting | Value |", "|---|---|"]
        settings = [
            ("Model", config["model"]),
            ("Quantization", f"{config['quant']} (ran as {pane['metrics'].get('quant', '?')})"),
            ("Device", f"{config['device']} (ran on {pane['metrics'].get('device', '?')})"),
            ("Thinking", config["thinking"]),
            ("RAG", f"on: collection {config['collection']}" if config["rag"] else False),
            ("Guardrails", config["guardrails"]),
            ("Sampling", ", ".join(f"{k}={v}" for k, v in config["params"].items() if _shown(v))),
            ("Status", pane["status"]),
        ]
        lines += [f"| {name} | {_cell(value)} |" for name, value in settings]
        lines.append("")
        if config["system_prompt"]:
            lines += ["**System prompt**", "", _fence(config["system_prompt"]), ""]
        if pane["error"]:
            lines += [f"**Error:** {_cell(pane['error'])}", ""]
        for notice in pane["notices"]:
            lines.append(f"> {_cell(notice)}")
        if pane["notices"]:
            lines.append("")
        history = pane["history"]
        last_turn = [{"role": "user", "content": doc["prompt"]}, {"role": "assistant", "content": pane["reply"]}]
        earlier = history[:-2] if history[-2:] == last_turn else history
        if earlier:
            lines += ["<details><summary>Earlier turns</summary>", ""]
            for message in earlier:
                lines += [f"**{message['role']}**", "", _fence(message["content"]), ""]
            lines += ["</details>", ""]
        if pane["reasoning"]:
            lines += ["<details><summary>Reasoning</summary>", "", _fence(pane["reasoning"]), "", "</details>", ""]
        lines += ["**Reply**", "", _fence(pane["reply"]) if pane["reply"] else "_(no reply)_", ""]
        lines += _rag_lines(pane["rag"]) + _guardrails_lines(pane["guardrails"])
    return "\n".join(lines)


def _rag_lines(rag: Mapping[str, Any] | None) -> list[str]:
    """The RAG section of a pane in the Markdown export: settings, then the sources in the prompt."""
    if not rag:
        return []
    settings = ", ".join(f"{k}={v}" for k, v in (rag.get("settings") or {}).items() if _shown(v))
    lines = ["**Retrieval**", "", f"Collection `{_cell(rag.get('collection'))}`"
             + (f" ({_cell(settings)})" if settings else "")
             + f": {rag.get('retrieved', 0)} retrieved, {rag.get('used', 0)} in the prompt"
             + (f" (budget {rag['budget_tokens']} tokens)" if rag.get("budget_tokens") else "") + ".", ""]  # fmt: skip
    sources = rag.get("sources") or []
    if sources:
        lines += ["| # | Source | Score | Cited |", "|---|---|---|---|"]
        lines += [f"| {s['number']} | {_cell(s.get('label') or s.get('source'))} | {_cell(s.get('score'))} | "
                  f"{_cell(bool(s.get('cited')))} |" for s in sources]  # fmt: skip
        lines.append("")
        lines += ["<details><summary>Source texts</summary>", ""]
        for s in sources:
            lines += [f"**[{s['number']}] {_cell(s.get('label') or s.get('source'))}**", "", _fence(s.get("text", "")), ""]
        lines += ["</details>", ""]
    if rag.get("invalid_citations"):
        lines += [f"Citations matching no source: {', '.join(map(str, rag['invalid_citations']))}.", ""]
    return lines


def _guardrails_lines(guardrails: Mapping[str, Any] | None) -> list[str]:
    """The guardrails section of a pane in the Markdown export: policy, rails, verdict, then the trace."""
    if not guardrails:
        return []
    verdict = guardrails.get("verdict") or "not decided"
    if guardrails.get("blocked_at"):
        verdict += f" ({guardrails['blocked_at']}, category {guardrails.get('category') or '?'})"
    lines = ["**Guardrails**", "", f"Policy {_cell(guardrails.get('policy') or 'default')}; rails: "
             f"{_cell(guardrails.get('rails'))}; verdict: {_cell(verdict)}.", ""]  # fmt: skip
    trace = guardrails.get("trace") or []
    if trace:
        lines += ["| Rail | Verdict | Category | Latency (ms) | Note |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(t.get('rail'))} | {_cell(t.get('verdict'))} | {_cell(t.get('category'))} | "
                  f"{_cell(round(float(t.get('latency_ms') or 0.0), 3))} | {_cell(t.get('note') or '')} |"
                  for t in trace]  # fmt: skip
        lines.append("")
    return lines


def export_json_text(prompt: str, panes: Mapping[str, PaneConfig], states: Mapping[str, PaneState]) -> str:
    return json.dumps(export_json(prompt, panes, states), ensure_ascii=False, indent=2)


# --- command line ----------------------------------------------------------------------------------


def parse_pane(spec: str) -> PaneConfig:
    """``MODEL[:QUANT[:DEVICE]]`` or ``MODEL:DEVICE``; only trailing known names count, so paths may hold colons."""
    tokens = spec.split(":")
    quant, device = "auto", "auto"
    if len(tokens) >= 3 and tokens[-2] in QUANTS and tokens[-1] in DEVICES:
        quant, device, tokens = tokens[-2], tokens[-1], tokens[:-2]
    elif len(tokens) >= 2 and tokens[-1] in QUANTS:
        quant, tokens = tokens[-1], tokens[:-1]
    elif len(tokens) >= 2 and tokens[-1] in DEVICES:
        device, tokens = tokens[-1], tokens[:-1]
    return PaneConfig(model=":".join(tokens), quant=quant, device=device)


def main(argv: list[str] | None = None) -> int:
    """``python -m core.compare``: run a comparison from a preset or ``--pane`` specs; print Markdown or JSON."""
    import argparse
    import sys

    from core.presets import PRESETS, build_preset

    parser = argparse.ArgumentParser(prog="python -m core.compare", description="Side-by-side comparison.")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--preset", choices=list(PRESETS), help="one-click preset (else give --pane 2 to 4 times)")
    parser.add_argument("--model", default=None, help="model for the preset (default: the preset's)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--pane", action="append", default=[], help="MODEL[:QUANT[:DEVICE]], repeatable")
    parser.add_argument("--collection", default=None, help="the document collection of --preset rag")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the JSON export instead of Markdown")
    args = parser.parse_args(argv)
    try:
        if args.preset:
            options = {"collection": args.collection} if args.preset == "rag" else {}
            preset = build_preset(args.preset, args.model, args.device, **options)
            configs = preset.panes
            print(f"note: {preset.note}", file=sys.stderr)
        else:
            configs = [parse_pane(p) for p in args.pane]
        if args.max_new_tokens:
            configs = [c.with_(params=c.params.with_(max_new_tokens=args.max_new_tokens)) for c in configs]
        panes = {f"{i + 1}": c for i, c in enumerate(configs)}
        states: dict[str, PaneState] = {}

        shown: dict[str, int] = {}
        interactive = sys.stderr.isatty()

        def progress(pane_id: str, fraction: float, message: str) -> None:
            step = int(fraction * 100) if interactive else int(fraction * 4) * 25  # logs get a few lines
            if shown.get(pane_id) != step:
                shown[pane_id] = step
                end = "" if interactive and fraction < 1 else "\n"
                line = f"[pane {pane_id}] {step:3d}% {message[:60]:<60}"
                print(("\r" if interactive else "") + line, end=end, file=sys.stderr, flush=True)

        from core.compare_pipeline import make_stream_factory, policy_guard_for, store_rag_for

        events = run_comparison(ModelPool(max_models=len(panes)), panes, states, args.prompt,
                                on_load_progress=progress,
                                stream_factory=make_stream_factory(store_rag_for(), policy_guard_for()))  # fmt: skip
        try:
            for event in events:
                if event.kind != "chunk":
                    print(f"\n[pane {event.pane_id}] {event.kind} {event.error or ''}", file=sys.stderr)
        except KeyboardInterrupt:
            events.close()  # type: ignore[attr-defined]
    except PlaygroundError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    if args.json:
        print(export_json_text(args.prompt, panes, states))
    else:
        print(export_markdown(args.prompt, panes, states))
    return 0


if __name__ == "__main__":  # run through the imported module, so its classes are the ones other modules use
    from core.compare import main as _main

    raise SystemExit(_main())
