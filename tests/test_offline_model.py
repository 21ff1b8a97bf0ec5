"""The real Qwen2.5-Coder-0.5B-Instruct (offline GGUF bundle), loaded once per session.

These check real behaviour, so they need real weights: `make test` fetches the bundle.
"""

from __future__ import annotations

import pytest
import torch

from core.context import render_prompt
from core.engine import complete, stream_chat
from core.params import GenerationParams

pytestmark = pytest.mark.offline_model
GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=48)
FRENCH_WORDS = {"le", "la", "les", "est", "de", "des", "une", "un", "et", "en", "du", "capitale"}


def test_capital_of_france(offline_model):
    """The model card's most basic fact: the answer names Paris."""
    reply = complete(offline_model, [{"role": "user", "content": "What is the capital of France?"}], GREEDY)
    assert "Paris" in reply.text
    assert reply.metrics.stop_reason == "eos"


def test_follows_a_french_system_prompt(offline_model):
    """Asked by the system prompt to answer in French, the reply is mostly French function words."""
    messages = [
        {"role": "system", "content": "You are a helpful assistant. Always answer in French."},
        {"role": "user", "content": "What is the capital of Italy?"},
    ]
    reply = complete(offline_model, messages, GREEDY)
    words = {w.strip(".,!?'’").lower() for w in reply.text.split()}
    assert len(words & FRENCH_WORDS) >= 2, reply.text
    assert "Rome" in reply.text


@pytest.fixture(scope="module")
def offline_fp32(offline_model):
    """The same bundle through transformers (fp32), whatever engine the app default picks."""
    from core.loading import load

    loaded = load(offline_model.name, "fp32", "cpu")
    yield loaded
    loaded.unload()


def test_streamed_equals_non_streamed_and_generate(offline_fp32):
    """Greedy decoding is deterministic: the streamed pieces, the final text, and transformers'
    own generate() all give the same reply (the transformers engine, asked for explicitly)."""
    offline_model = offline_fp32
    messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    params = GREEDY.with_(max_new_tokens=40)
    stream = stream_chat(offline_model, messages, params)
    streamed = "".join(c.text for c in stream if c.kind == "answer")
    plain = complete(offline_model, messages, params).text
    tok = offline_model.tokenizer
    ids = tok(render_prompt(tok, messages), add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = offline_model.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                       max_new_tokens=40, eos_token_id=offline_model.eos_token_ids)  # fmt: skip
    reference = tok.decode([t for t in out[0, ids.shape[1]:].tolist() if t not in offline_model.eos_token_ids])
    assert streamed == stream.reply.text == plain == reference
