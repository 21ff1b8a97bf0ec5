"""The shared model pool: load once per key, bounded LRU, safe under concurrent requests."""

from __future__ import annotations

import threading

import pytest

from core import pool as pool_module
from core.errors import UnknownModelError
from core.pool import ModelPool


def test_same_key_loads_once_even_concurrently(tiny_qwen25_dir, monkeypatch):
    """Eight threads asking for the same model at once trigger one load and share one object."""
    calls = []
    real_load = pool_module.load

    def counting_load(*args, **kwargs):
        calls.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(pool_module, "load", counting_load)
    pool = ModelPool(max_models=2)
    results = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(pool.get(str(tiny_qwen25_dir), "fp32", "cpu"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(calls) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_least_recently_used_is_unloaded(tiny_qwen25_dir, tiny_qwen3_dir):
    """With room for two, loading a third unloads the one used longest ago (its weights dropped)."""
    pool = ModelPool(max_models=2)
    a = pool.get(str(tiny_qwen25_dir), "fp32", "cpu")
    pool.get(str(tiny_qwen3_dir), "fp32", "cpu")
    pool.get(str(tiny_qwen25_dir), "fp32", "cpu")  # a is now most recent
    pool.get(str(tiny_qwen25_dir), "bf16", "cpu")  # evicts qwen3
    keys = [e.key for e in pool.entries()]
    assert (str(tiny_qwen3_dir), "fp32", "cpu") not in keys
    assert len(keys) == 2 and a.model is not None
    assert pool.peek(str(tiny_qwen3_dir), "fp32", "cpu") is None


def test_unload_and_failed_load(tiny_qwen25_dir):
    """Unload frees a key; a failed load raises the typed error and leaves the pool unchanged."""
    pool = ModelPool(max_models=2)
    loaded = pool.get(str(tiny_qwen25_dir), "fp32", "cpu")
    assert pool.unload(str(tiny_qwen25_dir), "fp32", "cpu") is True
    assert loaded.model is None and pool.entries() == []
    with pytest.raises(UnknownModelError):
        pool.get("no-such-model")
    assert pool.entries() == []
