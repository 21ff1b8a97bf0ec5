"""Split a streamed reply into reasoning (between <think> and </think>) and answer.

Contract of :class:`ThinkSplitter`: ``feed(text)`` takes the next piece of
decoded text (any length, tags may be cut anywhere) and returns the
``(kind, text)`` pieces that are now certain, where kind is "reasoning" or
"answer"; ``flush()`` returns what was held back. The concatenation of all
"answer" pieces equals the reply with the think block removed, and all
"reasoning" pieces the inside of the block, so streaming never changes the
result. Only a block at the start of the reply counts (as Qwen3 emits it);
tags later in the answer are kept as text.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["reasoning", "answer"]
OPEN, CLOSE = "<think>", "</think>"
_MAX_LEADING = 32  # whitespace allowed before "<think>" before we decide there is no think block


class ThinkSplitter:
    def __init__(self, starts_in_reasoning: bool = False) -> None:
        # Qwen3 "thinking-only" templates put "<think>\n" in the prompt: the reply starts inside the block.
        self._state: Literal["start", "reasoning", "answer"] = "reasoning" if starts_in_reasoning else "start"
        self._buffer = ""
        self._strip_newlines = starts_in_reasoning

    def feed(self, text: str) -> list[tuple[Kind, str]]:
        self._buffer += text
        out: list[tuple[Kind, str]] = []
        while True:
            if self._state == "start":
                stripped = self._buffer.lstrip()
                if stripped.startswith(OPEN):
                    self._buffer = stripped[len(OPEN) :]
                    self._state, self._strip_newlines = "reasoning", True
                    continue
                if OPEN.startswith(stripped) and len(self._buffer) < _MAX_LEADING:  # could become "<think>"
                    return out
                self._state = "answer"
                continue
            if self._state == "reasoning":
                if self._strip_newlines:
                    self._buffer = self._buffer.lstrip("\n")
                    if not self._buffer:
                        return out
                    self._strip_newlines = False
                index = self._buffer.find(CLOSE)
                if index >= 0:
                    piece = self._buffer[:index].rstrip("\n")
                    if piece:
                        out.append(("reasoning", piece))
                    self._buffer = self._buffer[index + len(CLOSE) :]
                    self._state, self._strip_newlines = "answer", True
                    continue
                safe = _safe_prefix(self._buffer, CLOSE)
                # hold back trailing newlines too: they may be the ones before </think>
                safe_text = self._buffer[:safe].rstrip("\n")
                if safe_text:
                    out.append(("reasoning", safe_text))
                self._buffer = self._buffer[len(safe_text) :]
                return out
            # answer
            if self._strip_newlines:
                self._buffer = self._buffer.lstrip("\n")
                if not self._buffer:
                    return out
                self._strip_newlines = False
            if self._buffer:
                out.append(("answer", self._buffer))
                self._buffer = ""
            return out

    def flush(self) -> list[tuple[Kind, str]]:
        """Release held-back text at the end of the stream (an unclosed block stays reasoning)."""
        rest, self._buffer = self._buffer, ""
        if not rest:
            return []
        if self._state == "reasoning":
            rest = rest.rstrip("\n")
            return [("reasoning", rest)] if rest else []
        if self._state == "answer" and self._strip_newlines:
            rest = rest.lstrip("\n")
        return [("answer", rest)] if rest else []


def _safe_prefix(buffer: str, tag: str) -> int:
    """Length of the prefix of ``buffer`` that cannot be the start of ``tag``."""
    for keep in range(min(len(tag) - 1, len(buffer)), 0, -1):
        if tag.startswith(buffer[-keep:]):
            return len(buffer) - keep
    return len(buffer)


def split_reply(text: str, starts_in_reasoning: bool = False) -> tuple[str, str]:
    """(reasoning, answer) of a complete reply; the same result streaming gives."""
    splitter = ThinkSplitter(starts_in_reasoning)
    pieces = splitter.feed(text) + splitter.flush()
    reasoning = "".join(t for k, t in pieces if k == "reasoning")
    answer = "".join(t for k, t in pieces if k == "answer")
    return reasoning, answer
