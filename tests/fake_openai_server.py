"""A scripted OpenAI-compatible server on 127.0.0.1 (a free port) for the remote engine's tests.

It records every request (JSON body and headers) and answers ``/v1/chat/completions`` from a
queue of :class:`Script` objects (the default: a short streamed "Hello world!"). A script can
answer with an HTTP error, stream events with a delay, stop without ``[DONE]`` (a dropped
connection), send raw (malformed) data, or stay silent before the first event. When the client
goes away mid-stream, ``disconnected`` is set (the next write fails), which is how the tests see
that cancelling closes the connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fake-qwen"


def chunk(content: str | None = None, *, reasoning: str | None = None, finish: str | None = None,
          logprobs: list[dict[str, Any]] | None = None, **choice_extra: Any) -> dict[str, Any]:  # fmt: skip
    """One ``chat.completion.chunk`` with a single choice."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, **choice_extra}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {"id": "c1", "object": "chat.completion.chunk", "model": MODEL, "choices": [choice]}


def usage_chunk(prompt: int, completion: int) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}  # fmt: skip


def text_events(pieces: list[str], finish: str = "stop", usage: tuple[int, int] | None = None) -> list[Any]:
    """A normal stream: a role chunk, one chunk per piece, the finish chunk, usage, [DONE]."""
    events: list[Any] = [{"id": "c1", "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]  # fmt: skip
    events += [chunk(p) for p in pieces]
    events.append(chunk(finish=finish))
    if usage is not None:
        events.append(usage_chunk(*usage))
    events.append("[DONE]")
    return events


@dataclass
class Script:
    """How to answer one chat request."""

    events: list[Any] = field(default_factory=lambda: text_events(["Hello", " world", "!"]))
    status: int = 200
    error_body: Any = None  # JSON (or str) sent with an error status
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # between events
    first_delay_s: float = 0.0  # silence before the first event
    content_type: str = "text/event-stream"


class FakeOpenAIServer:
    def __init__(self, *, api_key: str | None = None, models: list[dict[str, Any]] | None = None,
                 models_status: int = 200) -> None:  # fmt: skip
        self.api_key = api_key
        self.models = models if models is not None else [{"id": MODEL, "owned_by": "vllm", "max_model_len": 4096}]
        self.models_status = models_status
        self.scripts: deque[Script] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.disconnected = threading.Event()
        self.sent_events = 0  # events written, all requests together
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint_table(self, **extra: Any) -> dict[str, Any]:
        """A PLAYGROUND_ENDPOINTS entry for this server."""
        return {"base_url": self.base_url, "model": MODEL, "connect_timeout_s": 2, "read_timeout_s": 5, **extra}

    def push(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                body = (data if isinstance(data, str) else json.dumps(data)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self) -> bool:
                if server.api_key is None or self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._json(401, {"error": {"message": "Invalid API key", "type": "auth"}})
                return False

            def do_GET(self) -> None:  # noqa: N802
                if not self._authorized():
                    return
                if self.path.rstrip("/") != "/v1/models" or server.models_status != 200:
                    self._json(server.models_status if self.path.rstrip("/") == "/v1/models" else 404, {"detail": "Not Found"})
                    return
                self._json(200, {"object": "list", "data": server.models})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                if not self._authorized():
                    return
                script = server.scripts.popleft() if server.scripts else Script()
                if script.status != 200:
                    self._json(script.status, script.error_body or {"error": {"message": "failed"}}, script.headers)
                    return
                self.send_response(200)
                self.send_header("Content-Type", script.content_type)
                self.end_headers()
                try:
                    self.wfile.flush()
                    time.sleep(script.first_delay_s)
                    for index, event in enumerate(script.events):
                        if index and script.delay_s:
                            time.sleep(script.delay_s)
                        data = event if isinstance(event, str) else json.dumps(event)
                        self.wfile.write(f"data: {data}\n\n".encode())
                        self.wfile.flush()
                        server.sent_events += 1
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected.set()

        return Handler
