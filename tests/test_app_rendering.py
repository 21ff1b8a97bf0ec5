"""Tests of the chat rendering and streaming pieces: stop keeps the partial reply, the store sees a
reply while it streams, reasoning is shown folded with its token count, model text is never HTML."""

from __future__ import annotations

import html

import pytest
import torch
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.testing.v1 import AppTest

from core.conversations import ConversationStore
from core.engine import stream_chat
from core.params import GenerationParams
from ui.chat_turn import ReplyRecorder, build_messages, consume_stream
from ui.chat_view import metrics_line, token_probability_html, token_probability_table

QUESTION = [{"role": "user", "content": "Count to ten."}]


def no_eos(loaded):
    """A logits processor that forbids end-of-sequence, so a reply runs to max_new_tokens."""
    banned = loaded.eos_token_ids

    def processor(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores[:, banned] = -float("inf")
        return scores

    return processor


def new_reply(store: ConversationStore) -> tuple[str, int]:
    chat_id = store.create()
    store.add_message(chat_id, "user", QUESTION[0]["content"])
    return chat_id, store.add_message(chat_id, "assistant", "", status="streaming")


def test_stop_keeps_the_partial_reply_and_frees_the_model(tiny_qwen25):
    """Streamlit stops a script by raising StopException at the next st call, i.e. inside
    st.write_stream. consume_stream must close the stream (the model lock is released, the engine
    records a cancel) and save exactly the text produced so far, marked "stopped"; the reply was
    also visible in the store while it streamed (status "streaming")."""
    store = ConversationStore()
    chat_id, message_id = new_reply(store)
    stream = stream_chat(
        tiny_qwen25, QUESTION, GenerationParams(max_new_tokens=40, seed=1), logits_processors=[no_eos(tiny_qwen25)]
    )
    recorder = ReplyRecorder(store, message_id, loaded=tiny_qwen25, interval_s=0.0)
    shown: list[str] = []
    seen_while_streaming: list[tuple[str, str]] = []

    def write_then_stop(pieces):
        for piece in pieces:
            shown.append(piece)
            saved = store.get(chat_id).messages[-1]
            seen_while_streaming.append((saved.status, saved.content))
            if len(shown) == 3:
                raise StopException()

    with pytest.raises(StopException):
        consume_stream(stream, recorder, write=write_then_stop)

    saved = store.get(chat_id).messages[-1]
    assert saved.status == "stopped"
    assert saved.content == "".join(shown)
    assert saved.metrics["stop_reason"] == "cancelled"
    assert 3 <= saved.metrics["completion_tokens"] < 40  # a token may decode to no text yet (partial UTF-8)
    assert not tiny_qwen25.lock.locked()
    assert seen_while_streaming[-1] == ("streaming", "".join(shown))
    assert recorder.saves >= 3


def test_complete_reply_is_saved_with_metrics_and_logprobs(tiny_qwen25):
    """A stream that ends on its own is saved "complete" with the engine's metrics and one
    log-probability entry per generated token."""
    store = ConversationStore()
    chat_id, message_id = new_reply(store)
    stream = stream_chat(
        tiny_qwen25, QUESTION, GenerationParams(max_new_tokens=5, seed=3, logprobs=True),
        logits_processors=[no_eos(tiny_qwen25)],
    )
    recorder = ReplyRecorder(store, message_id, base_metrics={"model": "tiny"}, loaded=tiny_qwen25)
    status, error = consume_stream(stream, recorder, write=lambda pieces: "".join(pieces))
    saved = store.get(chat_id).messages[-1]
    assert (status, error, saved.status) == ("complete", None, "complete")
    assert saved.content == stream.reply.text
    assert saved.metrics["completion_tokens"] == 5 == len(saved.metrics["logprobs"])
    assert saved.metrics["model"] == "tiny"
    assert "5 tokens" in metrics_line(saved.metrics) and "full context" in metrics_line(saved.metrics)


def test_periodic_saves_follow_the_interval():
    """With a 0.5 s interval and a clock advancing 0.2 s per reading (one reading per chunk, one more
    after each save), saves happen at the 3rd chunk (t=0.6) and the 6th (t=1.4, 0.6 after the save at 0.8)."""
    from core.engine import Chunk

    store = ConversationStore()
    chat_id, message_id = new_reply(store)
    ticks = iter(i * 0.2 for i in range(100))
    recorder = ReplyRecorder(store, message_id, interval_s=0.5, clock=lambda: next(ticks))
    for word in ["a", "b", "c", "d", "e", "f"]:
        recorder.add(Chunk("answer", word))
    assert recorder.saves == 2
    saved = store.get(chat_id).messages[-1]
    assert (saved.content, saved.status) == ("abcdef", "streaming")


def test_build_messages_sends_system_prompt_and_no_reasoning():
    """The system prompt leads; stored reasoning is never sent back; empty failed replies are skipped."""
    from core.conversations import StoredMessage

    history = [
        StoredMessage(1, "user", "hi", "", {}, "complete", 0.0),
        StoredMessage(2, "assistant", "hello", "I should greet", {}, "complete", 0.0),
        StoredMessage(3, "user", "again", "", {}, "complete", 0.0),
        StoredMessage(4, "assistant", "", "", {}, "error", 0.0),
        StoredMessage(5, "user", "and again", "", {}, "complete", 0.0),
    ]
    assert build_messages("Be brief.", history) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
        {"role": "user", "content": "and again"},
    ]
    assert build_messages("  ", history[:1]) == [{"role": "user", "content": "hi"}]


def test_reasoning_is_folded_above_the_answer_with_its_token_count():
    """A reply with reasoning: an expander labelled with the token count holds the reasoning, the
    answer follows as Markdown; a stopped reply says so."""

    def script():
        from core.conversations import StoredMessage
        from ui.chat_view import render_message

        render_message(
            StoredMessage(
                7, "assistant", "The answer is **42**.", "Let me think: 6 x 7.",
                {"reasoning_tokens": 9, "completion_tokens": 20, "ttft_s": 0.5, "decode_tokens_per_s": 10.0},
                "stopped", 0.0,
            )
        )

    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception
    bubble = at.chat_message[0]
    assert bubble.expander[0].label == "Reasoning (9 tokens)"
    assert bubble.expander[0].markdown[0].value == "Let me think: 6 x 7."
    assert bubble.markdown[-1].value == "The answer is **42**."
    captions = [c.value for c in bubble.caption]
    assert any("Stopped" in c for c in captions)
    assert any("20 tokens" in c and "first token 0.50 s" in c and "10.0 tokens/s" in c for c in captions)


def test_model_html_is_never_rendered_as_html():
    """Model text goes through st.markdown without unsafe_allow_html (Streamlit then shows tags as
    text), and the probability view escapes every token, so the only markup is the view's own."""

    def script():
        from core.conversations import StoredMessage
        from ui.chat_view import render_message

        render_message(StoredMessage(1, "assistant", "<script>alert(1)</script><b>bold</b>", "", {}, "complete", 0.0))

    at = AppTest.from_function(script, default_timeout=30).run()
    assert at.chat_message[0].markdown[0].proto.allow_html is False

    hostile = [{"token": '<img src=x onerror="alert(1)">', "logprob": -0.1, "top": [['"><script>', -2.0]]}]
    markup = token_probability_html(hostile)
    assert "<img" not in markup and "<script>" not in markup
    assert html.escape('<img src=x onerror="alert(1)">') in markup
    assert token_probability_table(hostile)["probability"].iloc[0] == pytest.approx(0.9048, abs=1e-4)


def test_live_reasoning_view_streams_then_folds(tiny_qwen3_dir):
    """The tiny Qwen3 is forced (by a logits processor) to write '<think>' + reasoning + '</think>' +
    an answer. Streamed through the same consume_stream + ReasoningView that the Chat page uses, the
    reasoning lands in a status box above the answer, labelled with its token count, and the answer
    is written by st.write_stream."""

    def script(model_dir: str) -> None:
        import streamlit as st
        import torch

        from core.conversations import ConversationStore
        from core.engine import stream_chat
        from core.loading import load
        from core.params import GenerationParams
        from ui.chat_turn import ReasoningView, ReplyRecorder, consume_stream

        loaded = load(model_dir, "fp32", "cpu")
        tok = loaded.tokenizer
        forced = (
            tok.convert_tokens_to_ids(["<think>"]) + tok.encode("step one, step two", add_special_tokens=False)
            + tok.convert_tokens_to_ids(["</think>"]) + tok.encode("forty two", add_special_tokens=False)
            + loaded.eos_token_ids[:1]
        )
        prompt_length: list[int] = []

        def force(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            prompt_length[:] = prompt_length or [input_ids.shape[1]]
            step = input_ids.shape[1] - prompt_length[0]
            target = forced[min(step, len(forced) - 1)]
            out = torch.full_like(scores, -float("inf"))
            out[:, target] = 0.0
            return out

        store = ConversationStore()
        chat_id = store.create()
        store.add_message(chat_id, "user", "What is six times seven?")
        message_id = store.add_message(chat_id, "assistant", "", status="streaming")
        stream = stream_chat(
            loaded, [{"role": "user", "content": "What is six times seven?"}],
            GenerationParams(temperature=0.0, max_new_tokens=40, repetition_penalty=1.0),
            thinking=True, logits_processors=[force],
        )
        with st.chat_message("assistant"):
            view = ReasoningView(st.container())
            recorder = ReplyRecorder(store, message_id, loaded=loaded)
            consume_stream(stream, recorder, on_reasoning=view.update)
            view.finish(recorder.reasoning, recorder.metrics.get("reasoning_tokens"))
        st.session_state["saved"] = store.get(chat_id).messages[-1]

    at = AppTest.from_function(script, args=(str(tiny_qwen3_dir),), default_timeout=60).run()
    assert not at.exception, at.exception
    saved = at.session_state["saved"]
    assert saved.reasoning == "step one, step two" and saved.content == "forty two"
    reasoning_tokens = saved.metrics["reasoning_tokens"]
    assert isinstance(reasoning_tokens, int) and reasoning_tokens > 0
    bubble = at.chat_message[0]
    assert bubble.status[0].label == f"Reasoning ({reasoning_tokens} tokens)"
    assert bubble.status[0].markdown[0].value == "step one, step two"
    assert bubble.markdown[-1].value == "forty two"
