"""Fast answers about the Hugging Face hub: is it reachable, is a repo cached?

Asking transformers for a hub id on a machine with no route to the hub hangs
for about 46 s before it fails. :func:`hub_reachable` answers in at most
``timeout`` seconds (DNS included, since the probe runs in a daemon thread)
and remembers the answer for a minute, so the loader can fail fast with a
clear message instead.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlparse

_CACHE_SECONDS = 60.0
_last: tuple[float, bool] | None = None
_lock = threading.Lock()


def offline_mode() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _endpoint() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)


def _probe(host: str, port: int, timeout: float, result: list[bool]) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            result.append(True)
    except OSError:
        result.append(False)


def hub_reachable(timeout: float = 2.0, *, use_cache: bool = True) -> bool:
    """True if a TCP connection to the hub endpoint opens within ``timeout`` seconds.

    Always False in offline mode. The answer is cached for a minute.
    """
    global _last
    if offline_mode():
        return False
    with _lock:
        if use_cache and _last is not None and time.monotonic() - _last[0] < _CACHE_SECONDS:
            return _last[1]
    result: list[bool] = []
    host, port = _endpoint()
    worker = threading.Thread(target=_probe, args=(host, port, timeout, result), daemon=True)
    worker.start()
    worker.join(timeout)
    reachable = bool(result and result[0])
    with _lock:
        _last = (time.monotonic(), reachable)
    return reachable


def is_cached(repo_id: str) -> bool:
    """True if ``repo_id``'s config.json is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str)
