"""Prefix caching: later chat turns reuse the KV cache of earlier ones, without changing outputs."""

from __future__ import annotations

import torch

from core.engine import complete
from core.params import GenerationParams
from core.prefix_cache import PrefixCache, common_prefix_length

GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=16)


def _conversation(turns: int) -> list[list[dict]]:
    """Growing message lists: turn k holds k user questions (answers filled in as we go)."""
    return [[{"role": "user", "content": f"question number {k} about topic {k}"}] for k in range(turns)]


def _chat(loaded, turns: int, prefix_cache: bool, system: str = "You are terse."):
    messages = [{"role": "system", "content": system}]
    replies = []
    for k in range(turns):
        messages.append({"role": "user", "content": f"question number {k} about topic {k}"})
        reply = complete(loaded, messages, GREEDY, prefix_cache=prefix_cache)
        replies.append(reply)
        messages.append({"role": "assistant", "content": reply.text})
    return replies


def test_cached_turns_give_identical_greedy_replies(tiny_qwen25):
    """Greedy outputs with the prefix cache equal those without it, token for token, over 5 turns:
    reusing KV for a shared prefix computes the same attention as recomputing it."""
    tiny_qwen25.prefix_cache.clear()
    plain = [r.text for r in _chat(tiny_qwen25, 5, prefix_cache=False)]
    tiny_qwen25.prefix_cache.clear()
    cached = _chat(tiny_qwen25, 5, prefix_cache=True)
    assert [r.text for r in cached] == plain


def test_later_turns_prefill_only_new_tokens(tiny_qwen25):
    """From turn 2 on, most of the prompt comes from the cache: only the new turn is prefilled."""
    tiny_qwen25.prefix_cache.clear()
    replies = _chat(tiny_qwen25, 4, prefix_cache=True)
    assert replies[0].metrics.cached_prompt_tokens == 0
    for reply in replies[1:]:
        assert reply.metrics.cached_prompt_tokens > 0
        assert reply.metrics.prompt_tokens - reply.metrics.cached_prompt_tokens < 40


def test_changed_system_prompt_invalidates(tiny_qwen3):
    """A different system prompt changes the token prefix right after the template header, so
    (almost) nothing is reused: the cache never serves KV computed for other text."""
    tiny_qwen3.prefix_cache.clear()
    _chat(tiny_qwen3, 2, prefix_cache=True, system="You are terse.")
    messages = [{"role": "system", "content": "Completely different instructions here."},
                {"role": "user", "content": "question number 0 about topic 0"}]  # fmt: skip
    reply = complete(tiny_qwen3, messages, GREEDY)
    assert reply.metrics.cached_prompt_tokens == 0  # shared header is shorter than the reuse minimum


def test_store_crops_to_the_common_prefix():
    """take() crops a stored cache to the shared prefix and always leaves one token to prefill."""
    from transformers import DynamicCache

    cache = DynamicCache()
    keys = torch.zeros(1, 2, 40, 4)
    cache.update(keys, keys.clone(), layer_idx=0)
    store = PrefixCache()
    ids = list(range(40))
    store.put(ids, cache)
    taken, reused = store.take(ids[:30] + [999, 998])
    assert reused == 30 and taken.get_seq_length() == 30
    assert len(store) == 0  # taken entries leave the store
    store.put(ids, taken)  # only 30 tokens of KV: the entry keeps 30 ids
    taken, reused = store.take(ids[:30])
    assert reused == 29  # identical prompt: the last token is prefilled again for its logits


def test_bounded_entries_and_prefix_helper():
    """The store keeps at most max_entries (LRU); the prefix helper is exact."""
    from transformers import DynamicCache

    store = PrefixCache(max_entries=2)
    for offset in range(3):
        cache = DynamicCache()
        cache.update(torch.zeros(1, 1, 20, 2), torch.zeros(1, 1, 20, 2), layer_idx=0)
        store.put([offset] * 20, cache)
    assert len(store) == 2
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
