"""The in-process llama.cpp engine (core/llama_engine.py) on the real offline 0.5B GGUF.

Skipped when llama-cpp-python is not installed (`make llama`), unless ``PLAYGROUND_REQUIRE_LLAMA=1``
(then its absence fails); the offline bundle follows the same rule as the ``offline_model`` fixture.
Replies are kept short so the file runs in well under a minute on two cores.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
import torch
from transformers import LogitsProcessor

from core.context import render_prompt
from core.engine import complete, stream_chat
from core.errors import CorruptModelError, PlaygroundError, QuantizationUnavailableError
from core.llama_engine import MISSING_NOTICE, LlamaContext, available
from core.loading import Source, load, runs_in_llama
from core.params import GenerationParams
from tests.conftest import OFFLINE_ALIAS, offline_bundle_available

pytestmark = pytest.mark.offline_model
GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=24)
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
ADD = [{"role": "user", "content": "Write a Python function that adds two numbers."}]


def _require_llama() -> None:
    if available():
        return
    if os.environ.get("PLAYGROUND_REQUIRE_LLAMA") == "1":
        pytest.fail("llama-cpp-python is not installed; run `make llama`.")
    pytest.skip("llama-cpp-python is not installed (make llama)")


@pytest.fixture(scope="module")
def llama_model():
    _require_llama()
    if not offline_bundle_available():
        if os.environ.get("PLAYGROUND_REQUIRE_OFFLINE_MODEL") == "1":
            pytest.fail(f"{OFFLINE_ALIAS} is not fetched; run `python -m core fetch {OFFLINE_ALIAS}`.")
        pytest.skip(f"{OFFLINE_ALIAS} not fetched (python -m core fetch {OFFLINE_ALIAS})")
    loaded = load(OFFLINE_ALIAS, "gguf", "cpu")
    yield loaded
    loaded.unload()


def _prompt_ids(loaded, messages) -> list[int]:
    tok = loaded.tokenizer
    return tok(render_prompt(tok, messages), add_special_tokens=False)["input_ids"]


class ForceTokens(LogitsProcessor):
    """Forces ``token_ids`` in order after the prompt (transformers' processor interface)."""

    def __init__(self, prompt_length: int, token_ids: list[int]) -> None:
        self.prompt_length, self.token_ids = prompt_length, token_ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        if step < len(self.token_ids):
            forced = torch.full_like(scores, float("-inf"))
            forced[:, self.token_ids[step]] = 0.0
            return forced
        return scores


class Identity(LogitsProcessor):
    """Leaves the scores alone: only its presence routes sampling through transformers' processors."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores


# --- answers and determinism -------------------------------------------------------------------------


def test_capital_of_france_and_metrics(llama_model):
    """The greedy answer names Paris; the metrics are those of the transformers engine: prompt tokens
    equal the HF tokenizer's count of the rendered prompt, every kept token is counted, and the timings
    and peak RSS (which holds at least the mapped weights) are measured."""
    assert llama_model.engine == "llama.cpp" and llama_model.quant == "gguf" and llama_model.model is None
    reply = complete(llama_model, FRANCE, GREEDY, prefix_cache=False)
    assert "Paris" in reply.text
    m = reply.metrics
    assert m.stop_reason == "eos" and m.device == "cpu"
    assert m.prompt_tokens == len(_prompt_ids(llama_model, FRANCE))
    assert m.completion_tokens == len(llama_model.tokenizer(reply.text, add_special_tokens=False)["input_ids"])
    assert m.ttft_s is not None and m.ttft_s > 0 and m.decode_tokens_per_s is not None and m.decode_tokens_per_s > 0
    assert m.peak_memory_bytes > Path(llama_model.source).stat().st_size / 2
    assert m.cached_prompt_tokens == 0  # prefix_cache=False: the whole prompt was evaluated


def test_greedy_is_identical_across_runs_and_reuses_the_prompt_kv(llama_model):
    """Greedy decoding is deterministic: two cold runs give the same text. A third run of the same prompt
    with prefix reuse keeps the KV of all prompt tokens but the last (which is fed again for its logits)."""
    params = GREEDY.with_(max_new_tokens=20)
    first = complete(llama_model, ADD, params, prefix_cache=False)
    second = complete(llama_model, ADD, params, prefix_cache=False)
    assert first.text == second.text and first.metrics.completion_tokens > 0
    third = complete(llama_model, ADD, params, prefix_cache=True)
    assert third.metrics.cached_prompt_tokens == third.metrics.prompt_tokens - 1


def test_next_turn_reuses_the_previous_turn(llama_model):
    """A follow-up turn starts with the previous prompt and reply, so llama.cpp keeps their KV and only
    evaluates the new tokens: the reused count is at least the previous prompt's length."""
    first = complete(llama_model, FRANCE, GREEDY)
    turn = FRANCE + [{"role": "assistant", "content": first.text}, {"role": "user", "content": "And of Italy?"}]
    second = complete(llama_model, turn, GREEDY)
    assert second.metrics.cached_prompt_tokens >= first.metrics.prompt_tokens
    assert second.metrics.cached_prompt_tokens < second.metrics.prompt_tokens


def test_seeded_sampling_is_reproducible(llama_model):
    """With temperature > 0 the seed drives llama.cpp's draw: the same seed gives the same reply."""
    params = GenerationParams(temperature=1.0, top_p=0.9, top_k=40, max_new_tokens=16, seed=11)
    a = complete(llama_model, ADD, params, prefix_cache=False)
    b = complete(llama_model, ADD, params, prefix_cache=False)
    assert a.text == b.text and a.metrics.completion_tokens > 0


def test_repetition_penalty_matches_transformers_processors(llama_model):
    """llama.cpp's sampler chain applies the repetition penalty like transformers (over the whole
    history, prompt included): greedy with a strong penalty picks the same tokens as transformers'
    own processors applied to llama.cpp's logits (the path taken when any logits processor is given)."""
    params = GREEDY.with_(repetition_penalty=1.5, max_new_tokens=16)
    native = complete(llama_model, ADD, params, prefix_cache=False)
    stream = stream_chat(llama_model, ADD, params, prefix_cache=False, logits_processors=[Identity()])
    for _ in stream:
        pass
    assert native.text == stream.reply.text and native.metrics.completion_tokens > 0


def test_logprobs_come_from_llama_cpp_logits(llama_model):
    """With logprobs on, every kept token has a log-probability ≤ 0 and five alternatives in falling
    order; under greedy decoding the chosen token is the most likely one."""
    reply = complete(llama_model, FRANCE, GREEDY.with_(logprobs=True, max_new_tokens=8), prefix_cache=False)
    assert reply.logprobs is not None and len(reply.logprobs) == reply.metrics.completion_tokens > 0
    for entry in reply.logprobs:
        values = [v for _, v in entry.top]
        assert len(values) == 5 and values == sorted(values, reverse=True) and entry.logprob <= 0
        assert entry.logprob == pytest.approx(values[0], abs=1e-5)


# --- stop strings, cancel, thinking ---------------------------------------------------------------------


def test_stop_string_cuts_the_answer(llama_model):
    """A stop string taken from the unstopped greedy answer cuts the reply just before it."""
    full = complete(llama_model, FRANCE, GREEDY, prefix_cache=False).text
    stop = "Paris" if "Paris" in full else full.split()[-1]
    reply = complete(llama_model, FRANCE, GREEDY.with_(stop=(stop,)), prefix_cache=False)
    assert reply.text == full[: full.index(stop)]
    assert reply.metrics.stop_reason == "stop"


def test_cancel_stops_within_one_token(llama_model):
    """Cancel is checked before every token: after cancel.set() no further token is produced."""
    cancel = threading.Event()
    stream = stream_chat(llama_model, ADD, GREEDY.with_(max_new_tokens=40), cancel=cancel, ignore_eos=True)
    at_cancel = None
    for chunk in stream:
        if chunk.kind == "answer" and stream.reply.metrics.completion_tokens >= 3 and at_cancel is None:
            cancel.set()
            at_cancel = stream.reply.metrics.completion_tokens
    assert at_cancel is not None
    assert stream.reply.metrics.completion_tokens == at_cancel
    assert stream.reply.metrics.stop_reason == "cancelled" and stream.reply.stopped


def test_inline_think_block_is_split(llama_model):
    """Forcing '<think>…</think>answer<|im_end|>' through the real tokenizer, the llama.cpp engine
    delivers the reasoning separately and the answer without the tags (same splitter as transformers)."""
    tok = llama_model.tokenizer
    script = "<think>\nrecall the map\n</think>\n\nParis."
    forced = tok(script, add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids("<|im_end|>")]
    processor = ForceTokens(len(_prompt_ids(llama_model, FRANCE)), forced)
    stream = stream_chat(llama_model, FRANCE, GREEDY.with_(max_new_tokens=40), logits_processors=[processor])
    kinds = {c.kind for c in stream}
    assert stream.reply.reasoning == "recall the map"
    assert stream.reply.text == "Paris."
    assert kinds == {"reasoning", "answer"} and stream.reply.metrics.stop_reason == "eos"


def test_interleaved_streams_on_one_model_do_not_mix(llama_model):
    """Compare advances two replies on the same model in turn, in one thread: each gets its own llama.cpp
    context, so each text equals the same reply run alone; afterwards one idle context is kept."""
    params = GREEDY.with_(max_new_tokens=12)
    alone = [complete(llama_model, m, params, prefix_cache=False).text for m in (FRANCE, ADD)]
    streams = [stream_chat(llama_model, m, params, prefix_cache=False) for m in (FRANCE, ADD)]
    iterators = [iter(s) for s in streams]
    live = list(iterators)
    while live:
        for it in list(live):
            if next(it, None) is None:
                live.remove(it)
    assert [s.reply.text for s in streams] == alone
    assert llama_model.backend.contexts_opened >= 2 and llama_model.backend.idle_contexts == 1


# --- selection and errors --------------------------------------------------------------------------------


def test_selection_rules(monkeypatch):
    """auto picks llama.cpp only for a GGUF on the CPU; an explicit precision keeps transformers; gguf on a
    non-GGUF model is refused with a hint. Without llama_cpp (its import fails), auto falls back to
    transformers with a notice saying what llama.cpp would gain, and gguf is refused with `make llama`."""
    _require_llama()
    gguf, folder = Source("/m", gguf_file="x.gguf"), Source("/m")
    notices: list[str] = []
    assert runs_in_llama("auto", "cpu", gguf, notices) and notices == []
    assert not runs_in_llama("fp32", "cpu", gguf, notices)
    assert not runs_in_llama("auto", "cuda", gguf, notices)
    assert not runs_in_llama("auto", "cpu", folder, notices)
    assert runs_in_llama("gguf", "cpu", gguf, notices)
    with pytest.raises(QuantizationUnavailableError, match="not a GGUF"):
        runs_in_llama("gguf", "cpu", folder, [])
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now raises ImportError
    assert not available()
    assert not runs_in_llama("auto", "cpu", gguf, notices) and notices == [MISSING_NOTICE]
    assert "2x faster" in MISSING_NOTICE and "make llama" in MISSING_NOTICE
    with pytest.raises(QuantizationUnavailableError) as info:
        runs_in_llama("gguf", "cpu", gguf, [])
    assert "make llama" in info.value.hint


def test_auto_loads_the_offline_bundle_in_llama_cpp(llama_model):
    """The app default (quant auto, CPU) on the offline GGUF is served by llama.cpp, with a notice."""
    loaded = load(OFFLINE_ALIAS, "auto", "cpu")
    try:
        assert loaded.engine == "llama.cpp" and loaded.quant == "gguf" and loaded.device == "cpu"
        assert loaded.memory_bytes >= Path(loaded.source).stat().st_size
        assert any("llama.cpp" in n for n in loaded.notices)
    finally:
        loaded.unload()


@pytest.mark.slow
def test_auto_without_llama_cpp_falls_back_to_transformers(llama_model, monkeypatch):
    """With llama_cpp hidden, the same load runs the GGUF through transformers (fp32) and says why."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    loaded = load(OFFLINE_ALIAS, "auto", "cpu")
    try:
        assert loaded.engine == "transformers" and loaded.quant == "fp32" and loaded.model is not None
        assert MISSING_NOTICE in loaded.notices
    finally:
        loaded.unload()


def test_unloaded_model_says_so(llama_model):
    """After unload the contexts are freed, and a new reply fails with a clear message instead of crashing."""
    loaded = load(OFFLINE_ALIAS, "gguf", "cpu")
    loaded.unload()
    with pytest.raises(PlaygroundError, match="unloaded"):
        complete(loaded, FRANCE, GREEDY)


@pytest.mark.parametrize("content", [b"not a gguf at all" * 64, "truncated"])
def test_bad_gguf_file_is_a_clear_error(llama_model, tmp_path, content):
    """A file that is not GGUF, or a truncated one, is refused with a typed error carrying a hint: by the
    loader (the tokenizer is read from the file first) and by llama.cpp itself."""
    path = tmp_path / "broken.gguf"
    if content == "truncated":
        with open(llama_model.source, "rb") as source:
            path.write_bytes(source.read(4 << 20))
    else:
        path.write_bytes(content)
    with pytest.raises(CorruptModelError) as info:
        load(str(path), "gguf", "cpu")
    assert "could not be read" in info.value.message and "fetch" in info.value.hint
    with pytest.raises(CorruptModelError) as info:
        LlamaContext(str(path), 512, 1)
    assert "llama.cpp could not read" in info.value.message and info.value.hint


@pytest.mark.slow
def test_compare_runs_gguf_next_to_fp32(llama_model):
    """Compare can put llama.cpp (gguf) next to transformers (fp32) for the same GGUF: both panes answer
    the same question, each from its own engine, in one interleaved run."""
    from core.compare import PaneConfig, run_comparison
    from core.pool import ModelPool

    pool = ModelPool(max_models=2)
    panes = {q: PaneConfig(model=OFFLINE_ALIAS, quant=q, device="cpu", params=GREEDY, label=q) for q in ("gguf", "fp32")}
    states: dict = {}
    try:
        for _ in run_comparison(pool, panes, states, "What is the capital of France?"):
            pass
        engines = {q: pool.peek(OFFLINE_ALIAS, q, "cpu").engine for q in panes}
        assert engines == {"gguf": "llama.cpp", "fp32": "transformers"}
        for q in panes:
            assert states[q].error is None and "Paris" in states[q].reply, (q, states[q].reply)
    finally:
        for q in panes:
            pool.unload(OFFLINE_ALIAS, q, "cpu")
