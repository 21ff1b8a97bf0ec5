"""One assistant turn: stream the reply into the page while saving it, so nothing is lost.

Contract:
- :func:`build_messages` turns the system prompt and the stored history into
  the engine's messages (reasoning is never sent back; empty failed replies
  are skipped).
- :class:`ReplyRecorder` collects the streamed chunks and saves them to the
  conversation store as they grow (status "streaming", at most every
  ``interval_s``), then once more with the final text, metrics and status.
- :func:`consume_stream` streams the answer with ``write`` (``st.write_stream``)
  inside ``try/finally``: whatever ends the stream — its end, an error, or
  Streamlit interrupting the script (the chat input's stop button, a click
  elsewhere, a closed tab), which raises at the next ``st`` call — the
  finally block closes the stream (cancelling generation and releasing the
  model) and saves the reply; an interrupted one is saved as "stopped" with
  its partial text. The finally block calls no ``st`` function, since an
  interrupted script raises again at each one.
- :func:`answer` runs the whole turn in the page: start the stream, show
  reasoning and answer as they come, metrics below.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st

from core.context import Message
from core.conversations import ConversationStore, StoredMessage
from core.engine import ChatStream, Chunk, stream_chat
from core.errors import PlaygroundError
from core.loading import LoadedModel
from ui.chat_settings import ChatSettings
from ui.chat_view import reasoning_label, render_reply_footer
from ui.errors import show_error

SAVE_INTERVAL_S = 0.5
REASONING_REDRAW_S = 0.25
MAX_STORED_LOGPROBS = 4096  # keeps a reply's metrics well under the store's 2 MB limit

Write = Callable[[Iterator[str]], Any]


def build_messages(system_prompt: str, history: list[StoredMessage]) -> list[Message]:
    """System prompt (if any) + the user/assistant history as role/content dicts."""
    messages: list[Message] = []
    if system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt})
    for message in history:
        if message.role == "system":
            continue
        if message.role == "assistant" and not message.content.strip():
            continue  # a failed or empty reply: nothing to show the model
        messages.append({"role": message.role, "content": message.content})
    return messages


def count_tokens(loaded: LoadedModel, text: str) -> int | None:
    """Tokens in ``text`` by the model's tokenizer; None if the model is busy or gone.

    The model lock is taken because a fast tokenizer used by two threads at
    once can fail ("Already borrowed").
    """
    if not text:
        return 0
    if loaded.tokenizer is None or not loaded.lock.acquire(timeout=2.0):
        return None
    try:
        return len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
    except Exception:  # noqa: BLE001 - a count is a nicety, never worth an error
        return None
    finally:
        loaded.lock.release()


def logprobs_for_store(stream: ChatStream) -> list[dict[str, Any]] | None:
    entries = stream.reply.logprobs
    if entries is None:
        return None
    return [
        {"token": e.token, "logprob": e.logprob, "top": [[t, lp] for t, lp in e.top]}
        for e in entries[:MAX_STORED_LOGPROBS]
    ]


class ReplyRecorder:
    """Saves a streaming reply: periodically while it grows, then with its final status."""

    def __init__(
        self,
        store: ConversationStore,
        message_id: int,
        *,
        base_metrics: dict[str, Any] | None = None,
        loaded: LoadedModel | None = None,
        interval_s: float = SAVE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.message_id = message_id
        self.base_metrics = dict(base_metrics or {})
        self.loaded = loaded
        self.interval_s = interval_s
        self.clock = clock
        self._answer: list[str] = []
        self._reasoning: list[str] = []
        self._saved_at = clock()
        self.saves = 0  # progress saves so far (the final save not counted)
        self.metrics: dict[str, Any] = dict(self.base_metrics)
        self.status = "streaming"

    @property
    def answer(self) -> str:
        return "".join(self._answer)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    def add(self, chunk: Chunk) -> None:
        (self._answer if chunk.kind == "answer" else self._reasoning).append(chunk.text)
        if self.clock() - self._saved_at >= self.interval_s:
            self.store.update_message(self.message_id, content=self.answer, reasoning=self.reasoning, status="streaming")
            self._saved_at = self.clock()
            self.saves += 1

    def finish(self, stream: ChatStream, status: str, error: BaseException | None = None) -> None:
        """Final save: all text, the engine's metrics, the reasoning token count, log-probabilities."""
        metrics = {**stream.reply.metrics.to_dict(), **self.base_metrics}
        if status == "stopped":
            metrics["stop_reason"] = "cancelled"
        if error is not None:
            metrics["error"] = getattr(error, "message", None) or str(error)
        if self.reasoning and self.loaded is not None:
            metrics["reasoning_tokens"] = count_tokens(self.loaded, self.reasoning)
        logprobs = logprobs_for_store(stream)
        if logprobs is not None:
            metrics["logprobs"] = logprobs
        self.metrics, self.status = metrics, status
        self.store.update_message(
            self.message_id, content=self.answer, reasoning=self.reasoning, metrics=metrics, status=status
        )


def _answer_pieces(
    stream: ChatStream, recorder: ReplyRecorder, on_reasoning: Callable[[str], None] | None
) -> Iterator[str]:
    for chunk in stream:
        recorder.add(chunk)
        if chunk.kind == "answer":
            yield chunk.text
        elif on_reasoning is not None:
            on_reasoning(recorder.reasoning)


def consume_stream(
    stream: ChatStream,
    recorder: ReplyRecorder,
    *,
    write: Write | None = None,
    on_reasoning: Callable[[str], None] | None = None,
) -> tuple[str, PlaygroundError | None]:
    """Stream the answer with ``write``; always close the stream and save. Returns (status, error).

    If the script is interrupted, the exception propagates after the partial
    reply is saved as "stopped".
    """
    write = write or st.write_stream
    status, error = "stopped", None  # stays "stopped" if Streamlit interrupts us
    try:
        write(_answer_pieces(stream, recorder, on_reasoning))
        status = "stopped" if stream.reply.stopped else "complete"
    except PlaygroundError as exc:
        status, error = "error", exc
    finally:
        stream.close()
        recorder.finish(stream, status, error)
    return status, error


class ReasoningView:
    """The live reasoning of a reply: a status box opened at the first reasoning chunk (so only
    when there is reasoning), redrawn at most every 0.25 s, folded with its token count at the end."""

    def __init__(self, container: Any) -> None:
        self.container = container  # reserved above the answer, so the box lands there
        self.box: Any = None
        self.text: Any = None
        self._drawn_at = 0.0

    def update(self, reasoning: str) -> None:
        if self.box is None:
            self.box = self.container.status("Thinking…", expanded=True)
            self.text = self.box.empty()
        if time.monotonic() - self._drawn_at >= REASONING_REDRAW_S:
            self.text.markdown(reasoning)
            self._drawn_at = time.monotonic()

    def finish(self, reasoning: str, tokens: Any) -> None:
        if not reasoning:
            return
        if self.box is None:
            self.update(reasoning)
        self.text.markdown(reasoning)
        self.box.update(label=reasoning_label(tokens), state="complete", expanded=False)


def answer(
    store: ConversationStore,
    chat_id: str,
    loaded: LoadedModel,
    settings: ChatSettings,
    *,
    stop_button: bool = False,
) -> str | None:
    """Generate, stream and save the reply to the conversation's history.

    Returns the final status ("complete", "stopped", "error"), or None when no
    reply was started (invalid settings, a message too long for the window:
    the error is shown).
    """
    conversation = store.get(chat_id)
    with st.chat_message("assistant"):
        if settings.params is None:
            show_error(settings.params_error or PlaygroundError("The sampling settings are invalid."))
            return None
        messages = build_messages(settings.system_prompt, conversation.messages)
        try:
            stream = stream_chat(loaded, messages, settings.params, thinking=settings.thinking)
        except PlaygroundError as exc:
            show_error(exc)
            return None
        base = {"model": loaded.name, "quant": loaded.quant}
        message_id = store.add_message(chat_id, "assistant", "", metrics=base, status="streaming")
        recorder = ReplyRecorder(store, message_id, base_metrics=base, loaded=loaded)
        reasoning_view = ReasoningView(st.container())
        stop_slot = st.empty()
        if stop_button:  # the chat input's own stop button only shows for runs it started
            stop_slot.button("Stop", key="chat.stop", icon=":material/stop:")
        status, error = consume_stream(stream, recorder, on_reasoning=reasoning_view.update)
        stop_slot.empty()
        reasoning_view.finish(recorder.reasoning, recorder.metrics.get("reasoning_tokens"))
        render_reply_footer(status, recorder.metrics, error)
        return status
