"""Failures of the remote engine against a real llama.cpp server (tests/llama_server.py).

The server runs behind ``--api_key``; one test kills it with SIGKILL in the middle of a reply.
"""

from __future__ import annotations

import httpx
import pytest

from core.endpoints import parse_endpoint
from core.engine import stream_chat
from core.params import GenerationParams
from core.remote import connect
from core.remote_errors import RemoteAuthError, RemoteModelNotFoundError, RemoteStreamError, RemoteUnreachableError
from tests.llama_server import ALIAS, API_KEY, LlamaServer, require_llama

pytestmark = pytest.mark.server
COUNT = [{"role": "user", "content": "Write the numbers from 1 to 100, separated by commas."}]
GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=200)


def _secrets(key: str) -> dict:
    return {"endpoints": {"llama": {"api_key": key}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    require_llama()
    with LlamaServer(tmp_path_factory.mktemp("llama")) as running:
        yield running


def test_wrong_key_is_refused(server: LlamaServer) -> None:
    """The server's --api_key rejects another key with 401: connect raises RemoteAuthError and the
    message never contains the key that was tried."""
    wrong = "sk-wrong-0000000000000000"
    with pytest.raises(RemoteAuthError) as caught:
        connect(parse_endpoint("llama", server.endpoint_table(), secrets=_secrets(wrong)))
    assert "401" in caught.value.message and wrong not in str(caught.value)


def test_wrong_model_name(server: LlamaServer) -> None:
    """llama-cpp-python's server ignores the request's model name (it answers with its only model,
    whatever the name), so the engine checks the name against /v1/models when connecting: a
    wrong name fails there, naming the model the server does serve."""
    raw = httpx.post(f"{server.base_url}/chat/completions", timeout=60,
                     headers={"Authorization": f"Bearer {API_KEY}"},
                     json={"model": "no-such-model", "messages": COUNT, "max_tokens": 2})  # fmt: skip
    assert raw.status_code == 200 and raw.json()["choices"][0]["message"]["content"]  # the server's own behaviour
    with pytest.raises(RemoteModelNotFoundError) as caught:
        connect(parse_endpoint("llama", server.endpoint_table(model="no-such-model"), secrets=_secrets(API_KEY)))
    assert ALIAS in caught.value.message


def test_logprobs_from_the_real_server(server: LlamaServer) -> None:
    """llama.cpp streams per-token logprobs: one entry per token, the tokens spell the reply, and
    under greedy decoding each chosen token is the most likely one of its top 5."""
    loaded = connect(parse_endpoint("llama", server.endpoint_table(), secrets=_secrets(API_KEY)))
    stream = stream_chat(loaded, COUNT, GREEDY.with_(max_new_tokens=4, logprobs=True))
    list(stream)
    entries = stream.reply.logprobs
    assert len(entries) == stream.reply.metrics.completion_tokens == 4
    assert "".join(e.token for e in entries) == stream.reply.text
    for entry in entries:
        assert entry.logprob <= 0 and len(entry.top) == 5 and entry.top[0][0] == entry.token


def test_killed_mid_stream_keeps_the_partial_reply(tmp_path) -> None:
    """SIGKILL after three chunks: the stream ends with a RemoteStreamError, the reply keeps the
    text received and is marked stop_reason="error"; a new connection then fails fast."""
    require_llama()
    server = LlamaServer(tmp_path).start()
    try:
        loaded = connect(parse_endpoint("llama", server.endpoint_table(), secrets=_secrets(API_KEY)))
        stream = stream_chat(loaded, COUNT, GREEDY)
        received: list[str] = []
        with pytest.raises(RemoteStreamError) as caught:
            for chunk in stream:
                received.append(chunk.text)
                if len(received) == 3:
                    server.kill()
        assert len(received) >= 3 and stream.reply.text == "".join(received)
        assert stream.reply.metrics.stop_reason == "error" and "partial reply was kept" in caught.value.message
        with pytest.raises(RemoteUnreachableError):
            connect(parse_endpoint("llama", server.endpoint_table(), secrets=_secrets(API_KEY)))
    finally:
        server.stop()
