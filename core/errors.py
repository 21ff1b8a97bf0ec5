"""Typed errors of the playground core.

Contract: every error a user can cause or meet carries a one-line ``message``
(what went wrong) and a ``hint`` (what to do next). The UI shows both; the
command line prints both and exits non-zero. Nothing here knows about the UI.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base class: ``message`` says what happened, ``hint`` what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


OFFLINE_HINT = (
    "Use an offline bundle instead: `python -m core fetch qwen2.5-coder-0.5b-offline` "
    "(or pick 'qwen2.5-coder-0.5b-offline' in the model picker)."
)


class UnknownModelError(PlaygroundError):
    """The name is neither a registry alias, a local directory nor a hub id."""


class HubUnreachableError(PlaygroundError):
    """The model is not cached locally and the Hugging Face hub cannot be reached."""


class BundleNotFetchedError(PlaygroundError):
    """An offline bundle was asked for but its GGUF file is not on disk yet."""


class HashMismatchError(PlaygroundError):
    """A downloaded or joined file does not have the pinned sha256."""


class CorruptModelError(PlaygroundError):
    """Weights or config on disk cannot be read (truncated, malformed, wrong format)."""


class UnsafeCheckpointError(PlaygroundError):
    """Only pickle weights (.bin/.pt) exist: refused, since unpickling can run code."""


class QuantizationUnavailableError(PlaygroundError):
    """The requested quantization cannot run here (bitsandbytes missing, GGUF + bnb, ...)."""


class OutOfMemoryError(PlaygroundError):
    """The device ran out of memory while loading or generating."""


class InvalidParameterError(PlaygroundError, ValueError):
    """A generation parameter is out of range or of the wrong type."""


class ContextOverflowError(PlaygroundError):
    """A single message (or the system prompt plus the last turn) cannot fit the context window."""


class DeviceUnavailableError(PlaygroundError):
    """A device was named explicitly (e.g. ``cuda``) but is not present."""
