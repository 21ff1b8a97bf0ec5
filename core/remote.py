"""The remote engine: any OpenAI-compatible ``/chat/completions`` server behind the engine contract.

Contract (see core/backend.py for the engine contract itself):
- :func:`connect` turns a configured :class:`core.endpoints.Endpoint` into a
  :class:`core.loading.LoadedModel` (``model=None``, ``device="remote"``, ``quant="remote"``,
  ``backend=RemoteBackend``). It asks the server's ``/models`` once (connect timeout from the
  endpoint, so a server that is down fails within seconds, never hangs), checks the model is
  served, detects the dialect when ``dialect="auto"``, and takes the context window from the
  endpoint, else the server's ``max_model_len`` (vLLM), else the registry, else 32768 (said in
  a notice). ``load_seconds`` is the time to reach the server. This is the public entry point
  (benchmarks call it too).
- :meth:`RemoteBackend.stream_chat` returns a :class:`RemoteStream`: a
  :class:`core.engine.ChatStream` look-alike that fits the conversation eagerly with the
  chosen tokenizer (core/remote_tokenizer.py), sends the fitted messages with every sampling
  parameter mapped for the dialect (core/remote_request.py), and yields reasoning/answer
  :class:`core.engine.Chunk` objects from the server-sent events. Reasoning comes from
  ``delta.reasoning_content`` / ``delta.reasoning`` (vLLM and SGLang reasoning parsers) or from
  an inline ``<think>`` block in the content (core.thinking.ThinkSplitter).
- Metrics are measured on the client like the local engine: ``ttft_s`` from sending the request
  to the first text, ``decode_tokens_per_s`` = (tokens - 1) / (last text - first text),
  token counts from the server's ``usage`` when it sends one, else one token per streamed text
  chunk (what vLLM, SGLang, llama.cpp and TGI stream); ``device="remote"``.
- Cancellation (``cancel.set()`` or :meth:`RemoteStream.close`) closes the HTTP connection within
  about 50 ms even while the server is silent, so the server stops generating.
- Failures raise a :class:`core.remote_errors.RemoteError` with a message and a hint; a failure
  after text arrived (dropped connection, read timeout, malformed chunk, an error event) keeps the
  partial reply in ``.reply`` with ``metrics.stop_reason = "error"`` and ``metrics.error`` set.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from core.context import FitResult, Message, fit_messages
from core.endpoints import Endpoint
from core.engine import Chunk, Reply, StreamBase, StopStringFilter, TokenLogprob
from core.errors import PlaygroundError
from core.loading import LoadedModel, LoadProgress, SerializedTokenizer
from core.params import GenerationParams
from core.registry import find_spec
from core.remote_errors import (
    RemoteError,
    RemoteModelNotFoundError,
    RemoteServerError,
    RemoteStreamError,
    RemoteUnreachableError,
    error_for_response,
    redact,
)
from core.remote_request import THINKING_KWARGS, build_body
from core.remote_tokenizer import choose_tokenizer, guess_family
from core.thinking import ThinkSplitter

DEFAULT_CONTEXT = 32768
PROBE_READ_TIMEOUT_S = 10.0
CANCEL_POLL_S = 0.05
MAX_ERROR_BODY = 64 * 1024
_OWNED_BY_DIALECT = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llama.cpp", "me": "llama.cpp"}


class RemoteUnsupportedError(RemoteError):
    """A feature that needs the model's weights in this process (custom logits processors)."""


# --- the HTTP side -------------------------------------------------------------------------------


class RemoteBackend:
    """One endpoint's connection pool; thread-safe (httpx.Client is), shared by every session."""

    kind = "remote"

    def __init__(self, endpoint: Endpoint, dialect: str | None = None) -> None:
        self.endpoint = endpoint
        self.dialect = dialect or (endpoint.dialect if endpoint.dialect != "auto" else "openai")
        timeout = httpx.Timeout(
            connect=endpoint.connect_timeout_s, read=endpoint.read_timeout_s,
            write=endpoint.read_timeout_s, pool=endpoint.connect_timeout_s,
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers, verify=endpoint.verify_tls)
        self._active = 0
        self._closing = False
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"{self.endpoint.name} ({self.endpoint.display_url})"

    def _url(self, path: str) -> str:
        return f"{self.endpoint.base_url}/{path}"

    def _translate(self, exc: Exception, during: str) -> RemoteError:
        text = redact(f"{type(exc).__name__}: {exc}", self.endpoint.api_key)[:300]
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            return RemoteUnreachableError(
                f"Endpoint '{self.label}' cannot be reached ({text}).",
                "Is the server running and is base_url right (host, port, /v1)? "
                f"Connect timeout: {self.endpoint.connect_timeout_s:g} s.",
            )
        if isinstance(exc, httpx.ReadTimeout):
            return RemoteStreamError(
                f"Endpoint '{self.label}' went silent for more than {self.endpoint.read_timeout_s:g} s {during}.",
                "The server may be overloaded or stuck; raise read_timeout_s for slow prefill, or retry.",
            )
        return RemoteStreamError(
            f"The connection to endpoint '{self.label}' failed {during} ({text}).",
            "The server closed the connection or crashed: check it and retry.",
        )

    def _raise_for_status(self, response: httpx.Response, sent: dict[str, str] | None = None) -> None:
        if response.status_code < 400:
            return
        try:
            body = response.read()[:MAX_ERROR_BODY].decode("utf-8", "replace")
        except httpx.HTTPError:
            body = ""
        finally:
            response.close()
        raise error_for_response(
            self.label, response.status_code, body, model=self.endpoint.model, sent=sent,
            retry_after=response.headers.get("retry-after"), secret=self.endpoint.api_key,
        )  # fmt: skip

    def list_models(self) -> list[dict[str, Any]] | None:
        """The server's ``/models`` entries; None when it has no such route (404/405)."""
        timeout = httpx.Timeout(self.endpoint.connect_timeout_s, read=min(self.endpoint.read_timeout_s, PROBE_READ_TIMEOUT_S))
        try:
            response = self._client.get(self._url("models"), timeout=timeout)
        except httpx.HTTPError as exc:
            raise self._translate(exc, "while asking for /models") from exc
        if response.status_code in (404, 405):
            return None
        self._raise_for_status(response)
        try:
            data = response.json().get("data")
        except (ValueError, AttributeError):
            return None
        return [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else None

    def open_stream(self, body: dict[str, Any], sent: dict[str, str]) -> httpx.Response:
        """POST the request and return the streaming response once its headers arrived (typed errors)."""
        request = self._client.build_request(
            "POST", self._url("chat/completions"), json=body, headers={"Accept": "text/event-stream"}
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._translate(exc, "before the reply started") from exc
        self._raise_for_status(response, sent)
        return response

    # active streams keep the pool open: close() waits for the last one to end
    def stream_started(self) -> None:
        with self._lock:
            self._active += 1

    def stream_ended(self) -> None:
        with self._lock:
            self._active -= 1
            close_now = self._closing and self._active == 0
        if close_now:
            self._client.close()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            close_now = self._active == 0
        if close_now:
            self._client.close()

    def stream_chat(
        self,
        loaded: LoadedModel,
        messages: list[Message],
        params: GenerationParams,
        *,
        thinking: bool | None = None,
        cancel: threading.Event | None = None,
        logits_processors: list[Any] | None = None,
        prefix_cache: bool = True,
        ignore_eos: bool = False,
    ) -> RemoteStream:
        """A streamed reply (``prefix_cache`` is the server's business: vLLM, SGLang and llama.cpp cache prefixes)."""
        if logits_processors:
            raise RemoteUnsupportedError(
                f"{loaded.name} runs on a remote server: custom logits processors need the weights in this process.",
                "Pick a local model for this feature.",
            )
        if self._closing:
            raise PlaygroundError(f"{loaded.name} was unloaded.", "Load it again from the sidebar.")
        return RemoteStream(self, loaded, messages, params, thinking, cancel, ignore_eos)


# --- the stream ----------------------------------------------------------------------------------


def _logprobs(choice: dict[str, Any]) -> list[TokenLogprob]:
    content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
    out = []
    for entry in content or []:
        if isinstance(entry, dict) and isinstance(entry.get("logprob"), (int, float)):
            top = [
                (str(t.get("token", "")), float(t["logprob"]))
                for t in entry.get("top_logprobs") or []
                if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))
            ]
            out.append(TokenLogprob(str(entry.get("token", "")), float(entry["logprob"]), top))
    return out


def _shutdown_socket(response: httpx.Response) -> None:
    """Shut the response's TCP connection down (from any thread)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass


class RemoteStream(StreamBase):
    """Iterable of :class:`Chunk`; ``reply`` is complete once iteration has ended (as ChatStream).

    ``close`` from another thread while iterating sets ``cancel``; the watcher then closes the connection."""

    def __init__(
        self,
        backend: RemoteBackend,
        loaded: LoadedModel,
        messages: list[Message],
        params: GenerationParams,
        thinking: bool | None,
        cancel: threading.Event | None,
        ignore_eos: bool = False,
    ) -> None:
        self.backend, self.loaded, self.params = backend, loaded, params
        self.thinking = thinking if loaded.supports_thinking else None
        self.cancel = cancel or threading.Event()
        self.fit: FitResult = fit_messages(
            loaded.tokenizer, messages, loaded.context_length, params.max_new_tokens, self.thinking
        )
        request = build_body(
            backend.endpoint.model, backend.dialect, self.fit.messages, params, self.thinking, backend.endpoint.extra_body
        )
        if ignore_eos and backend.dialect in THINKING_KWARGS:
            request.body["ignore_eos"] = True
        self.body, self.sent, self.notices = request.body, request.sent, request.notices
        self.reply = Reply()
        self._iterator: Iterator[Chunk] | None = None
        self._finished = threading.Event()

    def _watch(self, response: httpx.Response) -> None:
        """Close the connection as soon as ``cancel`` is set, even while waiting for the server."""
        while not self._finished.wait(CANCEL_POLL_S):
            if self.cancel.is_set():
                _shutdown_socket(response)  # wakes a read blocked in recv(); close() alone does not
                return

    def _run(self) -> Iterator[Chunk]:
        metrics = self.reply.metrics
        metrics.device = "remote"
        metrics.trimmed = self.fit.trimmed
        metrics.dropped_turns = len(self.fit.dropped_indices)
        metrics.dropped_tokens = self.fit.dropped_tokens
        metrics.prompt_tokens = self.fit.prompt_tokens
        self.reply.logprobs = [] if self.params.logprobs else None
        answer: list[str] = []
        reasoning: list[str] = []
        started = time.perf_counter()
        self._first: float | None = None
        self._last: float | None = None
        self._chunks = 0
        self._usage: dict[str, Any] = {}
        response: httpx.Response | None = None
        self.backend.stream_started()
        try:
            if self.cancel.is_set():
                metrics.stop_reason = "cancelled"
                return
            response = self.backend.open_stream(self.body, self.sent)
            threading.Thread(target=self._watch, args=(response,), daemon=True, name="remote-cancel").start()
            yield from self._events(response, started, answer, reasoning)
        except GeneratorExit:
            metrics.stop_reason = "cancelled"
            raise
        except (RemoteError, httpx.HTTPError, httpx.StreamError, SSEError) as exc:
            if self.cancel.is_set():  # closing the connection makes the read fail: that is the cancel
                metrics.stop_reason = "cancelled"
                return
            error = self._as_error(exc, bool(answer or reasoning))
            metrics.stop_reason, metrics.error = "error", error.message
            raise error from exc
        finally:
            self._finished.set()
            if response is not None:
                response.close()
            self.backend.stream_ended()
            self.reply.text, self.reply.reasoning = "".join(answer), "".join(reasoning)
            self._measure(started)

    def _as_error(self, exc: BaseException, partial: bool) -> RemoteError:
        if isinstance(exc, RemoteError):
            error = exc
        elif isinstance(exc, SSEError):  # (an httpx error too) e.g. a JSON answer where a stream was asked for
            error = RemoteStreamError(
                f"Endpoint '{self.backend.label}' sent a broken event stream ({exc}).",
                "Is base_url an OpenAI-compatible API that streams (server-sent events)?",
            )
        elif isinstance(exc, (httpx.HTTPError, httpx.StreamError)):
            error = self.backend._translate(exc, "mid-stream" if partial else "before the first token")
        else:
            error = RemoteStreamError(f"Endpoint '{self.backend.label}' failed ({type(exc).__name__}: {exc}).", "Retry.")
        if partial:
            error.message += " The partial reply was kept."
        return error

    def _measure(self, started: float) -> None:
        metrics = self.reply.metrics
        metrics.total_s = time.perf_counter() - started
        usage = self._usage
        if isinstance(usage.get("prompt_tokens"), int):
            metrics.prompt_tokens = usage["prompt_tokens"]
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
            metrics.cached_prompt_tokens = details["cached_tokens"]
        metrics.completion_tokens = (
            usage["completion_tokens"] if isinstance(usage.get("completion_tokens"), int) else self._chunks
        )
        metrics.reasoning_chars = len(self.reply.reasoning)
        if self._first is not None and self._last is not None and metrics.completion_tokens > 1:
            elapsed = self._last - self._first
            metrics.decode_tokens_per_s = (metrics.completion_tokens - 1) / elapsed if elapsed > 0 else None

    def _events(self, response: httpx.Response, started: float, answer: list[str], reasoning: list[str]) -> Iterator[Chunk]:
        metrics, params = self.reply.metrics, self.params
        splitter, stops = ThinkSplitter(), StopStringFilter(params.stop)
        emit = _Emitter(answer, reasoning, stops)
        finish: str | None = None
        matched: Any = None
        done = False
        for event in EventSource(response).iter_sse():
            if self.cancel.is_set():
                metrics.stop_reason = "cancelled"
                return
            data = event.data.strip()
            if not data:
                continue
            if data == "[DONE]":
                done = True
                break
            chunk = self._parse(data)
            if isinstance(chunk.get("usage"), dict):
                self._usage = chunk["usage"]
            choices = chunk.get("choices") or []
            if not isinstance(choices, list):
                raise RemoteStreamError(f"Endpoint '{self.backend.label}' sent a chunk whose choices is not a list.", "Retry.")
            for choice in choices[:1]:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                delta = delta if isinstance(delta, dict) else {}
                think = delta.get("reasoning_content") or delta.get("reasoning")
                content = delta.get("content")
                if (isinstance(think, str) and think) or (isinstance(content, str) and content):
                    self._chunks += 1
                    now = time.perf_counter()
                    if self._first is None:
                        self._first = now
                        metrics.ttft_s = now - started
                    self._last = now
                if self.reply.logprobs is not None:
                    self.reply.logprobs.extend(_logprobs(choice))
                if isinstance(think, str) and think:
                    yield from emit.pieces([("reasoning", think)])
                if isinstance(content, str) and content:
                    yield from emit.pieces(splitter.feed(content))
                if stops.hit:
                    metrics.stop_reason = "stop"
                    return
                finish = choice.get("finish_reason") or finish
                matched = choice.get("stop_reason", choice.get("matched_stop", matched))
        if not done and finish is None:
            raise RemoteStreamError(
                f"The connection to endpoint '{self.backend.label}' closed before the reply finished.",
                "The server may have crashed or restarted: check it and retry.",
            )
        yield from emit.pieces(splitter.flush(), final=True)
        if stops.hit:
            metrics.stop_reason = "stop"
        elif finish == "length":
            metrics.stop_reason = "length"
        elif finish == "stop" and isinstance(matched, str) and matched in params.stop:
            metrics.stop_reason = "stop"
        else:
            metrics.stop_reason = "eos"

    def _parse(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise RemoteStreamError(
                f"Endpoint '{self.backend.label}' sent a malformed chunk (not JSON: {data[:80]!r}).",
                "Is base_url an OpenAI-compatible API? Retry, or check the server's version.",
            ) from exc
        if not isinstance(chunk, dict):
            raise RemoteStreamError(f"Endpoint '{self.backend.label}' sent a chunk that is not an object.", "Retry.")
        if "error" in chunk:  # vLLM/SGLang report a failure mid-stream as an error event
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise RemoteServerError(
                f"Endpoint '{self.backend.label}' failed mid-stream: {redact(str(message), self.backend.endpoint.api_key)[:300]}",
                "Retry, or check the server's logs.",
            )
        return chunk


class _Emitter:
    """Routes splitter output: reasoning straight out, answer through the stop-string filter."""

    def __init__(self, answer: list[str], reasoning: list[str], stops: StopStringFilter) -> None:
        self.answer, self.reasoning, self.stops = answer, reasoning, stops

    def pieces(self, pieces: list[tuple[str, str]], final: bool = False) -> Iterator[Chunk]:
        for kind, text in pieces:
            if kind == "reasoning":
                self.reasoning.append(text)
                yield Chunk("reasoning", text)
                continue
            if self.stops.hit:
                return
            text = self.stops.feed(text)
            if text:
                self.answer.append(text)
                yield Chunk("answer", text)
            if self.stops.hit:
                return
        if final and not self.stops.hit:
            rest = self.stops.flush()
            if rest:
                self.answer.append(rest)
                yield Chunk("answer", rest)


# --- connecting ----------------------------------------------------------------------------------


def detect_dialect(entries: list[dict[str, Any]] | None) -> str:
    """vllm / sglang / llama.cpp from ``owned_by`` in ``/models``; "openai" (standard fields only) otherwise."""
    for entry in entries or []:
        dialect = _OWNED_BY_DIALECT.get(str(entry.get("owned_by", "")).lower())
        if dialect:
            return dialect
    return "openai"


def _served_entry(endpoint: Endpoint, entries: list[dict[str, Any]] | None, label: str) -> dict[str, Any]:
    if entries is None:
        return {}
    ids = [str(e.get("id")) for e in entries]
    for entry in entries:
        if entry.get("id") == endpoint.model:
            return entry
    raise RemoteModelNotFoundError(
        f"Endpoint '{label}' does not serve model '{endpoint.model}' (it serves: {', '.join(ids[:5]) or 'nothing'}).",
        "Set the endpoint's `model` to one of those names.",
    )


def connect(endpoint: Endpoint, progress: LoadProgress | None = None) -> LoadedModel:
    """Reach ``endpoint``'s server and return the remote model (typed errors; see the module docstring)."""
    report: Callable[[float, str], None] = progress or (lambda _f, _m: None)
    started = time.perf_counter()
    report(0.0, f"Connecting to {endpoint.display_url}…")
    dialect = endpoint.dialect if endpoint.dialect != "auto" else None
    backend = RemoteBackend(endpoint, dialect)
    try:
        entries = backend.list_models()
        entry = _served_entry(endpoint, entries, backend.label)
    except BaseException:
        backend.close()
        raise
    reached = time.perf_counter() - started
    notices = [f"Served by {endpoint.display_url} as '{endpoint.model}'; API key {endpoint.masked_key}."]
    if dialect is None:
        backend.dialect = detect_dialect(entries)
        notices.append(f"Dialect detected: {backend.dialect}.")
    spec = find_spec(endpoint.model)
    server_context = entry.get("max_model_len")
    if endpoint.context_length:
        context_length = endpoint.context_length
    elif isinstance(server_context, int) and server_context > 0:
        context_length = server_context
    elif spec is not None:
        context_length = spec.context_length
        notices.append(f"Context window {context_length:,} from the registry; set context_length if the server uses less.")
    else:
        context_length = DEFAULT_CONTEXT
        notices.append(f"The server does not say its context window: {DEFAULT_CONTEXT:,} assumed (set context_length).")
    family = endpoint.family or (spec.family if spec else None) or guess_family(endpoint.model) or "unknown"
    thinking = endpoint.thinking if endpoint.thinking is not None else (spec.thinking if spec else family == "qwen3")
    report(0.5, "Loading a tokenizer for context fitting…")
    choice = choose_tokenizer(endpoint.model, endpoint.tokenizer, family)
    notices.append(choice.note)
    report(1.0, f"Connected in {reached:.2f} s.")
    return LoadedModel(
        name=endpoint.picker_name,
        source=f"{endpoint.display_url} · {endpoint.model}",
        model=None,
        tokenizer=SerializedTokenizer(choice.tokenizer),
        quant="remote",
        device="remote",
        context_length=context_length,
        supports_thinking=bool(thinking),
        family=family,
        load_seconds=reached,
        memory_bytes=0,
        spec=spec,
        notices=notices,
        backend=backend,
    )
