"""The static-cache fast path, checked on the CPU (forced, eager) against the dynamic path.

On CUDA the same decoder compiles its step into a CUDA graph; here we check what can be
checked without a GPU: identical greedy tokens, prefix reuse in the static cache, busy
handling for interleaved streams, and the clean fallback when the fast path fails."""

from __future__ import annotations

import pytest

from core import fast_path
from core.engine import complete, stream_chat
from core.loading import load
from core.params import GenerationParams

GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=20)
# Greedy with a repetition penalty: deterministic, yet varied text from a random tiny model.
# (Seeded sampling is not used to compare paths: float differences of 1e-7 between static and
# dynamic attention can flip a multinomial draw near a tie; greedy argmax is robust to that.)
VARIED = GenerationParams(temperature=0.0, repetition_penalty=1.3, max_new_tokens=20)
ASK = [{"role": "user", "content": "Tell me about the weather in Paris."}]


@pytest.fixture
def fresh(tiny_qwen25_dir):
    """A model of its own: the fast decoder is per model and these tests change its state."""
    return load(str(tiny_qwen25_dir), "fp32", "cpu")


def _chat(loaded, turns):
    messages, texts = [], []
    for k in range(turns):
        messages.append({"role": "user", "content": f"question {k} about the sea and the sky"})
        reply = complete(loaded, messages, VARIED)
        texts.append(reply)
        messages.append({"role": "assistant", "content": reply.text})
    return texts


def test_choose_rules(monkeypatch):
    """Auto uses the fast path on CUDA for float weights only; off/force override; bnb never."""
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "auto")
    assert fast_path.choose("cuda", "bf16")[0] is True
    assert fast_path.choose("cpu", "fp32")[0] is False
    assert fast_path.choose("cuda", "nf4")[0] is False
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "off")
    assert fast_path.choose("cuda", "bf16")[0] is False
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "force")
    assert fast_path.choose("cpu", "fp32")[0] is True


def test_static_path_matches_dynamic_over_turns(fresh, monkeypatch):
    """Greedy decoding on the same model: the static cache (with its own prefix reuse across turns) produces the
    same tokens as the dynamic cache, turn after turn."""
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "off")
    dynamic = [r.text for r in _chat(fresh, 3)]
    fresh.prefix_cache.clear()
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "force")
    fast = _chat(fresh, 3)
    assert [r.text for r in fast] == dynamic
    assert fresh.fast_decoder is not None and "forced" in fresh.fast_path_note
    assert fast[2].metrics.cached_prompt_tokens > 0


def test_interleaved_streams_do_not_share_the_static_cache(fresh, monkeypatch):
    """While one stream holds the static decoder, a second stream on the same model takes the dynamic
    path; both equal their solo replies."""
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "force")
    other = [{"role": "user", "content": "something else entirely"}]
    solo = (complete(fresh, ASK, GREEDY).text, complete(fresh, other, GREEDY).text)
    a, b = stream_chat(fresh, ASK, GREEDY), stream_chat(fresh, other, GREEDY)
    ia, ib = iter(a), iter(b)
    pending = {0: ia, 1: ib}
    while pending:
        for key in list(pending):
            try:
                next(pending[key])
            except StopIteration:
                del pending[key]
    assert (a.reply.text, b.reply.text) == solo
    assert fresh.fast_decoder.busy is False


def test_failure_falls_back_cleanly(fresh, monkeypatch):
    """If the fast step raises mid-reply (as a compile failure would), the reply continues on the
    dynamic path with the same tokens, and the model remembers not to try again."""
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "off")
    expected = complete(fresh, ASK, GREEDY).text
    monkeypatch.setenv("PLAYGROUND_FAST_PATH", "force")

    def broken(self, token):
        raise RuntimeError("simulated compile failure")

    monkeypatch.setattr(fast_path.StaticDecoder, "step", broken)
    reply = complete(fresh, ASK, GREEDY, prefix_cache=False)
    assert reply.text == expected
    assert fresh.fast_path_failed.startswith("fast path failed")
    assert complete(fresh, ASK, GREEDY).text == expected  # stays on the dynamic path


@pytest.mark.slow
def test_compiled_step_matches_eager(tiny_qwen25_dir):
    """torch.compile of the one-token step (inductor on the CPU here; CUDA graphs on a GPU) gives
    the same greedy tokens as the eager step."""
    loaded = load(str(tiny_qwen25_dir), "fp32", "cpu")
    eager = fast_path.StaticDecoder(loaded.model, max_cache_len=256, compile_step=False)
    compiled = fast_path.StaticDecoder(loaded.model, max_cache_len=256, compile_step=True)
    ids = loaded.tokenizer("hello there, how are you", return_tensors="pt")["input_ids"]
    outs = []
    for decoder in (eager, compiled):
        logits = decoder.prefill(ids, 0)
        tokens = []
        for _ in range(8):
            token = logits.argmax(-1)
            tokens.append(int(token))
            logits = decoder.step(token)
        outs.append(tokens)
    assert outs[0] == outs[1]
