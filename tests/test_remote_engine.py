"""The remote engine against a scripted in-process OpenAI-compatible server (tests/fake_openai_server.py).

Each test scripts what the server answers and asserts on what the engine yields, what it
measured, and the JSON the server received. The tiny Qwen2.5/Qwen3 tokenizers are given as the
endpoints' ``tokenizer`` hint, so context fitting is exact and fast.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from core.endpoints import Endpoint, parse_endpoint
from core.engine import Chunk, stream_chat
from core.errors import PlaygroundError
from core.params import GenerationParams
from core.pool import ModelPool
from core.remote import RemoteUnsupportedError, connect
from core.remote_errors import (
    RemoteAuthError,
    RemoteModelNotFoundError,
    RemoteParameterError,
    RemoteRateLimitError,
    RemoteServerError,
    RemoteStreamError,
    RemoteUnreachableError,
)
from tests.fake_openai_server import MODEL, FakeOpenAIServer, Script, chunk, text_events
from tests.fixtures.net import free_port

KEY = "sk-remote-test-0123456789abcdef"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(api_key=KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: FakeOpenAIServer):
    server.scripts.clear()
    server.requests.clear()
    server.disconnected.clear()
    server.sent_events = 0
    server.models = [{"id": MODEL, "owned_by": "vllm", "max_model_len": 4096}]
    yield


def endpoint(server: FakeOpenAIServer, tokenizer: Path, **extra) -> Endpoint:
    table = server.endpoint_table(tokenizer=str(tokenizer), **extra)
    return parse_endpoint("fake", table, secrets={"endpoints": {"fake": {"api_key": KEY}}})


@pytest.fixture
def remote(server: FakeOpenAIServer, tiny_qwen25_dir: Path):
    loaded = connect(endpoint(server, tiny_qwen25_dir))
    yield loaded
    loaded.unload()


@pytest.fixture
def remote_qwen3(server: FakeOpenAIServer, tiny_qwen3_dir: Path):
    loaded = connect(endpoint(server, tiny_qwen3_dir, family="qwen3"))
    yield loaded
    loaded.unload()


def run(loaded, params: GenerationParams | None = None, messages=HELLO, **kwargs):
    stream = stream_chat(loaded, messages, params or GenerationParams(), **kwargs)
    return stream, list(stream)


# --- connecting ---------------------------------------------------------------------------------


def test_connect_takes_facts_from_the_server(remote, server: FakeOpenAIServer) -> None:
    """/v1/models says owned_by=vllm and max_model_len=4096: the dialect and window come from there;
    nothing is loaded locally, and the key is only ever shown masked."""
    assert remote.model is None and remote.engine == "remote"
    assert (remote.device, remote.quant, remote.context_length) == ("remote", "remote", 4096)
    assert remote.backend.dialect == "vllm"
    assert 0 < remote.load_seconds < 2
    text = " ".join(remote.notices) + repr(remote) + repr(remote.backend.endpoint)
    assert KEY not in text and KEY[-4:] in text


# --- streaming and metrics ------------------------------------------------------------------------


def test_streaming_yields_the_server_text_with_usage_metrics(remote, server: FakeOpenAIServer) -> None:
    """Three content deltas arrive as three answer chunks; usage (17 prompt, 3 completion) is the
    server's count and wins over the client's; time to first token and totals are measured here."""
    server.push(Script(events=text_events(["Hello", " world", "!"], usage=(17, 3)), delay_s=0.02))
    stream, chunks = run(remote)
    assert chunks == [Chunk("answer", "Hello"), Chunk("answer", " world"), Chunk("answer", "!")]
    m = stream.reply.metrics
    assert stream.reply.text == "Hello world!"
    assert (m.prompt_tokens, m.completion_tokens, m.stop_reason, m.device) == (17, 3, "eos", "remote")
    assert m.ttft_s is not None and 0 < m.ttft_s <= m.total_s
    # 2 tokens after the first, which the server sends at least 2 × 20 ms later: at most 50 tokens/s
    assert m.decode_tokens_per_s is not None and 0 < m.decode_tokens_per_s <= 2 / 0.04
    assert server.headers[-1]["Authorization"] == f"Bearer {KEY}"


def test_without_usage_tokens_are_counted_per_chunk(remote, server: FakeOpenAIServer) -> None:
    """No usage chunk: completion tokens = text chunks received (4), prompt tokens = the client's
    exact count of the fitted prompt."""
    server.push(Script(events=text_events(["a", "b", "c", "d"], finish="length")))
    stream, _ = run(remote)
    m = stream.reply.metrics
    assert (m.completion_tokens, m.stop_reason) == (4, "length")
    assert m.prompt_tokens == stream.fit.prompt_tokens > 0


# --- parameter mapping --------------------------------------------------------------------------


def test_every_parameter_is_mapped_for_vllm(remote, server: FakeOpenAIServer) -> None:
    """The vLLM dialect takes top_k (0 = off is -1 there) and repetition_penalty as top-level
    fields; seed, stop and logprobs (top 5, like the local engine) are standard ones."""
    params = GenerationParams(temperature=0.3, top_p=0.9, top_k=0, repetition_penalty=1.2, max_new_tokens=64,
                              seed=7, stop=("END",), logprobs=True)  # fmt: skip
    run(remote, params)
    body = server.requests[-1]
    assert body["model"] == MODEL and body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens", "seed")} == {
        "temperature": 0.3, "top_p": 0.9, "top_k": -1, "repetition_penalty": 1.2, "max_tokens": 64, "seed": 7}  # fmt: skip
    assert body["stop"] == ["END"] and body["logprobs"] is True and body["top_logprobs"] == 5
    assert body["messages"] == HELLO and "chat_template_kwargs" not in body  # not a thinking model


def test_llama_cpp_and_openai_dialects(server: FakeOpenAIServer, tiny_qwen25_dir: Path) -> None:
    """llama.cpp calls the penalty repeat_penalty and gets stop strings only on the client (its
    server would hide which stop matched); the plain OpenAI API has no top_k at all, and the
    stream says so in its notices instead of dropping it silently."""
    params = GenerationParams(top_k=40, repetition_penalty=1.1, stop=("END",))
    llama = connect(endpoint(server, tiny_qwen25_dir, dialect="llama.cpp"))
    stream, _ = run(llama, params)
    body = server.requests[-1]
    assert (body["top_k"], body["repeat_penalty"]) == (40, 1.1) and "repetition_penalty" not in body
    assert "stop" not in body and any("Stop strings" in n for n in stream.notices)
    openai = connect(endpoint(server, tiny_qwen25_dir, dialect="openai", extra_body={"user": "team-a"}))
    stream, _ = run(openai, params)
    body = server.requests[-1]
    assert "top_k" not in body and "repetition_penalty" not in body and body["stop"] == ["END"]
    assert body["user"] == "team-a"  # extra_body is sent with every request
    assert any("top_k and repetition_penalty not sent" in n for n in stream.notices)


def test_a_rejected_parameter_is_named(remote, server: FakeOpenAIServer) -> None:
    """A 400 whose message names a field that was sent is reported as that playground parameter."""
    server.push(Script(status=400, error_body={"object": "error", "message": "repetition_penalty must be in (0, 2]"}))
    stream = stream_chat(remote, HELLO, GenerationParams())
    with pytest.raises(RemoteParameterError) as caught:
        list(stream)
    assert caught.value.parameter == "repetition_penalty"
    assert "rejected the parameter repetition_penalty" in caught.value.message
    assert stream.reply.metrics.stop_reason == "error" and stream.reply.metrics.error


# --- stop strings, cancellation -------------------------------------------------------------------


def test_stop_string_cuts_the_answer_and_closes_the_stream(remote, server: FakeOpenAIServer) -> None:
    """The stop string arrives split over two chunks; the answer ends right before it, the reason
    is "stop", and the connection is closed at once (the server never sends the rest)."""
    pieces = ["The answer", " is 4. ST", "OP and more"] + ["x"] * 40
    server.push(Script(events=text_events(pieces), delay_s=0.03))
    stream, chunks = run(remote, GenerationParams(stop=("STOP",)))
    assert stream.reply.text == "The answer is 4. " and stream.reply.metrics.stop_reason == "stop"
    assert "".join(c.text for c in chunks) == stream.reply.text
    assert server.disconnected.wait(3) and server.sent_events < len(pieces)


def test_server_reported_stop_string_is_a_stop(remote, server: FakeOpenAIServer) -> None:
    """vLLM cuts a stop string itself and names it in ``stop_reason``: that is a "stop", while a
    plain finish_reason "stop" with no stop string named is the end of the sequence."""
    server.push(Script(events=[chunk("Four"), chunk(finish="stop", stop_reason="END"), "[DONE]"]))
    stream, _ = run(remote, GenerationParams(stop=("END",)))
    assert (stream.reply.text, stream.reply.metrics.stop_reason) == ("Four", "stop")
    server.push(Script(events=[chunk("Four"), chunk(finish="stop", stop_reason=None), "[DONE]"]))
    stream, _ = run(remote, GenerationParams(stop=("END",)))
    assert stream.reply.metrics.stop_reason == "eos"


def test_close_cancels_and_closes_the_connection(remote, server: FakeOpenAIServer) -> None:
    """After two chunks the consumer closes the stream: the partial text is kept, the reason is
    "cancelled", and the server sees the client go away before it sent everything."""
    server.push(Script(events=text_events(["tok "] * 100), delay_s=0.03))
    stream = stream_chat(remote, HELLO, GenerationParams())
    iterator = iter(stream)
    next(iterator), next(iterator)
    stream.close()
    assert stream.reply.metrics.stop_reason == "cancelled" and stream.reply.text == "tok tok "
    assert server.disconnected.wait(3) and server.sent_events < 100


def test_cancel_event_while_the_server_is_silent(remote, server: FakeOpenAIServer) -> None:
    """The server says nothing for 3 s (a long prefill); setting the cancel event from another
    thread ends the stream within a fraction of that, because the connection is closed."""
    server.push(Script(first_delay_s=3.0))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.perf_counter()
    stream, chunks = run(remote, cancel=cancel)
    assert time.perf_counter() - started < 1.5
    assert chunks == [] and stream.reply.metrics.stop_reason == "cancelled"


# --- logprobs and thinking ----------------------------------------------------------------------


def test_logprobs_fill_the_reply(remote, server: FakeOpenAIServer) -> None:
    """The server's per-token logprobs and top alternatives become TokenLogprob entries, in order."""
    entry = lambda t, lp: {"token": t, "logprob": lp, "top_logprobs": [{"token": t, "logprob": lp}, {"token": "?", "logprob": -3.0}]}  # noqa: E731
    server.push(Script(events=[chunk("Hi", logprobs=[entry("Hi", -0.1)]), chunk("!", logprobs=[entry("!", -0.5)]),
                               chunk(finish="stop"), "[DONE]"]))  # fmt: skip
    stream, _ = run(remote, GenerationParams(logprobs=True))
    logprobs = stream.reply.logprobs
    assert [(e.token, e.logprob) for e in logprobs] == [("Hi", -0.1), ("!", -0.5)]
    assert logprobs[0].top == [("Hi", -0.1), ("?", -3.0)]


def test_qwen3_thinking_switch_and_split_reasoning(remote_qwen3, server: FakeOpenAIServer) -> None:
    """thinking=True/False is sent as chat_template_kwargs.enable_thinking; reasoning that a
    reasoning parser splits out (delta.reasoning_content) comes back as reasoning chunks."""
    assert remote_qwen3.supports_thinking
    server.push(Script(events=[chunk(reasoning="2+2 "), chunk(reasoning="is 4."), chunk("4"), chunk(finish="stop"), "[DONE]"]))
    stream, chunks = run(remote_qwen3, thinking=True)
    assert server.requests[-1]["chat_template_kwargs"] == {"enable_thinking": True}
    assert [c.kind for c in chunks] == ["reasoning", "reasoning", "answer"]
    assert (stream.reply.reasoning, stream.reply.text) == ("2+2 is 4.", "4")
    assert stream.reply.metrics.reasoning_chars == len("2+2 is 4.")
    run(remote_qwen3, thinking=False)
    assert server.requests[-1]["chat_template_kwargs"] == {"enable_thinking": False}


def test_inline_think_block_is_split(remote_qwen3, server: FakeOpenAIServer) -> None:
    """A server without a reasoning parser streams the <think> block inside the content, cut
    anywhere; the client splits it like the local engine does."""
    server.push(Script(events=text_events(["<thi", "nk>\nLet me", " see.\n</th", "ink>\n\nFour."])))
    stream, _ = run(remote_qwen3, thinking=True)
    assert (stream.reply.reasoning, stream.reply.text) == ("Let me see.", "Four.")


# --- context fitting ------------------------------------------------------------------------------


def test_context_is_fitted_before_sending(server: FakeOpenAIServer, tiny_qwen25_dir: Path) -> None:
    """With a 300-token window and 100 new tokens, old turns are dropped on the client and only the
    kept messages are sent."""
    loaded = connect(endpoint(server, tiny_qwen25_dir, context_length=300))
    old = "word " * 80
    messages = [{"role": "user", "content": old}, {"role": "assistant", "content": old},
                {"role": "user", "content": "And now?"}]  # fmt: skip
    stream, _ = run(loaded, GenerationParams(max_new_tokens=100), messages=messages)
    assert stream.fit.trimmed and stream.reply.metrics.dropped_turns == 2
    assert server.requests[-1]["messages"] == [{"role": "user", "content": "And now?"}]


def test_without_a_tokenizer_counts_are_estimated(server: FakeOpenAIServer) -> None:
    """A non-Qwen model with no tokenizer hint gets the approximate counter, and the loader says so."""
    server.models = [{"id": "mystery-7b", "owned_by": "someone"}]
    table = server.endpoint_table(model="mystery-7b")
    loaded = connect(parse_endpoint("mystery", table, secrets={"endpoints": {"mystery": {"api_key": KEY}}}))
    assert any("estimated" in n for n in loaded.notices) and loaded.context_length == 32768
    assert loaded.backend.dialect == "openai" and loaded.family == "unknown"
    stream, _ = run(loaded)
    assert stream.reply.text == "Hello world!" and stream.fit.prompt_tokens > 0


# --- failures -----------------------------------------------------------------------------------


def test_server_down_fails_fast(tiny_qwen25_dir: Path) -> None:
    """Nothing listens on the port: connecting raises RemoteUnreachableError within the connect
    timeout, with a hint about base_url."""
    table = {"base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "m", "connect_timeout_s": 1}
    started = time.perf_counter()
    with pytest.raises(RemoteUnreachableError) as caught:
        connect(parse_endpoint("down", table, secrets={}))
    assert time.perf_counter() - started < 3
    assert "cannot be reached" in caught.value.message and "base_url" in caught.value.hint


def test_wrong_key_is_an_auth_error(server: FakeOpenAIServer, tiny_qwen25_dir: Path) -> None:
    """The server answers 401 to a wrong key; the error says so and never contains the key."""
    table = server.endpoint_table(tokenizer=str(tiny_qwen25_dir))
    wrong = "sk-wrong-key-0000000000000000"
    with pytest.raises(RemoteAuthError) as caught:
        connect(parse_endpoint("fake", table, secrets={"endpoints": {"fake": {"api_key": wrong}}}))
    assert "401" in caught.value.message and wrong not in str(caught.value)


def test_model_not_served(server: FakeOpenAIServer, tiny_qwen25_dir: Path, remote) -> None:
    """A model name the server's /models does not list fails at connect time naming what it serves;
    a 404 during a chat (the model was swapped since) is the same typed error."""
    table = server.endpoint_table(model="no-such-model", tokenizer=str(tiny_qwen25_dir))
    with pytest.raises(RemoteModelNotFoundError) as caught:
        connect(parse_endpoint("fake", table, secrets={"endpoints": {"fake": {"api_key": KEY}}}))
    assert MODEL in caught.value.message
    server.push(Script(status=404, error_body={"object": "error", "message": f"The model `{MODEL}` does not exist."}))
    with pytest.raises(RemoteModelNotFoundError):
        run(remote)


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [(429, RemoteRateLimitError, "Retry after 7 s"), (500, RemoteServerError, "HTTP 500"),
     (503, RemoteServerError, "HTTP 503"), (403, RemoteAuthError, "HTTP 403")],
)  # fmt: skip
def test_http_errors_are_typed(remote, server: FakeOpenAIServer, status: int, error: type, words: str) -> None:
    """Each status maps to its error class; the stream records the error and no text."""
    server.push(Script(status=status, error_body={"error": {"message": "nope"}}, headers={"Retry-After": "7"}))
    stream = stream_chat(remote, HELLO, GenerationParams())
    with pytest.raises(error) as caught:
        list(stream)
    assert words in str(caught.value) and "nope" in caught.value.message
    assert stream.reply.metrics.stop_reason == "error" and stream.reply.text == ""


@pytest.mark.parametrize(
    ("events", "words"),
    [(["Hel", "lo"], "closed before the reply finished"),
     (["Hel", "lo", "{not json"], "malformed chunk"),
     (["Hel", "lo", {"error": {"message": "engine died"}}], "engine died")],
    ids=["dropped", "malformed", "error-event"],
)  # fmt: skip
def test_mid_stream_failures_keep_the_partial_reply(remote, server: FakeOpenAIServer, events, words: str) -> None:
    """The connection ends without [DONE], a chunk is not JSON, or the server sends an error event:
    the text so far stays in the reply, marked stop_reason="error" with the message."""
    scripted = [chunk(e) if isinstance(e, str) and not e.startswith("{") else e for e in events]
    server.push(Script(events=scripted))
    stream = stream_chat(remote, HELLO, GenerationParams())
    received = []
    with pytest.raises(PlaygroundError) as caught:
        for piece in stream:
            received.append(piece.text)
    assert words in caught.value.message and "partial reply was kept" in caught.value.message
    assert stream.reply.text == "".join(received) == "Hello"
    assert stream.reply.metrics.stop_reason == "error" and words in stream.reply.metrics.error


def test_read_timeout_is_reported(server: FakeOpenAIServer, tiny_qwen25_dir: Path) -> None:
    """A server silent for longer than read_timeout_s gives a RemoteStreamError naming the timeout."""
    loaded = connect(endpoint(server, tiny_qwen25_dir, read_timeout_s=0.5))
    server.push(Script(first_delay_s=2.0))
    with pytest.raises(RemoteStreamError) as caught:
        run(loaded)
    assert "silent for more than 0.5 s" in caught.value.message


def test_logits_processors_need_local_weights(remote) -> None:
    """Custom logits processors run on the weights: a remote model refuses them with a clear message."""
    with pytest.raises(RemoteUnsupportedError):
        stream_chat(remote, HELLO, GenerationParams(), logits_processors=[lambda ids, scores: scores])


# --- the pool -----------------------------------------------------------------------------------


def test_the_pool_serves_and_unloads_remote_models(server: FakeOpenAIServer, tiny_qwen25_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """remote:NAME goes through core.loading.load: the pool connects once, returns the same model
    whatever quant/device are asked (they are the server's), a remote model does not take a local
    model's slot (max_models=1 keeps both), and unloading closes its connection pool."""
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", json.dumps({"fake": server.endpoint_table(
        tokenizer=str(tiny_qwen25_dir), api_key_env="FAKE_REMOTE_KEY")}))  # fmt: skip
    monkeypatch.setenv("FAKE_REMOTE_KEY", KEY)
    pool = ModelPool(max_models=1)
    local = pool.get(str(tiny_qwen25_dir), "fp32", "cpu")
    first = pool.get("remote:fake")
    assert pool.get("remote:fake", "int8", "cpu") is first and first.name == "remote:fake"
    assert [e.loaded for e in pool.entries()] == [local, first] and local.model is not None
    _, chunks = run(first)
    assert "".join(c.text for c in chunks) == "Hello world!"
    assert pool.unload("remote:fake")
    with pytest.raises(PlaygroundError, match="unloaded"):
        stream_chat(first, HELLO, GenerationParams())


@pytest.mark.parametrize(
    ("status", "message", "parameter"),
    [(500, "logprobs is not supported for models created with logits_all=False", "logprobs"),
     (500, "The server stopped unexpectedly", None),
     (422, "body.top_k: Input should be a valid integer", "top_k")],
)  # fmt: skip
def test_server_failures_naming_a_field(remote, server: FakeOpenAIServer, status: int, message: str, parameter) -> None:
    """A 500 naming a field that was sent (llama-cpp-python fails logprobs that way) is a rejected
    parameter too, but ordinary words that are also keys ("stop") do not count in a 500."""
    server.push(Script(status=status, error_body={"error": {"message": message}}))
    with pytest.raises(PlaygroundError) as caught:
        run(remote, GenerationParams(stop=("END",), logprobs=True))
    if parameter is None:
        assert isinstance(caught.value, RemoteServerError)
    else:
        assert isinstance(caught.value, RemoteParameterError) and caught.value.parameter == parameter


def test_the_probe_suite_runs_on_a_remote_model(remote, server: FakeOpenAIServer) -> None:
    """The capability probes go through the same engine contract: each JSON-output probe is sent
    to the server once, its scripted reply is what gets scored, and the run records the remote
    model's name, quantization and device."""
    from core.probes import catalog
    from core.probes.runner import run_loaded

    result = run_loaded(remote, only="json_output")
    assert result.complete and len(result.results) == len(catalog.JSON_OUTPUT) == len(server.requests)
    assert all(r.reply == "Hello world!" and r.error is None for r in result.results)
    assert (result.config.model, result.config.quant, result.config.device) == ("remote:fake", "remote", "remote")


def test_guardrails_self_check_runs_on_a_remote_model(remote, server: FakeOpenAIServer) -> None:
    """The guardrails' model rails wrap any loaded model as a generator: on a remote one it sends a
    greedy, non-thinking request with the rail's token budget and returns the server's text; the
    log-probability scorer needs local weights, so it is None and the self-check generates."""
    from core.guardrails.pipeline import generator_from_loaded, self_check_from_loaded

    generate = generator_from_loaded(remote)
    assert generate([{"role": "user", "content": "Is this safe?"}], 8) == "Hello world!"
    body = server.requests[-1]
    assert (body["max_tokens"], body["temperature"], body["repetition_penalty"]) == (8, 0.0, 1.0)
    assert self_check_from_loaded(remote)[1] is None


def test_the_command_line_lists_and_uses_remote_endpoints(server: FakeOpenAIServer, tiny_qwen25_dir: Path) -> None:
    """`python -m core models` lists remote:fake with its URL and masked key (without contacting it),
    and `generate --model remote:fake --json` prints the server's reply with remote metrics."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "FAKE_CLI_KEY": KEY, "PLAYGROUND_ENDPOINTS": json.dumps(
        {"fake": server.endpoint_table(tokenizer=str(tiny_qwen25_dir), api_key_env="FAKE_CLI_KEY")})}  # fmt: skip
    listed = subprocess.run([sys.executable, "-m", "core", "models"], capture_output=True, text=True, env=env, timeout=120)
    line = next(line for line in listed.stdout.splitlines() if line.startswith("remote:fake"))
    assert server.base_url in line and KEY[-4:] in line and KEY not in listed.stdout
    done = subprocess.run([sys.executable, "-m", "core", "generate", "--model", "remote:fake", "--prompt", "Hi", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["text"] == "Hello world!" and payload["metrics"]["device"] == "remote"


def test_a_server_that_does_not_stream_is_explained(remote, server: FakeOpenAIServer) -> None:
    """A server answering with plain JSON instead of an event stream gets a clear RemoteStreamError
    naming the content type, not a parse crash."""
    server.push(Script(content_type="application/json"))
    with pytest.raises(RemoteStreamError) as caught:
        run(remote)
    assert "broken event stream" in caught.value.message and "application/json" in caught.value.message
