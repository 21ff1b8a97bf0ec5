"""Fit a conversation into the model's context window.

Contract of :func:`fit_messages`: the prompt (rendered with the tokenizer's own
chat template) plus ``max_new_tokens`` must fit ``context_length``. The
oldest turns are dropped first; the system prompt and the last user turn are
never dropped. If even those two do not fit, :class:`ContextOverflowError` is
raised. The result says how many tokens each part takes and which message
indices (of the input list) were dropped, so a UI can show a context meter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ContextOverflowError, InvalidParameterError

Message = dict[str, str]
ROLES = ("system", "user", "assistant")


def message_text(content: Any) -> str | None:
    """The text of a message's content: a string, or typed parts [{"type": "text", "text": ...}]
    (the form some chat templates, e.g. Llama Guard 3's, expect); None if it is neither."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        texts = [p.get("text") for p in content]
        return "".join(texts) if all(isinstance(t, str) for t in texts) else None
    return None


def validate_messages(messages: list[Message]) -> None:
    """Raise InvalidParameterError unless messages are role/content dicts ending with a user turn."""
    if not messages:
        raise InvalidParameterError("The conversation is empty.", "Type a message first.")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidParameterError(f"Message {index} has no valid role (system, user or assistant).")
        if message_text(message.get("content")) is None:
            raise InvalidParameterError(f"Message {index} has no text content.")
        if message["role"] == "system" and index != 0:
            raise InvalidParameterError("Only the first message may be a system prompt.")
    if messages[-1]["role"] != "user":
        raise InvalidParameterError("The last message must be the user's.", "Type a message to answer.")
    if not (message_text(messages[-1]["content"]) or "").strip():
        raise InvalidParameterError("The last user message is empty.", "Type a question.")


def render_prompt(tokenizer: Any, messages: list[Message], thinking: bool | None = None) -> str:
    """The prompt text, from the tokenizer's own chat template, ending with the assistant header.

    ``thinking`` is passed as ``enable_thinking`` (templates that do not use it ignore it).
    """
    kwargs: dict[str, Any] = {}
    if thinking is not None:
        kwargs["enable_thinking"] = thinking
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)


def count_prompt_tokens(tokenizer: Any, messages: list[Message], thinking: bool | None = None) -> int:
    text = render_prompt(tokenizer, messages, thinking)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass
class FitResult:
    """What was kept, what was dropped, and how the window is spent."""

    messages: list[Message]
    prompt_tokens: int
    context_length: int
    max_new_tokens: int
    dropped_indices: list[int] = field(default_factory=list)
    dropped_tokens: int = 0
    system_tokens: int = 0

    @property
    def trimmed(self) -> bool:
        return bool(self.dropped_indices)

    @property
    def history_tokens(self) -> int:
        return self.prompt_tokens - self.system_tokens

    @property
    def free_tokens(self) -> int:
        return self.context_length - self.prompt_tokens - self.max_new_tokens


def _turn_starts(messages: list[Message], first: int) -> list[int]:
    """Indices where a droppable turn starts (a user message), oldest first, excluding the last turn."""
    starts = [i for i in range(first, len(messages)) if messages[i]["role"] == "user"]
    return starts[:-1]


def fit_messages(
    tokenizer: Any,
    messages: list[Message],
    context_length: int,
    max_new_tokens: int,
    thinking: bool | None = None,
) -> FitResult:
    """Drop the oldest whole turns until prompt + reply budget fit ``context_length``."""
    validate_messages(messages)
    budget = context_length - max_new_tokens
    if budget <= 0:
        raise ContextOverflowError(
            f"max_new_tokens ({max_new_tokens}) leaves no room for the prompt in a {context_length}-token window.",
            "Lower max_new_tokens.",
        )
    has_system = messages[0]["role"] == "system"
    first = 1 if has_system else 0
    system_tokens = count_prompt_tokens(tokenizer, messages[:1], thinking) if has_system else 0
    full = count_prompt_tokens(tokenizer, messages, thinking)
    kept = list(range(len(messages)))
    tokens = full
    for start in _turn_starts(messages, first):
        if tokens <= budget:
            break
        kept = [i for i in kept if i >= start or i < first]
        kept = [i for i in kept if not (first <= i < start)]
        tokens = count_prompt_tokens(tokenizer, [messages[i] for i in kept], thinking)
    # Drop any assistant messages left between the system prompt and the last user turn's start.
    if tokens > budget:
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        kept = list(range(first)) + list(range(last_user, len(messages)))
        tokens = count_prompt_tokens(tokenizer, [messages[i] for i in kept], thinking)
    if tokens > budget:
        raise ContextOverflowError(
            f"The system prompt and your last message take {tokens} tokens; with max_new_tokens {max_new_tokens} "
            f"they exceed the {context_length}-token context window.",
            "Shorten the message (or the system prompt), or lower max_new_tokens.",
        )
    dropped = [i for i in range(len(messages)) if i not in kept]
    return FitResult(
        messages=[messages[i] for i in kept],
        prompt_tokens=tokens,
        context_length=context_length,
        max_new_tokens=max_new_tokens,
        dropped_indices=dropped,
        dropped_tokens=full - tokens,
        system_tokens=system_tokens,
    )
