"""Answer a question from retrieved sources and map the reply's citations back to chunks.

Contract:
- :func:`parse_citations` finds ``[1]``, ``[2, 3]``, ``[1][2]`` and ``[2-4]`` in
  a reply and splits the numbers into valid ones (1..n, first-appearance
  order, no repeats) and out-of-range ones (reported, never mapped).
- :func:`answer` = :func:`prepare` (retrieve, build the prompt under the token
  budget) + ``generate(messages) -> str`` + :func:`finish` (map citations).
  When nothing is retrieved the model is not called: the answer says so and
  ``generated`` is False. The UI can call prepare/finish itself around a
  streaming generator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.prompt import Message, build_messages
from rag.retrieval import Hit

DEFAULT_BUDGET_TOKENS = 3000
NO_SOURCES_REPLY = "I found nothing relevant in this collection, so I cannot answer from its documents."
NO_ROOM_REPLY = "The retrieved sources do not fit in the context budget, so I cannot answer from them."
MAX_RANGE = 50  # "[1-3]" expands; a huge range is a typo, not a citation

_GROUP = re.compile(r"\[(\s*\d{1,4}(?:\s*[,;\-\u2013]\s*\d{1,4})*\s*)\](?!\()")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)

Generate = Callable[[list[Message]], str]
RetrieveFn = Callable[[str], Sequence[Hit]]


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (~3.5 characters per token, rounded up)."""
    return math.ceil(len(text) / 3.5)


def parse_citations(text: str, n_sources: int) -> tuple[list[int], list[int]]:
    """``(valid, invalid)`` citation numbers in ``text`` (see the module contract)."""
    valid: list[int] = []
    invalid: list[int] = []
    for match in _GROUP.finditer(_THINK.sub("", text)):
        numbers: list[int] = []
        for part in re.split(r"\s*[,;]\s*", match.group(1).strip()):
            bounds = re.split(r"\s*[\-\u2013]\s*", part)
            if len(bounds) == 2:
                low, high = int(bounds[0]), int(bounds[1])
                numbers.extend(range(low, high + 1) if 0 <= high - low <= MAX_RANGE else (low, high))
            else:
                numbers.append(int(bounds[0]))
        for n in numbers:
            bucket = valid if 1 <= n <= n_sources else invalid
            if n not in bucket:
                bucket.append(n)
    return valid, invalid


@dataclass(frozen=True)
class Citation:
    number: int
    hit: Hit


@dataclass
class Prepared:
    """Everything decided before generation."""

    question: str
    hits: list[Hit]  # as retrieved
    messages: list[Message]
    used_hits: list[Hit]  # in the prompt; source n is used_hits[n - 1]


@dataclass
class Answer:
    question: str
    text: str
    hits: list[Hit]
    used_hits: list[Hit]
    citations: list[Citation]  # cited sources, first-appearance order
    invalid_citations: list[int]  # numbers cited that match no source
    messages: list[Message]
    generated: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def cited_hits(self) -> list[Hit]:
        return [c.hit for c in self.citations]

    def sources(self) -> list[dict[str, Any]]:
        """The prompt's sources, numbered, with whether the answer cites each."""
        cited = {c.number for c in self.citations}
        return [
            {"number": n, **hit.to_dict(), "cited": n in cited, "text": hit.text}
            for n, hit in enumerate(self.used_hits, start=1)
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``python -m rag ask --json``."""
        return {
            "question": self.question,
            "answer": self.text,
            "sources": self.sources(),
            "citations": [c.number for c in self.citations],
            "invalid_citations": self.invalid_citations,
            "generated": self.generated,
            "metrics": self.metrics,
        }


def _retrieve(retriever: Any, question: str) -> list[Hit]:
    fn = getattr(retriever, "retrieve", retriever)
    return list(fn(question))


def prepare(
    question: str,
    retriever: RetrieveFn | Any,
    *,
    count_tokens: Callable[[str], int] = approx_tokens,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    system_prompt: str | None = None,
) -> Prepared:
    """Retrieve and build the prompt; ``retriever`` is a Retriever or any ``question -> hits`` callable."""
    hits = _retrieve(retriever, question)
    messages, used = build_messages(
        question, hits, count_tokens=count_tokens, budget_tokens=budget_tokens, system_prompt=system_prompt
    )
    return Prepared(question=question, hits=hits, messages=messages, used_hits=used)


def finish(prepared: Prepared, text: str, *, metrics: dict[str, Any] | None = None, generated: bool = True) -> Answer:
    """Map the reply's citations to the prompt's sources."""
    valid, invalid = parse_citations(text, len(prepared.used_hits))
    return Answer(
        question=prepared.question,
        text=text,
        hits=prepared.hits,
        used_hits=prepared.used_hits,
        citations=[Citation(n, prepared.used_hits[n - 1]) for n in valid],
        invalid_citations=invalid,
        messages=prepared.messages,
        generated=generated,
        metrics=dict(metrics or {}),
    )


def answer(
    question: str,
    retriever: RetrieveFn | Any,
    generate: Generate,
    *,
    count_tokens: Callable[[str], int] = approx_tokens,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    system_prompt: str | None = None,
) -> Answer:
    """Retrieve, prompt, generate, cite (see the module contract)."""
    prepared = prepare(
        question, retriever, count_tokens=count_tokens, budget_tokens=budget_tokens, system_prompt=system_prompt
    )
    if not prepared.used_hits:
        reply = NO_ROOM_REPLY if prepared.hits else NO_SOURCES_REPLY
        return finish(prepared, reply, generated=False)
    return finish(prepared, generate(prepared.messages))
