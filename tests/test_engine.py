"""The streaming engine, driven with the tiny random Qwen models.

The tiny models produce gibberish, so these tests never check *what* is said;
they check the engine's contracts against transformers' own ``generate`` and
against themselves (streaming vs not, seeds, cancellation, stop strings).
"""

from __future__ import annotations

import threading

import pytest
import torch
from transformers import LogitsProcessor

from core.context import render_prompt
from core.engine import complete, stream_chat, text_generator
from core.errors import ContextOverflowError, InvalidParameterError
from core.params import GenerationParams

GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=24)
# Greedy decoding of a random tiny model often repeats one token; seeded sampling gives varied,
# still reproducible text where a test needs distinct pieces.
SAMPLED = GenerationParams(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=24, seed=1)
ASK = [{"role": "user", "content": "Tell me about the weather in Paris."}]


class ForceTokens(LogitsProcessor):
    """Forces the model to emit ``token_ids`` in order after the prompt (then lets it continue)."""

    def __init__(self, prompt_length: int, token_ids: list[int]) -> None:
        self.prompt_length = prompt_length
        self.token_ids = token_ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        if step < len(self.token_ids):
            forced = torch.full_like(scores, float("-inf"))
            forced[:, self.token_ids[step]] = 0.0
            return forced
        return scores


def _prompt_ids(loaded, messages, thinking=None) -> torch.Tensor:
    text = render_prompt(loaded.tokenizer, messages, thinking)
    return loaded.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]


def _hf_greedy_ids(loaded, messages, max_new_tokens: int, repetition_penalty: float = 1.0) -> list[int]:
    ids = _prompt_ids(loaded, messages)
    out = loaded.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        repetition_penalty=repetition_penalty,
        eos_token_id=loaded.eos_token_ids,
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    generated = out[0, ids.shape[1] :].tolist()
    return [t for t in generated if t not in loaded.eos_token_ids]


def _engine_ids(loaded, reply) -> list[int]:
    return loaded.tokenizer(reply.text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("family", ["qwen2.5", "qwen3"])
@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_greedy_matches_transformers_generate(family, penalty, tiny_qwen25, tiny_qwen3):
    """Greedy decoding is deterministic, so our prefill/decode loop must pick exactly the
    tokens transformers' own ``generate`` picks, with and without repetition penalty."""
    loaded = tiny_qwen25 if family == "qwen2.5" else tiny_qwen3
    params = GREEDY.with_(repetition_penalty=penalty)
    reply = complete(loaded, ASK, params, thinking=False if family == "qwen3" else None)
    expected = _hf_greedy_ids(loaded, ASK if family == "qwen2.5" else ASK, params.max_new_tokens, penalty)
    if family == "qwen3":  # the engine passed enable_thinking=False: compare on the same prompt
        ids = _prompt_ids(loaded, ASK, thinking=False)
        out = loaded.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=params.max_new_tokens,
            do_sample=False,
            repetition_penalty=penalty,
            eos_token_id=loaded.eos_token_ids,
            pad_token_id=loaded.tokenizer.pad_token_id,
        )
        expected = [t for t in out[0, ids.shape[1] :].tolist() if t not in loaded.eos_token_ids]
    assert reply.metrics.completion_tokens == len(expected)
    assert loaded.tokenizer.decode(expected) == reply.text


def test_streamed_chunks_equal_final_text(tiny_qwen25):
    """The stream yields exactly the pieces that make up reply.text: nothing lost, nothing doubled."""
    stream = stream_chat(tiny_qwen25, ASK, SAMPLED)
    pieces = [c.text for c in stream if c.kind == "answer"]
    assert "".join(pieces) == stream.reply.text
    assert len(pieces) > 1  # really streamed, not one blob at the end


def test_same_seed_same_sample_and_different_seeds_differ(tiny_qwen25):
    """Sampling with a seeded generator is reproducible; at temperature 1.5 over a random model
    two seeds almost surely diverge within 24 tokens."""
    params = GenerationParams(temperature=1.5, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=24)
    a = complete(tiny_qwen25, ASK, params.with_(seed=7)).text
    b = complete(tiny_qwen25, ASK, params.with_(seed=7)).text
    c = complete(tiny_qwen25, ASK, params.with_(seed=8)).text
    assert a == b
    assert a != c


def test_top_k_one_and_tiny_top_p_reduce_to_greedy(tiny_qwen25):
    """With top_k=1 (or top_p so small only the best token survives) sampling has one candidate,
    so any temperature and seed gives the greedy reply."""
    greedy = complete(tiny_qwen25, ASK, GREEDY).text
    top_k = complete(tiny_qwen25, ASK, GREEDY.with_(temperature=1.3, top_k=1, seed=3)).text
    top_p = complete(tiny_qwen25, ASK, GREEDY.with_(temperature=0.9, top_k=0, top_p=1e-6, seed=4)).text
    assert greedy == top_k == top_p


def test_max_new_tokens_stops_with_length(tiny_qwen25):
    """A budget of 5 tokens yields at most 5 and reports why it stopped."""
    reply = complete(tiny_qwen25, ASK, GREEDY.with_(max_new_tokens=5))
    assert reply.metrics.completion_tokens <= 5
    assert reply.metrics.stop_reason in {"length", "eos"}
    if reply.metrics.stop_reason == "length":
        assert reply.metrics.completion_tokens == 5


def test_stop_string_cuts_the_answer(tiny_qwen25):
    """A stop string taken from the middle of the greedy reply must cut the reply right before it."""
    full = complete(tiny_qwen25, ASK, SAMPLED).text
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    assert stop.strip(), "the sampled reply should have non-space text in its middle"
    reply = complete(tiny_qwen25, ASK, SAMPLED.with_(stop=(stop,)))
    assert reply.metrics.stop_reason == "stop"
    assert reply.text == full[: full.index(stop)]
    assert stop not in reply.text


def test_cancel_event_stops_within_one_token(tiny_qwen25):
    """The cancel event is checked before each token: set after the 3rd token, the reply has 3 tokens
    (or one more, when a multi-byte character held a piece back) and is marked cancelled."""
    cancel = threading.Event()
    stream = stream_chat(tiny_qwen25, ASK, SAMPLED.with_(max_new_tokens=64), cancel=cancel)
    seen = 0
    for chunk in stream:
        seen += 1
        if stream.reply.metrics.completion_tokens >= 3:
            cancel.set()
    assert stream.reply.metrics.stop_reason == "cancelled"
    assert stream.reply.metrics.completion_tokens in (3, 4)
    assert seen >= 1


def test_closing_the_stream_keeps_partial_text_and_frees_the_model(tiny_qwen25):
    """A consumer that walks away (Streamlit stop) closes the generator: the partial reply is kept,
    marked cancelled, and the model lock is released for the next caller."""
    stream = stream_chat(tiny_qwen25, ASK, SAMPLED.with_(max_new_tokens=64))
    iterator = iter(stream)
    first = next(iterator)
    stream.close()
    assert stream.reply.metrics.stop_reason == "cancelled"
    assert stream.reply.text.startswith(first.text)
    assert not tiny_qwen25.lock.locked()


def test_logprobs_have_top_alternatives(tiny_qwen25):
    """With logprobs on, every generated token has its own log-probability and 5 alternatives sorted
    best first; under greedy decoding the chosen token is the top alternative."""
    reply = complete(tiny_qwen25, ASK, GREEDY.with_(logprobs=True, max_new_tokens=8))
    assert reply.logprobs is not None
    assert len(reply.logprobs) == reply.metrics.completion_tokens
    for entry in reply.logprobs:
        values = [lp for _, lp in entry.top]
        assert len(values) == 5 and values == sorted(values, reverse=True)
        assert entry.logprob == pytest.approx(values[0])
        assert entry.logprob <= 0.0


def test_thinking_block_is_split_from_the_answer(tiny_qwen3):
    """Forcing '<think>reasoning</think>answer<|im_end|>' through the real tokenizer, the engine
    must deliver the reasoning separately, and the answer without the tags."""
    tok = tiny_qwen3.tokenizer
    script = "<think>\nweigh the options\n</think>\n\nfinal words"
    forced = tok(script, add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids("<|im_end|>")]
    prompt_len = _prompt_ids(tiny_qwen3, ASK, thinking=True).shape[1]
    stream = stream_chat(
        tiny_qwen3, ASK, GREEDY.with_(max_new_tokens=64), thinking=True,
        logits_processors=[ForceTokens(prompt_len, forced)],
    )  # fmt: skip
    chunks = list(stream)
    assert stream.reply.reasoning == "weigh the options"
    assert stream.reply.text == "final words"
    assert {c.kind for c in chunks} == {"reasoning", "answer"}
    assert stream.reply.metrics.stop_reason == "eos"


def test_qwen3_thinking_off_uses_the_empty_think_prompt(tiny_qwen3):
    """Qwen3's template with enable_thinking=False pre-fills an empty think block; with it on it does not."""
    off = render_prompt(tiny_qwen3.tokenizer, ASK, thinking=False)
    on = render_prompt(tiny_qwen3.tokenizer, ASK, thinking=True)
    assert off.endswith("<think>\n\n</think>\n\n")
    assert on.endswith("<|im_start|>assistant\n")


def test_thinking_flag_is_ignored_for_models_without_it(tiny_qwen25):
    """Qwen2.5 has no thinking mode: asking for it changes nothing."""
    a = complete(tiny_qwen25, ASK, GREEDY, thinking=True).text
    b = complete(tiny_qwen25, ASK, GREEDY).text
    assert a == b


def test_metrics_are_filled(tiny_qwen25):
    """Every metric the UI shows is measured: positive times, token counts, peak memory, device."""
    reply = complete(tiny_qwen25, ASK, GREEDY.with_(max_new_tokens=12))
    m = reply.metrics
    assert m.prompt_tokens > 10
    assert m.completion_tokens >= 1
    assert m.ttft_s is not None and m.ttft_s > 0
    assert m.total_s >= m.ttft_s
    assert m.peak_memory_bytes > 0
    assert m.device == "cpu"
    if m.completion_tokens > 1:
        assert m.decode_tokens_per_s and m.decode_tokens_per_s > 0


def test_context_trimming_is_reported(tiny_qwen25):
    """The tiny model has a 512-token window: a long history must be trimmed and the metrics say so."""
    history = []
    for i in range(30):
        history += [
            {"role": "user", "content": f"question {i} " + "word " * 20},
            {"role": "assistant", "content": f"answer {i} " + "text " * 20},
        ]
    messages = [{"role": "system", "content": "Be brief."}, *history, {"role": "user", "content": "last one"}]
    stream = stream_chat(tiny_qwen25, messages, GREEDY.with_(max_new_tokens=32))
    reply = complete(tiny_qwen25, messages, GREEDY.with_(max_new_tokens=32))
    assert stream.fit.trimmed and reply.metrics.trimmed
    assert reply.metrics.dropped_turns > 0
    assert stream.fit.messages[0]["content"] == "Be brief."
    assert stream.fit.messages[-1]["content"] == "last one"
    assert stream.fit.prompt_tokens + 32 <= tiny_qwen25.context_length


def test_oversized_message_is_a_clear_error(tiny_qwen25):
    """A single message bigger than the window cannot be trimmed: it is refused before streaming."""
    with pytest.raises(ContextOverflowError, match="context window"):
        stream_chat(tiny_qwen25, [{"role": "user", "content": "word " * 2000}], GREEDY)


def test_invalid_conversation_is_refused(tiny_qwen25):
    """Empty conversations and a trailing assistant turn are caller errors with a message."""
    with pytest.raises(InvalidParameterError):
        stream_chat(tiny_qwen25, [], GREEDY)
    with pytest.raises(InvalidParameterError):
        stream_chat(tiny_qwen25, [{"role": "assistant", "content": "hi"}], GREEDY)


def test_concurrent_callers_get_their_own_replies(tiny_qwen25):
    """Four threads share one model: the per-model lock serialises them, so each greedy reply equals
    the one produced alone, and waiting is reported as queue time."""
    prompts = [f"Topic number {i}: describe it." for i in range(4)]
    expected = {p: complete(tiny_qwen25, [{"role": "user", "content": p}], GREEDY).text for p in prompts}
    results: dict[str, str] = {}
    waits: list[float] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(prompts))

    def worker(prompt: str) -> None:
        try:
            barrier.wait()
            reply = complete(tiny_qwen25, [{"role": "user", "content": prompt}], GREEDY)
            results[prompt] = reply.text
            waits.append(reply.metrics.queue_wait_s)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert results == expected
    assert max(waits) > 0.0


def test_text_generator_adapter(tiny_qwen25):
    """The (messages, max_new_tokens) -> str adapter used by rails and RAG is greedy by default."""
    generate = text_generator(tiny_qwen25)
    assert generate(ASK, 10) == complete(tiny_qwen25, ASK, GREEDY.with_(max_new_tokens=10)).text


def test_two_streams_on_one_model_interleave_in_one_thread(tiny_qwen25):
    """Side-by-side panes advance one generator each, in turn, in one thread. The model lock is
    re-entrant for that thread, and each stream has its own KV cache, so both finish and each
    equals the reply it gives alone."""
    first = [{"role": "user", "content": "first question"}]
    second = [{"role": "user", "content": "a different second question"}]
    alone = (complete(tiny_qwen25, first, SAMPLED).text, complete(tiny_qwen25, second, SAMPLED).text)
    streams = [stream_chat(tiny_qwen25, first, SAMPLED), stream_chat(tiny_qwen25, second, SAMPLED)]
    iterators = [iter(s) for s in streams]
    active = set(range(2))
    while active:
        for i in list(active):
            try:
                next(iterators[i])
            except StopIteration:
                active.discard(i)
    assert (streams[0].reply.text, streams[1].reply.text) == alone
    assert not tiny_qwen25.lock.locked()


def test_model_lock_excludes_other_threads_and_releases_anywhere():
    """Another thread cannot take a held lock; a release from a different thread (a generator
    finalised elsewhere) still frees it."""
    from core.loading import ModelLock

    lock = ModelLock()
    assert lock.acquire() and lock.acquire()  # re-entrant in this thread
    result = []
    t = threading.Thread(target=lambda: result.append(lock.acquire(timeout=0.1)))
    t.start()
    t.join()
    assert result == [False]
    releaser = threading.Thread(target=lambda: (lock.release(), lock.release()))
    releaser.start()
    releaser.join()
    assert not lock.locked()


def test_stopped_reply_still_reports_speed(tiny_qwen25):
    """A reply cancelled part-way has produced tokens at a measurable rate: tokens/s is reported."""
    cancel = threading.Event()
    stream = stream_chat(tiny_qwen25, ASK, SAMPLED.with_(max_new_tokens=64), cancel=cancel)
    for _ in stream:
        if stream.reply.metrics.completion_tokens >= 6:
            cancel.set()
    assert stream.reply.metrics.stop_reason == "cancelled"
    assert stream.reply.metrics.decode_tokens_per_s and stream.reply.metrics.decode_tokens_per_s > 0


def test_tokenizer_is_safe_across_threads(tiny_qwen25):
    """The loaded tokenizer serialises calls: many threads encoding at once neither fail
    ("Already borrowed") nor mix results."""
    text = "A sentence to encode, again and again. " * 20
    expected = tiny_qwen25.tokenizer(text, add_special_tokens=False)["input_ids"]
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(30):
                assert tiny_qwen25.tokenizer(text, add_special_tokens=False, truncation=True,
                                             max_length=400)["input_ids"] == expected[:400]  # fmt: skip
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
