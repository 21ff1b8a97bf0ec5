"""Typed errors of the RAG package.

Every error carries a one-line ``message`` (what went wrong) and a ``hint``
(what to do next), like :class:`core.errors.PlaygroundError`, which they all
subclass, so the UI and the command line can show them the same way.
"""

from __future__ import annotations

from core.errors import PlaygroundError


class RagError(PlaygroundError):
    """Base class of every error raised by :mod:`rag`."""


class InvalidOptionError(RagError, ValueError):
    """An option (chunk size, k, threshold, ...) is out of range or of the wrong type."""


class InvalidCollectionNameError(RagError, ValueError):
    """A collection name Chroma would refuse (length, characters, shape)."""


class CollectionNotFoundError(RagError):
    """The named collection does not exist in the store."""


class DocumentNotFoundError(RagError):
    """No chunk of the named source exists in the collection."""


class StoreUnavailableError(RagError):
    """The Chroma store cannot be opened (server unreachable, directory unusable)."""


class EmbeddingModelError(RagError):
    """The embedding model cannot be loaded (unknown name, not available offline)."""


class EmbeddingMismatchError(RagError):
    """A collection was built with a different embedding model than the one asked for."""


class ContextBudgetError(RagError):
    """The question and instructions alone do not fit in the context budget."""


class LoadError(RagError):
    """A file cannot be turned into text. ``code`` names the reason for machines.

    Codes: ``empty``, ``binary``, ``too_large``, ``corrupt``, ``encrypted``,
    ``unsupported``, ``no_text``, ``unreadable``.
    """

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.code = code
