"""Ask one question twice, side by side: the model alone, and the model with retrieved sources.

Contract:
- :func:`interleave` advances several streams in turn, one chunk each, and yields
  ``(index, chunk)``: both columns grow together (the model lock is re-entrant within
  one thread, so two streams on one model can be interleaved). A stream that raises a
  :class:`core.errors.PlaygroundError` is reported through ``on_error`` and dropped;
  the others go on.
- :func:`ask` retrieves from the collection, builds the grounded prompt under the
  prompt budget (capped by the model's window less the reply), then streams the plain
  question and the grounded prompt into two slots. The :class:`ui.rag_state.Turn` is put
  in the session before streaming and updated in place, so whatever ends the run (the
  end, an error, Streamlit interrupting the script at its next ``st`` call), the
  ``finally`` block closes both streams and keeps the partial text, calling no ``st``
  function. When nothing is retrieved (or nothing fits), the model is not asked with
  retrieval and the column says why.
- :func:`settle` waits for an interrupted turn to become final before it is drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import streamlit as st

from core.engine import ChatStream, Chunk, stream_chat
from core.errors import PlaygroundError
from core.loading import LoadedModel
from rag.answer import NO_ROOM_REPLY, NO_SOURCES_REPLY, approx_tokens, finish, prepare
from rag.errors import ContextBudgetError
from rag.prompt import plain_messages
from rag.retrieval import Retriever
from ui import rag_state
from ui.chat_turn import count_tokens
from ui.rag_resources import store_for_collection
from ui.rag_settings import RagSettings
from ui.rag_state import Side, Turn
from ui.rag_view import render_plain, render_rag

REDRAW_S = 0.1
TEMPLATE_MARGIN_TOKENS = 32  # room for the chat template around the two messages
SETTLE_S = 30.0


def interleave(
    streams: Sequence[ChatStream], on_error: Callable[[int, PlaygroundError], None] | None = None
) -> Iterator[tuple[int, Chunk]]:
    """One chunk from each live stream in turn (FastChat's ``bot_response_multi`` shape)."""
    iterators = [iter(s) for s in streams]
    live = list(range(len(iterators)))
    while live:
        for index in list(live):
            try:
                chunk = next(iterators[index])
            except StopIteration:
                live.remove(index)
                continue
            except PlaygroundError as exc:
                live.remove(index)
                if on_error is not None:
                    on_error(index, exc)
                continue
            yield index, chunk


def prompt_budget(loaded: LoadedModel, settings: RagSettings) -> int:
    """The settings' budget, capped by the context window less the reply and a template margin."""
    room = loaded.context_length - settings.params.max_new_tokens - TEMPLATE_MARGIN_TOKENS
    if room < 64:
        raise ContextBudgetError(
            f"{loaded.name}'s context window ({loaded.context_length} tokens) leaves no room for sources "
            f"after a {settings.params.max_new_tokens}-token reply.",
            "Lower the reply length in the RAG settings.",
        )
    return min(settings.budget_tokens, room)


def token_counter(loaded: LoadedModel) -> Callable[[str], int]:
    """Tokens by the model's tokenizer; an estimate when it is busy in another session."""

    def count(text: str) -> int:
        n = count_tokens(loaded, text)
        return n if n is not None else approx_tokens(text)

    return count


def _final_metrics(stream: ChatStream) -> dict[str, Any]:
    return stream.reply.metrics.to_dict()


def _settle_side(side: Side, stream: ChatStream) -> None:
    side.text = stream.reply.text or side.text
    side.metrics = _final_metrics(stream)
    if side.status == "streaming":
        side.status = "stopped" if stream.reply.stopped or stream.reply.metrics.stop_reason == "cancelled" else "complete"


def stream_turn(turn: Turn, streams: dict[str, ChatStream], slots: dict[str, Any]) -> None:
    """Stream ``streams`` ("plain", "rag") into ``slots``, updating ``turn`` in place (see the module)."""
    sides = {"plain": turn.plain, "rag": turn.rag}
    names = list(streams)
    pieces: dict[str, list[str]] = {name: [] for name in names}
    drawn = {name: 0.0 for name in names}

    def failed(index: int, exc: PlaygroundError) -> None:
        side = sides[names[index]]
        side.status, side.error = "error", str(exc)

    for name in names:
        sides[name].status = "streaming"
    try:
        for index, chunk in interleave([streams[n] for n in names], failed):
            name = names[index]
            if chunk.kind != "answer":
                continue
            pieces[name].append(chunk.text)
            side = sides[name]
            side.text = "".join(pieces[name])
            if time.monotonic() - drawn[name] >= REDRAW_S:
                slots[name].markdown(side.text + " ▌")
                drawn[name] = time.monotonic()
    finally:
        for name in names:
            streams[name].close()
            _settle_side(sides[name], streams[name])


def settle(turn: Turn | None) -> None:
    """Wait (bounded) for a turn that an earlier run was still streaming."""
    if turn is not None and not turn.finished.is_set():
        with st.spinner("Stopping the previous answer…"):
            turn.finished.wait(SETTLE_S)


def ask(question: str, collection: str, settings: RagSettings, loaded: LoadedModel, slots: dict[str, Any]) -> Turn:
    """Answer ``question`` without and with retrieval from ``collection`` (see the module contract)."""
    store = store_for_collection(collection, settings.embedding_model)
    retriever = Retriever(store, collection, settings.retrieval)
    budget = prompt_budget(loaded, settings)
    prepared = prepare(question, retriever, count_tokens=token_counter(loaded), budget_tokens=budget)
    turn = Turn(question=question, collection=collection, model=loaded.name, retrieved=len(prepared.hits),
                budget_tokens=budget)  # fmt: skip
    st.session_state[rag_state.TURN] = turn

    def start(side: Side, messages: list[dict[str, str]]) -> ChatStream | None:
        try:  # fitting the prompt to the window happens now, so a prompt that cannot fit fails here
            return stream_chat(loaded, messages, settings.params, thinking=False)
        except PlaygroundError as exc:
            side.status, side.error = "error", str(exc)
            return None

    try:
        planned = {"plain": start(turn.plain, plain_messages(question))}
        if prepared.used_hits:
            planned["rag"] = start(turn.rag, prepared.messages)
        else:
            turn.rag = Side(text=NO_ROOM_REPLY if prepared.hits else NO_SOURCES_REPLY, status="skipped")
        stream_turn(turn, {name: s for name, s in planned.items() if s is not None}, slots)
    finally:
        generated = turn.rag.status in ("complete", "stopped")
        turn.answer = finish(prepared, turn.rag.text if generated else "", metrics=turn.rag.metrics, generated=generated)
        turn.finished.set()
    return turn


def render_turn(turn: Turn, slots: dict[str, Any]) -> None:
    """Draw a finished turn into the two column slots."""
    with slots["plain"].container():
        render_plain(turn)
    with slots["rag"].container():
        render_rag(turn)
