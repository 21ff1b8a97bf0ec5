"""Parameter validation, context fitting and the think-block splitter (no model weights needed
except the tiny tokenizers for context fitting)."""

from __future__ import annotations

import random

import pytest

from core.context import count_prompt_tokens, fit_messages
from core.errors import ContextOverflowError, InvalidParameterError
from core.params import GenerationParams, recommended_params
from core.thinking import ThinkSplitter, split_reply


@pytest.mark.parametrize(
    "field,value",
    [
        ("temperature", -0.1), ("temperature", 2.5), ("temperature", float("nan")), ("temperature", "hot"),
        ("top_p", 0.0), ("top_p", 1.5), ("top_k", -1), ("top_k", 2.5), ("repetition_penalty", 0.0),
        ("max_new_tokens", 0), ("max_new_tokens", 10**9), ("seed", -1), ("seed", True),
        ("stop", "not-a-list"), ("stop", ("",)), ("stop", ("x" * 65,)), ("stop", tuple("abcdefghi")),
    ],
)  # fmt: skip
def test_invalid_values_name_the_field(field, value):
    """Every out-of-range or mistyped value is refused with a message naming the field."""
    with pytest.raises(InvalidParameterError) as info:
        GenerationParams(**{field: value})
    assert field in info.value.message


def test_from_dict_rejects_unknown_fields_and_round_trips():
    """Options forbid unknown keys (a typo is an error, not silently ignored) and survive JSON."""
    params = GenerationParams(temperature=0.0, stop=("END",), seed=3)
    assert GenerationParams.from_dict(params.to_dict()) == params
    with pytest.raises(InvalidParameterError, match="temprature"):
        GenerationParams.from_dict({"temprature": 0.5})


def test_recommended_values_follow_qwen():
    """Qwen3 thinking: 0.6/0.95/20; non-thinking: 0.7/0.8/20; Qwen2.5 takes the checkpoint's values."""
    thinking = recommended_params("qwen3", thinking=True)
    plain = recommended_params("qwen3", thinking=False)
    assert (thinking.temperature, thinking.top_p, thinking.top_k) == (0.6, 0.95, 20)
    assert (plain.temperature, plain.top_p, plain.top_k) == (0.7, 0.8, 20)
    qwen25 = recommended_params("qwen2.5", generation_defaults={"repetition_penalty": 1.1, "top_k": 20})
    assert qwen25.repetition_penalty == 1.1
    assert recommended_params("qwen2.5", generation_defaults={"temperature": 99}).temperature == 0.7


# --- context -------------------------------------------------------------------------------------


def _chat(turns: int, words: int = 20) -> list[dict]:
    messages = [{"role": "system", "content": "You are terse."}]
    for i in range(turns):
        messages.append({"role": "user", "content": f"question {i} " + "word " * words})
        messages.append({"role": "assistant", "content": f"answer {i} " + "text " * words})
    messages.append({"role": "user", "content": "and finally?"})
    return messages


def test_fit_keeps_everything_when_it_fits(tiny_qwen25):
    """A short chat is left alone and the meter's parts add up."""
    messages = _chat(1, words=3)
    fit = fit_messages(tiny_qwen25.tokenizer, messages, 512, 64)
    assert fit.messages == messages and not fit.trimmed
    assert fit.prompt_tokens == count_prompt_tokens(tiny_qwen25.tokenizer, messages)
    assert fit.system_tokens + fit.history_tokens == fit.prompt_tokens
    assert fit.free_tokens == 512 - fit.prompt_tokens - 64


def test_fit_drops_oldest_whole_turns_first(tiny_qwen25):
    """Trimming removes user+assistant pairs from the oldest end; system prompt and last user stay,
    and the kept tail is contiguous, so the model never sees an answer without its question."""
    messages = _chat(20)
    fit = fit_messages(tiny_qwen25.tokenizer, messages, 512, 64)
    assert fit.trimmed
    assert fit.messages[0] == messages[0] and fit.messages[-1] == messages[-1]
    assert fit.dropped_indices == list(range(1, 1 + len(fit.dropped_indices)))
    assert len(fit.dropped_indices) % 2 == 0
    assert fit.messages[1]["role"] == "user"
    assert fit.prompt_tokens + 64 <= 512
    assert fit.dropped_tokens > 0


def test_fit_overflow_and_budget_errors(tiny_qwen25):
    """A last message that alone exceeds the window, or a reply budget bigger than the window, is a
    clear error rather than a silent truncation."""
    with pytest.raises(ContextOverflowError, match="exceed"):
        fit_messages(tiny_qwen25.tokenizer, [{"role": "user", "content": "word " * 900}], 512, 64)
    with pytest.raises(ContextOverflowError, match="max_new_tokens"):
        fit_messages(tiny_qwen25.tokenizer, [{"role": "user", "content": "hi"}], 512, 512)


def test_system_prompt_only_first(tiny_qwen25):
    """A system message in the middle is a caller error (templates would misplace it)."""
    bad = [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}, {"role": "user", "content": "c"}]
    with pytest.raises(InvalidParameterError, match="first"):
        fit_messages(tiny_qwen25.tokenizer, bad, 512, 64)


# --- thinking ---------------------------------------------------------------------------------


REPLIES = [
    ("<think>\nstep one\nstep two\n</think>\n\nThe answer.", "step one\nstep two", "The answer."),
    ("No thinking here.", "", "No thinking here."),
    ("<think>\n\n</think>\n\nJust the answer.", "", "Just the answer."),
    ("<think>unfinished reasoning", "unfinished reasoning", ""),
    ("Answer that mentions <think> later.", "", "Answer that mentions <think> later."),
    ("  <think>x</think>y", "x", "y"),
    ("<thi", "", "<thi"),
]


@pytest.mark.parametrize("text,reasoning,answer", REPLIES)
def test_split_whole_reply(text, reasoning, answer):
    """The block at the start is reasoning; everything after it is the answer, tags removed."""
    assert split_reply(text) == (reasoning, answer)


@pytest.mark.parametrize("text,reasoning,answer", REPLIES)
def test_split_is_independent_of_chunking(text, reasoning, answer):
    """Streaming must give the same split whatever the chunk boundaries (tags cut anywhere)."""
    rng = random.Random(0)
    for _ in range(50):
        splitter = ThinkSplitter()
        pieces = []
        i = 0
        while i < len(text):
            j = i + rng.randint(1, 4)
            pieces += splitter.feed(text[i:j])
            i = j
        pieces += splitter.flush()
        assert "".join(t for k, t in pieces if k == "reasoning") == reasoning
        assert "".join(t for k, t in pieces if k == "answer") == answer


def test_reply_that_starts_inside_the_block():
    """Templates that pre-fill '<think>\\n' make the reply start in reasoning, closed by '</think>'."""
    assert split_reply("thinking...\n</think>\n\nDone.", starts_in_reasoning=True) == ("thinking...", "Done.")
