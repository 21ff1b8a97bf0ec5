"""A bounded, thread-safe pool of loaded models, shared by every session of the app.

Contract of :class:`ModelPool`:
- ``get(name, quant, device)`` returns the loaded model for that key, loading
  it at most once even when several threads ask at the same time (the others
  wait for the first load and get the same object).
- At most ``max_models`` local models stay loaded (remote ones, ``remote:NAME``, do not count); loading one more unloads the
  least recently used first (never one that is generating: its lock is held).
- A failed load raises the loader's typed error and leaves nothing behind.
The UI keeps one pool in ``st.cache_resource``; the pool itself knows no UI.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from core.endpoints import REMOTE_PREFIX
from core.loading import LoadedModel, LoadProgress, free_memory, load

Key = tuple[str, str, str]  # (model, quant, device) as asked for


def default_max_models() -> int:
    """``PLAYGROUND_MAX_MODELS`` (default 2, at least 1)."""
    try:
        return max(1, int(os.environ.get("PLAYGROUND_MAX_MODELS", "2")))
    except ValueError:
        return 2


@dataclass(frozen=True)
class PoolEntry:
    key: Key
    loaded: LoadedModel


class ModelPool:
    def __init__(self, max_models: int | None = None) -> None:
        self.max_models = max_models or default_max_models()
        self._models: OrderedDict[Key, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()  # guards _models and _loading
        self._loading: dict[Key, threading.Lock] = {}

    @staticmethod
    def key(name: str, quant: str = "auto", device: str = "auto") -> Key:
        """The pool key; a remote model (``remote:NAME``) has one whatever quant/device say (the server's)."""
        if name.strip().startswith(REMOTE_PREFIX):
            return (name.strip(), "auto", "auto")
        return (name.strip(), quant, device)

    def peek(self, name: str, quant: str = "auto", device: str = "auto") -> LoadedModel | None:
        """The loaded model for this key, or None; does not load and does not touch LRU order."""
        with self._lock:
            return self._models.get(self.key(name, quant, device))

    def get(
        self, name: str, quant: str = "auto", device: str = "auto", progress: LoadProgress | None = None
    ) -> LoadedModel:
        key = self.key(name, quant, device)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # one loader per key; others wait here
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key]
            if not key[0].startswith(REMOTE_PREFIX):  # a remote model holds no weights here
                self._make_room(self.max_models - 1)
            loaded = load(key[0], key[1], key[2], progress)
            with self._lock:
                self._models[key] = loaded
                self._loading.pop(key, None)
            return loaded

    def _make_room(self, keep: int) -> None:
        """Unload least recently used idle local models until at most ``keep`` remain (remote ones
        hold no weights here and never count)."""
        while True:
            with self._lock:
                local = {k: m for k, m in self._models.items() if m.engine != "remote"}
                if len(local) <= keep:
                    return
                victim = next((k for k, m in local.items() if not m.lock.locked()), None)
                if victim is None:
                    return  # all busy generating: allow a temporary overshoot rather than block
                loaded = self._models.pop(victim)
            with loaded.lock:
                loaded.unload()

    def unload(self, name: str, quant: str = "auto", device: str = "auto") -> bool:
        """Unload one model (waits for a running generation to finish); True if it was loaded."""
        with self._lock:
            loaded = self._models.pop(self.key(name, quant, device), None)
        if loaded is None:
            return False
        with loaded.lock:
            loaded.unload()
        return True

    def unload_all(self) -> None:
        with self._lock:
            models = list(self._models.values())
            self._models.clear()
        for loaded in models:
            with loaded.lock:
                loaded.unload()
        free_memory()

    def entries(self) -> list[PoolEntry]:
        """Loaded models, least recently used first."""
        with self._lock:
            return [PoolEntry(k, m) for k, m in self._models.items()]
