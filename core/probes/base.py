"""The vocabulary of the probe suite: a score, a scorer, a probe, the capabilities.

Contract:
- A :data:`Scorer` is ``(reply_text, reasoning) -> Score``. It never raises on any
  text (empty, huge, binary-looking); it looks at the answer, not the reasoning,
  unless it says otherwise.
- :class:`Score` holds ``value`` in [0, 1], ``passed`` (the probe's bar is met)
  and ``detail`` (one line a person can read: what was found, what was missing).
- :class:`Probe` is one prompt with its scorer; ``messages`` are role/content
  dicts as the engine takes them, ending with a user turn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from core.context import Message

CAPABILITIES: tuple[str, ...] = (
    "instruction_following",
    "system_prompt",
    "multilingual",
    "json_output",
    "code_generation",
    "multi_hop",
    "long_context",
    "safety",
    "knowledge_cutoff",
)

CAPABILITY_TITLES: dict[str, str] = {
    "instruction_following": "Instruction following",
    "system_prompt": "System-prompt adherence",
    "multilingual": "Multilingual replies",
    "json_output": "JSON output",
    "code_generation": "Code generation",
    "multi_hop": "Multi-hop questions",
    "long_context": "Long-context retrieval",
    "safety": "Safety refusals",
    "knowledge_cutoff": "Knowledge-cutoff honesty",
}


@dataclass(frozen=True)
class Score:
    """How a reply did on one probe."""

    value: float
    passed: bool
    detail: str = ""

    def __post_init__(self) -> None:
        value = float(self.value)
        if not math.isfinite(value):
            value = 0.0
        object.__setattr__(self, "value", min(max(value, 0.0), 1.0))
        object.__setattr__(self, "passed", bool(self.passed))


Scorer = Callable[[str, str], Score]


@dataclass(frozen=True)
class Probe:
    """One prompt, how long the reply may be, and how it is scored."""

    id: str
    capability: str
    messages: tuple[Message, ...]
    scorer: Scorer = field(repr=False, compare=False)
    max_new_tokens: int = 96
    notes: str = ""

    def __post_init__(self) -> None:
        if self.capability not in CAPABILITIES:
            raise ValueError(f"Probe {self.id}: unknown capability {self.capability!r}.")
        if not self.messages or self.messages[-1].get("role") != "user":
            raise ValueError(f"Probe {self.id}: messages must end with a user turn.")
        if not 1 <= self.max_new_tokens <= 4096:
            raise ValueError(f"Probe {self.id}: max_new_tokens must be 1..4096.")

    @property
    def prompt(self) -> str:
        """The last user message (what a table shows as 'the question')."""
        return self.messages[-1]["content"]

    def conversation(self) -> list[Message]:
        """Fresh, mutable copies of the messages (the engine may not keep them, but a caller might edit them)."""
        return [dict(m) for m in self.messages]
