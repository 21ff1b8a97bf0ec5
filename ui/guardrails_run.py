"""One prompt answered three ways: the raw model, the model with the safety prompt, the model with all rails.

Plain Python (no Streamlit), so the page draws it and tests drive it directly.

Contract:
- :class:`RailChoice` says which rails the third column uses: input rails (rules,
  self-check with the same model, a guard model by hub id), the output rail (rules
  on the reply while it streams) and PII redaction.
- :func:`new_turn` makes a :class:`Turn` with three :class:`Column` s ("raw",
  "prompt", "rails"), each knowing its messages: no system prompt; the policy's
  safety prompt; the safety prompt again for "rails".
- :func:`run_turn` first runs the input rails (their trace goes into the "rails"
  column; a block puts the refusal there and nothing is generated for it), then
  starts one stream per column that still needs one and advances them in turn, a
  chunk each (the model lock is re-entrant within one thread). The "rails" stream
  goes through :func:`core.guardrails.guard_stream` with ``on_cancel=stream.close``:
  a ``blocked`` event replaces the column's text with the refusal and stops that
  generation; ``done`` brings the redacted text and the output trace. ``on_update``
  is called with the column's kind after each change; whatever ends the run (the
  end, an error, an exception from ``on_update``: Streamlit interrupting the
  script), the ``finally`` block closes every stream, settles each column's status,
  outcome and metrics, and sets ``turn.finished``.
- Streams are started with ``prefix_cache=False`` so each column pays for its own
  prompt: the difference in first-token time between "raw" and "prompt" is what the
  safety prompt costs. Interleaving leaves first-token times clean (prefill and the
  first token happen inside one step) but shares tokens/s between the columns.
- :func:`looks_like_refusal` is the heuristic behind the "refused by the model"
  outcome: the reply opens with one of the policy's refusals or a common refusal
  phrase.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from core.errors import PlaygroundError
from core.guardrails import (
    CATEGORY_TITLES,
    GuardrailPipeline,
    OutputEvent,
    RAIL_NAMES,
    Policy,
    TraceEntry,
    guard_stream,
    merge_system_prompt,
)
from core.guardrails.pipeline import describe_chain

ColumnKind = Literal["raw", "prompt", "rails"]
COLUMN_KINDS: tuple[ColumnKind, ...] = ("raw", "prompt", "rails")
COLUMN_TITLES: dict[str, str] = {"raw": "Raw model", "prompt": "Safety prompt only", "rails": "All rails"}
MAX_PROMPT_CHARS = 4000

# Openings of a refusal (lower case, straight apostrophes), looked for in the reply's first 200 characters.
REFUSAL_PHRASES: tuple[str, ...] = (
    "i can't help", "i cannot help", "i can't assist", "i cannot assist", "i can't provide", "i cannot provide",
    "i can't do that", "i cannot do that", "i can't ignore", "i won't", "i will not", "i'm not able to",
    "i am not able to", "i'm unable to", "i am unable to", "i'm sorry, but", "i am sorry, but", "sorry, but i can't",
    "sorry, i can't", "i must decline", "i can't comply", "i cannot comply", "i can't fulfill", "i cannot fulfill",
)  # fmt: skip
REFUSAL_HEAD_CHARS = 200


class StreamLike(Protocol):
    """What :func:`run_turn` needs of :class:`core.engine.ChatStream`."""

    reply: Any

    def answer_text(self) -> Iterator[str]: ...

    def close(self) -> None: ...


StartStream = Callable[[list[dict[str, str]]], StreamLike]


@dataclass(frozen=True)
class RailChoice:
    """The rails of the third column."""

    rules: bool = True
    semantic: bool = False  # the embedding classifier (core.guardrails.semantic)
    probe: bool = False  # the hidden-state probe (core.guardrails.probe)
    self_check: bool = False
    guard_model: str | None = None  # a hub id from core.guardrails.GUARD_MODELS, or None
    output: bool = True  # the rules on the reply while it streams (harmful content cut-off)
    redact: bool = True  # PII redaction of the reply

    @property
    def input_rails(self) -> tuple[str, ...]:
        names = (("rules", self.rules), ("semantic", self.semantic), ("probe", self.probe),
                 ("self-check", self.self_check), ("guard", self.guard_model is not None))
        return tuple(name for name, on in names if on)

    def describe(self) -> str:
        return describe_chain(self.input_rails, self.output, self.redact)


@dataclass
class Column:
    """One column's answer: text shown, how it ended, its trace and the engine's metrics."""

    kind: ColumnKind
    messages: list[dict[str, str]]
    text: str = ""
    status: str = "pending"  # pending, checking, streaming, complete, blocked, stopped, error
    outcome: str = ""
    blocked_at: str | None = None  # "input" or "output"
    category: str | None = None
    trace: list[TraceEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)  # PII kind -> count
    cut_chars: int = 0  # characters shown before an output block replaced them
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def generated(self) -> bool:
        return bool(self.metrics)


@dataclass
class Turn:
    """The last prompt, answered three ways."""

    prompt: str
    model: str
    policy: Policy
    rails: RailChoice
    columns: dict[str, Column]
    notices: list[str] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)


def validate_prompt(prompt: str) -> str:
    """The prompt stripped; PlaygroundError when empty or longer than MAX_PROMPT_CHARS."""
    text = (prompt or "").strip()
    if not text:
        raise PlaygroundError("Type a prompt first.", "Or pick one of the examples.")
    if len(text) > MAX_PROMPT_CHARS:
        raise PlaygroundError(f"The prompt is {len(text):,} characters; the limit here is {MAX_PROMPT_CHARS:,}.",
                              "Shorten it.")  # fmt: skip
    return text


def new_turn(prompt: str, model: str, policy: Policy, rails: RailChoice) -> Turn:
    """A turn whose columns hold their messages (see the module docstring)."""
    system = merge_system_prompt(policy, "")
    user = {"role": "user", "content": prompt}
    with_system = [{"role": "system", "content": system}, user] if system else [user]
    columns = {
        "raw": Column("raw", [user]),
        "prompt": Column("prompt", list(with_system)),
        "rails": Column("rails", list(with_system)),
    }
    return Turn(prompt, model, policy, rails, columns)


# --- outcomes -------------------------------------------------------------------------------------------------


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'").replace("*", "")).strip().lower()


def looks_like_refusal(text: str, policy: Policy) -> bool:
    """Whether the reply opens like a refusal (one of the policy's refusals, or a common refusal phrase)."""
    head = _plain(text)[:REFUSAL_HEAD_CHARS]
    if not head:
        return False
    refusals = [policy.default_refusal, *(c.refusal for c in policy.categories.values())]
    if any(_plain(r)[:40] in head for r in refusals if r):
        return True
    return any(phrase in head for phrase in REFUSAL_PHRASES)


def category_title(category: str | None) -> str:
    return CATEGORY_TITLES.get(category or "", category or "unknown category")


def outcome_parts(column: Column, policy: Policy) -> tuple[str, str]:
    """How the column ended: a short label and its detail (which rail, which category, what was changed)."""
    if column.status == "blocked" and column.blocked_at == "input":
        rail = next((e.rail for e in column.trace if e.verdict == "block"), "the input rails")
        return "Blocked before generation", f"by {rail}: {category_title(column.category)}"
    if column.status == "blocked":
        return "Cut off mid-reply", f"by the output rail: {category_title(column.category)}"
    if column.status in ("error", "stopped"):
        return ("Failed" if column.status == "error" else "Stopped"), ""
    if column.status != "complete":
        return "Not run", ""
    if not column.text.strip():
        return "Empty reply", ""
    label = "Refused by the model" if looks_like_refusal(column.text, policy) else "Answered"
    extras = []
    if column.warnings:
        extras.append("flagged: " + ", ".join(column.warnings))
    if column.redactions:
        extras.append("PII redacted: " + ", ".join(f"{n} {k}" for k, n in column.redactions.items()))
    return label, "; ".join(extras)


def describe_outcome(column: Column, policy: Policy) -> str:
    """One line saying how the column ended."""
    label, detail = outcome_parts(column, policy)
    return f"{label} ({detail})" if detail else label


# --- running --------------------------------------------------------------------------------------------------


def check_input(turn: Turn, pipeline: GuardrailPipeline | None) -> None:
    """Run the input rails into the "rails" column; a block ends that column with the refusal."""
    column = turn.columns["rails"]
    if pipeline is None:
        return
    column.status = "checking"
    result = pipeline.check_input(turn.prompt)
    column.trace.extend(result.trace)
    if result.blocked:
        column.status, column.blocked_at = "blocked", "input"
        column.category, column.text = result.category, result.message
    elif result.verdict == "warn":
        column.warnings.append(f"{category_title(result.category)} (by {result.rail})")
        column.status = "pending"
    else:
        column.status = "pending"


def _plain_events(stream: StreamLike) -> Iterator[OutputEvent]:
    for piece in stream.answer_text():
        yield OutputEvent("delta", piece)


def column_events(kind: str, stream: StreamLike, turn: Turn) -> Iterator[OutputEvent]:
    """The stream's answer as OutputEvents; guarded by the output rails in the "rails" column."""
    rails = turn.rails
    if kind != "rails" or not (rails.output or rails.redact):
        return _plain_events(stream)
    return guard_stream(stream.answer_text(), turn.policy, use_rules=rails.output, redact=rails.redact,
                        on_cancel=stream.close)  # fmt: skip


def interleave(
    iterables: Sequence[Iterable[OutputEvent]], on_error: Callable[[int, PlaygroundError], None]
) -> Iterator[tuple[int, OutputEvent]]:
    """One event from each live iterable in turn (FastChat's ``bot_response_multi`` shape).

    An iterable raising a PlaygroundError is reported through ``on_error`` and dropped; the others go on.
    """
    iterators = [iter(i) for i in iterables]
    live = list(range(len(iterators)))
    while live:
        for index in list(live):
            try:
                event = next(iterators[index])
            except StopIteration:
                live.remove(index)
                continue
            except PlaygroundError as exc:
                live.remove(index)
                on_error(index, exc)
                continue
            yield index, event


def apply_event(column: Column, event: OutputEvent) -> None:
    """Fold one output event into the column (see OutputEvent's kinds)."""
    if event.kind == "delta":
        column.text += event.text
    elif event.kind == "warning":
        column.warnings.append(category_title(event.category))
        column.trace.extend(event.trace)
    elif event.kind == "blocked":
        column.cut_chars = len(column.text)
        column.status, column.blocked_at = "blocked", "output"
        column.category, column.text = event.category, event.text
        column.trace.extend(event.trace)
    elif event.kind == "done":
        column.text = event.text
        column.trace.extend(event.trace)
        for span in event.spans:
            column.redactions[span.kind] = column.redactions.get(span.kind, 0) + 1


def _settle(column: Column, stream: StreamLike | None, policy: Policy) -> None:
    if stream is not None:
        reply = stream.reply
        column.metrics = reply.metrics.to_dict()
        if column.status == "streaming":
            if reply.metrics.stop_reason == "cancelled" or reply.metrics.total_s == 0:  # stopped, or never started
                column.status = "stopped"
            elif reply.metrics.stop_reason == "error":
                column.status, column.error = "error", column.error or reply.metrics.error
            else:
                column.status = "complete"
    elif column.status in ("pending", "checking", "streaming"):
        column.status = "stopped"
    column.outcome = describe_outcome(column, policy)


def run_turn(
    turn: Turn,
    start: StartStream,
    pipeline: GuardrailPipeline | None,
    on_update: Callable[[str], None] = lambda kind: None,
) -> Turn:
    """Answer ``turn.prompt`` three ways (see the module docstring)."""
    streams: dict[str, StreamLike] = {}
    try:
        if pipeline is not None:
            turn.columns["rails"].status = "checking"
            on_update("rails")
            check_input(turn, pipeline)
            on_update("rails")
        for kind, column in turn.columns.items():
            if column.status == "blocked":
                continue
            try:  # fitting the prompt to the window happens now: a prompt that cannot fit fails here
                streams[kind] = start(column.messages)
                column.status = "streaming"
            except PlaygroundError as exc:
                column.status, column.error = "error", str(exc)
            on_update(kind)
        kinds = list(streams)

        def failed(index: int, exc: PlaygroundError) -> None:
            column = turn.columns[kinds[index]]
            column.status, column.error = "error", str(exc)

        events = [column_events(kind, streams[kind], turn) for kind in kinds]
        try:
            for index, event in interleave(events, failed):
                apply_event(turn.columns[kinds[index]], event)
                on_update(kinds[index])
        finally:
            for iterator in events:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
    finally:  # no UI call in here: an interrupted Streamlit script raises again at each one
        for kind, column in turn.columns.items():
            stream = streams.get(kind)
            if stream is not None:
                stream.close()
            _settle(column, stream, turn.policy)
        turn.finished.set()
    return turn


# --- what each layer costs --------------------------------------------------------------------------------------


def rail_latency_ms(column: Column, rails: Iterable[str]) -> float:
    """Summed latency of the column's trace entries for ``rails`` (skipped entries count 0)."""
    wanted = set(rails)
    return sum(e.latency_ms for e in column.trace if e.rail in wanted and e.verdict != "skipped")


def first_token_s(column: Column) -> float | None:
    value = column.metrics.get("ttft_s")
    return float(value) if isinstance(value, (int, float)) else None


def cost_summary(turn: Turn) -> dict[str, dict[str, str]]:
    """Per column: outcome, what was added before the first token, the reply, for the summary table."""
    raw = turn.columns["raw"]
    base_tokens = raw.metrics.get("prompt_tokens") if raw.generated else None
    base_ttft = first_token_s(raw)
    out: dict[str, dict[str, str]] = {}
    for kind, column in turn.columns.items():
        ttft = first_token_s(column)
        if ttft is None:
            first = "not generated" if column.blocked_at == "input" else "—"
        elif kind != "raw" and base_ttft is not None:
            first = f"{ttft:.2f} s ({ttft - base_ttft:+.2f} s vs raw)"
        else:
            first = f"{ttft:.2f} s"
        tokens = column.metrics.get("prompt_tokens")
        extra = tokens - base_tokens if isinstance(tokens, int) and isinstance(base_tokens, int) else None
        share = f" (+{extra} safety prompt)" if extra and kind != "raw" else ""
        prompt = "—" if tokens is None else f"{tokens}{share}"
        inputs = [e for e in column.trace if e.rail in RAIL_NAMES]
        before = ", ".join(
            f"{e.rail} {e.latency_ms:,.1f} ms" if e.verdict != "skipped" else f"{e.rail} skipped" for e in inputs
        )  # fmt: skip
        outputs = [e for e in column.trace if e.rail == "output"]
        reply_tokens = column.metrics.get("completion_tokens")
        out[kind] = {
            "Outcome": column.outcome or describe_outcome(column, turn.policy),
            "Input rails": before or ("none" if kind == "rails" else "—"),
            "Prompt tokens": prompt,
            "First token": first,
            "Output rail": f"{sum(e.latency_ms for e in outputs):,.1f} ms" if outputs else "—",
            "Reply tokens": "—" if reply_tokens is None else str(reply_tokens),
        }
    return out
