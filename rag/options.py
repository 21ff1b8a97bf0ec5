"""Validated option objects for ingestion and retrieval.

Contract: constructing an option object with a bad value raises
:class:`rag.errors.InvalidOptionError` naming the field and the allowed range,
so a UI slider or a command-line flag can never put the pipeline in a state it
cannot handle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rag.errors import InvalidOptionError

DEFAULT_CHUNK_SIZE = 500  # characters; ~110 MiniLM tokens, under its 128-token training length
DEFAULT_CHUNK_OVERLAP = 80
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_CHUNK_SIZE = 100_000
MAX_K = 100
# Chunks a model's answer gets by default (page, `rag ask`, the bench): small models answer best from
# few sources, and the top 3 already hold the answer to every demo question (recall@3 = 1.00).
ANSWER_K = 3


def _int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(f"{name} must be an integer, got {value!r}.")
    if not low <= value <= high:
        raise InvalidOptionError(f"{name} must be between {low} and {high}, got {value}.")


def _float(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidOptionError(f"{name} must be a number, got {value!r}.")
    if not low <= value <= high:
        raise InvalidOptionError(f"{name} must be between {low:g} and {high:g}, got {value:g}.")


@dataclass(frozen=True)
class ChunkingOptions:
    """How documents are cut into chunks.

    Sizes count characters, or tokens of ``tokenizer`` when one is given (any
    Hugging Face tokenizer, e.g. the LLM's, so chunks are sized for its context).
    """

    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    tokenizer: Any | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _int("chunk_size", self.chunk_size, 1, MAX_CHUNK_SIZE)
        _int("chunk_overlap", self.chunk_overlap, 0, MAX_CHUNK_SIZE)
        if self.chunk_overlap >= self.chunk_size:
            raise InvalidOptionError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})."
            )
        if self.tokenizer is not None and not callable(getattr(self.tokenizer, "encode", None)):
            raise InvalidOptionError("tokenizer must be a Hugging Face tokenizer (an object with .encode).")

    @property
    def unit(self) -> str:
        """``"tokens"`` when a tokenizer sizes the chunks, else ``"chars"``."""
        return "tokens" if self.tokenizer is not None else "chars"


@dataclass(frozen=True)
class IngestOptions:
    """Chunking plus the per-file size limit (bytes)."""

    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.chunking, ChunkingOptions):
            raise InvalidOptionError("chunking must be a ChunkingOptions.")
        _int("max_bytes", self.max_bytes, 1, 2**40)


@dataclass(frozen=True)
class RetrievalOptions:
    """How chunks are picked for a question.

    ``k`` hits are returned, best first. With ``mmr``, ``fetch_k`` candidates are
    fetched and re-ranked by maximal marginal relevance (``lambda_mult`` 1 = pure
    relevance, 0 = pure diversity). ``score_threshold`` drops hits whose cosine
    similarity is below it.
    """

    k: int = 5
    mmr: bool = False
    fetch_k: int = 20
    lambda_mult: float = 0.5
    score_threshold: float | None = None

    def __post_init__(self) -> None:
        _int("k", self.k, 1, MAX_K)
        _int("fetch_k", self.fetch_k, 1, 10 * MAX_K)
        _float("lambda_mult", self.lambda_mult, 0.0, 1.0)
        if not isinstance(self.mmr, bool):
            raise InvalidOptionError(f"mmr must be true or false, got {self.mmr!r}.")
        if self.score_threshold is not None:
            _float("score_threshold", self.score_threshold, -1.0, 1.0)
