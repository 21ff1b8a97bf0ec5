"""The engine contract (core/backend.py), one suite run unchanged against every engine.

Engines: the local transformers engine on the tiny random Qwen2.5 (``local``), and the remote
engine talking to a real llama.cpp server (``python -m llama_cpp.server``, tests/llama_server.py)
that serves the offline Qwen2.5-Coder-0.5B GGUF (``llama-server``). The tests never check *what*
is said (the tiny model speaks gibberish); they check what every engine must do: stream chunks
that add up to the reply, respect max_new_tokens, reproduce a seeded reply, cut at a stop string,
stop on cancel or close keeping the partial text, measure the same metrics, and refuse an
oversized or malformed conversation before streaming.
"""

from __future__ import annotations

import threading

import pytest

from core.endpoints import parse_endpoint
from core.engine import stream_chat
from core.errors import ContextOverflowError, InvalidParameterError
from core.params import GenerationParams
from tests.llama_server import API_KEY, LlamaServer, require_llama

SEEDED = GenerationParams(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=12, seed=3)
COUNT = [{"role": "user", "content": "Write the numbers from 1 to 100, separated by commas."}]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory):
    require_llama()
    with LlamaServer(tmp_path_factory.mktemp("llama")) as server:
        yield server


@pytest.fixture(scope="module", params=["local", pytest.param("llama-server", marks=pytest.mark.server)])
def engine(request: pytest.FixtureRequest):
    """A LoadedModel served by each engine in turn."""
    if request.param == "local":
        yield request.getfixturevalue("tiny_qwen25")
        return
    from core.remote import connect

    server = request.getfixturevalue("llama_server")
    loaded = connect(parse_endpoint("llama", server.endpoint_table(), secrets={"endpoints": {"llama": {"api_key": API_KEY}}}))
    yield loaded
    loaded.unload()


def _run(loaded, params=SEEDED, messages=COUNT, **kwargs):
    stream = stream_chat(loaded, messages, params, **kwargs)
    chunks = list(stream)
    return stream, chunks


def test_chunks_add_up_to_the_reply_with_metrics(engine) -> None:
    """Answer chunks concatenate to reply.text; every engine reports prompt and completion tokens,
    time to first token, total time and why it stopped."""
    stream, chunks = _run(engine)
    m = stream.reply.metrics
    assert chunks and "".join(c.text for c in chunks if c.kind == "answer") == stream.reply.text
    assert 1 <= m.completion_tokens <= SEEDED.max_new_tokens and m.prompt_tokens > 0
    assert m.ttft_s is not None and 0 < m.ttft_s <= m.total_s
    assert m.stop_reason in ("eos", "length") and m.error is None and m.device
    assert stream.fit.prompt_tokens > 0 and not stream.fit.trimmed


def test_max_new_tokens_is_respected(engine) -> None:
    """Five new tokens on a prompt that wants hundreds: exactly five, stopped for length."""
    stream, _ = _run(engine, SEEDED.with_(max_new_tokens=5))
    assert (stream.reply.metrics.completion_tokens, stream.reply.metrics.stop_reason) == (5, "length")


def test_a_seeded_reply_is_reproducible(engine) -> None:
    """The same seed and settings give the same text twice."""
    first, _ = _run(engine)
    second, _ = _run(engine)
    assert first.reply.text == second.reply.text != ""


def _stop_string(text: str) -> str:
    """Two characters from the latter part of ``text`` whose first occurrence is not at the start."""
    for k in range(max(1, len(text) // 3), len(text) - 2):
        candidate = text[k : k + 2]
        if candidate.strip() and text.index(candidate) > 0:
            return candidate
    pytest.skip(f"no usable stop string in {text!r}")


def test_a_stop_string_cuts_the_reply(engine) -> None:
    """With a stop string taken from a seeded reply, the same reply ends right before its first
    occurrence, and the reason is "stop" (not end of sequence)."""
    full, _ = _run(engine)
    stop = _stop_string(full.reply.text)
    cut, chunks = _run(engine, SEEDED.with_(stop=(stop,)))
    assert cut.reply.text == full.reply.text[: full.reply.text.index(stop)]
    assert cut.reply.metrics.stop_reason == "stop" and stop not in "".join(c.text for c in chunks)


def test_cancel_keeps_the_partial_reply(engine) -> None:
    """Setting the cancel event after three chunks ends the stream: reason "cancelled", and the
    reply holds exactly the text streamed so far."""
    cancel = threading.Event()
    stream = stream_chat(engine, COUNT, SEEDED.with_(max_new_tokens=32), cancel=cancel)
    received = []
    for chunk in stream:
        received.append(chunk.text)
        if len(received) == 3:
            cancel.set()
    assert stream.reply.metrics.stop_reason == "cancelled"
    assert stream.reply.text == "".join(received) and 3 <= len(received) <= 4


def test_close_keeps_the_partial_reply(engine) -> None:
    """Closing the stream (what a page does when Streamlit interrupts it) cancels it the same way."""
    stream = stream_chat(engine, COUNT, SEEDED.with_(max_new_tokens=32))
    iterator = iter(stream)
    received = [next(iterator).text, next(iterator).text]
    stream.close()
    assert stream.reply.metrics.stop_reason == "cancelled" and stream.reply.text == "".join(received)


def test_oversized_and_malformed_conversations_fail_before_streaming(engine) -> None:
    """Fitting is eager: a message larger than the window raises ContextOverflowError from
    stream_chat itself, and a conversation not ending with the user raises InvalidParameterError."""
    huge = [{"role": "user", "content": "word " * (engine.context_length + 100)}]
    with pytest.raises(ContextOverflowError):
        stream_chat(engine, huge, SEEDED)
    with pytest.raises(InvalidParameterError):
        stream_chat(engine, [*COUNT, {"role": "assistant", "content": "1, 2"}], SEEDED)
