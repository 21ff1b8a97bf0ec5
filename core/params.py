"""Generation parameters: one validated, typed object.

Contract: constructing :class:`GenerationParams` with an invalid value raises
:class:`core.errors.InvalidParameterError` naming the field and the allowed
range; ``from_dict`` also rejects unknown fields. ``temperature == 0`` means
greedy decoding (top_p/top_k/seed are then irrelevant).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core.errors import InvalidParameterError

MAX_NEW_TOKENS_LIMIT = 32768
MAX_STOP_STRINGS = 8
MAX_STOP_LENGTH = 64


def _number(name: str, value: Any, low: float, high: float, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or (not integer and not math.isfinite(value)):
        raise InvalidParameterError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}.")
    if not low <= value <= high:
        raise InvalidParameterError(f"{name} must be between {low:g} and {high:g}, got {value!r}.")


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one reply."""

    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20  # 0 disables top-k
    repetition_penalty: float = 1.05
    max_new_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False  # record per-token log-probabilities with the top-5 alternatives

    def __post_init__(self) -> None:
        _number("temperature", self.temperature, 0.0, 2.0)
        _number("top_p", self.top_p, 0.0, 1.0)
        if self.top_p == 0.0:
            raise InvalidParameterError("top_p must be greater than 0 (use temperature 0 for greedy decoding).")
        _number("top_k", self.top_k, 0, 10_000, integer=True)
        _number("repetition_penalty", self.repetition_penalty, 0.5, 2.0)
        _number("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS_LIMIT, integer=True)
        if self.seed is not None:
            _number("seed", self.seed, 0, 2**63 - 1, integer=True)
        if isinstance(self.stop, str) or not all(isinstance(s, str) for s in self.stop):
            raise InvalidParameterError("stop must be a list of strings.")
        if len(self.stop) > MAX_STOP_STRINGS:
            raise InvalidParameterError(f"stop: at most {MAX_STOP_STRINGS} stop strings, got {len(self.stop)}.")
        if any(not s or len(s) > MAX_STOP_LENGTH for s in self.stop):
            raise InvalidParameterError(f"stop: each stop string must be 1 to {MAX_STOP_LENGTH} characters long.")
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationParams:
        """Build from a dict (e.g. JSON); unknown keys are an error, not silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParameterError(f"Unknown generation parameter(s): {', '.join(unknown)}.")
        values = dict(data)
        if "stop" in values and isinstance(values["stop"], list):
            values["stop"] = tuple(values["stop"])
        return cls(**values)

    def with_(self, **changes: Any) -> GenerationParams:
        return replace(self, **changes)


def recommended_params(
    family: str, thinking: bool = False, generation_defaults: dict[str, Any] | None = None
) -> GenerationParams:
    """Qwen's published sampling recommendations.

    Qwen2.5-Instruct (generation_config.json): temperature 0.7, top_p 0.8, top_k 20,
    repetition_penalty 1.05. Qwen3 model card: thinking mode temperature 0.6,
    top_p 0.95, top_k 20; non-thinking mode temperature 0.7, top_p 0.8, top_k 20
    (and it warns against greedy decoding in thinking mode). For other models the
    checkpoint's own ``generation_config`` sampling values (``generation_defaults``)
    win over the Qwen2.5 values.
    """
    if family == "qwen3":
        if thinking:
            return GenerationParams(temperature=0.6, top_p=0.95, top_k=20, repetition_penalty=1.0, max_new_tokens=2048)
        return GenerationParams(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.0)
    base = GenerationParams(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05)
    known = {k: v for k, v in (generation_defaults or {}).items() if k in base.to_dict()}
    try:
        return base.with_(**known)
    except InvalidParameterError:  # a checkpoint with odd defaults: keep Qwen's
        return base
