"""Prefix caching for multi-turn chat: keep a conversation's KV cache between turns.

Contract of :class:`PrefixCache`:
- ``take(prompt_ids)`` returns ``(cache, reused)``: the stored KV cache whose
  tokens share the longest prefix with ``prompt_ids``, cropped to that prefix
  (``reused`` tokens), or ``(None, 0)``. At least one prompt token is always
  left to prefill, since the model must produce logits for the next token.
  A taken entry leaves the store, so two streams never share one mutable cache.
- ``put(token_ids, cache)`` stores a cache holding the KV of exactly those tokens.
- Invalidation needs no bookkeeping: a changed system prompt or edited history
  changes the token prefix, so the match (and the reuse) ends where they differ;
  a different model has its own store (one per loaded model).
Entries are bounded in number and in total tokens; the least recently used go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MIN_REUSE_TOKENS = 16  # below this, reuse saves nothing worth the bookkeeping


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def cache_length(cache: Any) -> int:
    return int(cache.get_seq_length())


def crop_cache(cache: Any, keep: int) -> None:
    """Keep the first ``keep`` positions (negative crop = tokens to remove, valid across transformers 4.x/5.x)."""
    remove = cache_length(cache) - keep
    if remove > 0:
        cache.crop(-remove)


@dataclass
class _Entry:
    token_ids: list[int]
    cache: Any


class PrefixCache:
    def __init__(self, max_entries: int = 4, max_total_tokens: int = 65536) -> None:
        self.max_entries = max_entries
        self.max_total_tokens = max_total_tokens
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._next_id = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, prompt_ids: list[int]) -> tuple[Any | None, int]:
        with self._lock:
            best_id, best_len = None, 0
            for entry_id, entry in self._entries.items():
                length = common_prefix_length(entry.token_ids, prompt_ids)
                if length > best_len:
                    best_id, best_len = entry_id, length
            keep = min(best_len, len(prompt_ids) - 1)
            if best_id is None or keep < MIN_REUSE_TOKENS:
                self.misses += 1
                return None, 0
            entry = self._entries.pop(best_id)
            self.hits += 1
        # The entry may hold one token less KV than token ids (the last sampled token is never fed).
        keep = min(keep, cache_length(entry.cache))
        crop_cache(entry.cache, keep)
        return entry.cache, keep

    def put(self, token_ids: list[int], cache: Any) -> None:
        length = cache_length(cache)
        if length == 0:
            return
        with self._lock:
            self._entries[self._next_id] = _Entry(list(token_ids[:length]), cache)
            self._next_id += 1
            while self._entries and (len(self._entries) > self.max_entries or self._total() > self.max_total_tokens):
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _total(self) -> int:
        return sum(len(e.token_ids) for e in self._entries.values())
