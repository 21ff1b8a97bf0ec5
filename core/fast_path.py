"""The GPU fast path: a static KV cache and a compiled one-token decode step.

Why: at batch 1 a small model's decode step is a few milliseconds of GPU work
wrapped in Python and kernel-launch overhead. A static cache gives every step
the same tensor shapes and addresses, so ``torch.compile(mode="reduce-overhead")``
can capture the step as a CUDA graph and replay it (the gpt-fast recipe).

Contract of :class:`StaticDecoder` (one per loaded model, reused across requests):
- ``prefill(input_ids, start)`` runs prompt positions ``start..`` eagerly into the
  static cache and returns the last logits [1, V]; positions before ``start``
  must already hold this prompt's KV (prefix reuse: ``cached_prefix``).
- ``step(token)`` feeds one token [1] at the next position and returns logits [1, V].
- ``fits(total_tokens)`` says whether prompt + reply fit the static cache.
- Any failure (compile error, unsupported model) raises; the engine then falls
  back to the dynamic path for good on this model.
- ``busy`` marks the one reply using the cache; others take the dynamic path.

:func:`choose` decides when the fast path is worth it: CUDA, a float dtype (not
bitsandbytes, whose kernels do not capture into graphs), and not disabled by
``PLAYGROUND_FAST_PATH=off``. ``PLAYGROUND_FAST_PATH=force`` also enables it on
the CPU (eager, no compile), which the tests use to check its outputs.
"""

from __future__ import annotations

import os
from typing import Any

import torch

DEFAULT_MAX_CACHE = 8192
_FLOAT_QUANTS = ("bf16", "fp16", "fp32")


def mode() -> str:
    """``PLAYGROUND_FAST_PATH``: auto (default), off, or force."""
    value = os.environ.get("PLAYGROUND_FAST_PATH", "auto").strip().lower()
    return value if value in {"auto", "off", "force"} else "auto"


def choose(device: str, quant: str) -> tuple[bool, str]:
    """(use the fast path?, why) for a model on ``device`` quantized as ``quant``."""
    setting = mode()
    if setting == "off":
        return False, "disabled by PLAYGROUND_FAST_PATH=off"
    if quant not in _FLOAT_QUANTS:
        return False, f"{quant} kernels are not graph-capturable; using the dynamic cache"
    if setting == "force":
        return True, "forced by PLAYGROUND_FAST_PATH=force"
    if device != "cuda":
        return False, "the CPU gains nothing from CUDA graphs; using the dynamic cache"
    return True, "CUDA: static KV cache + torch.compile (CUDA graphs)"


class StaticDecoder:
    def __init__(self, model: Any, max_cache_len: int = DEFAULT_MAX_CACHE, compile_step: bool | None = None) -> None:
        from transformers import StaticCache

        self.model = model
        self.device = model.device
        self.max_cache_len = max_cache_len
        self.cache = StaticCache(config=model.config, max_cache_len=max_cache_len)
        self.cached_ids: list[int] = []  # tokens whose KV sits in positions 0..len-1
        self.position = 0
        should_compile = compile_step if compile_step is not None else self.device.type == "cuda"
        self._step = torch.compile(self._forward_one, mode="reduce-overhead", fullgraph=True) if should_compile else (
            self._forward_one
        )
        self.compiled = should_compile
        self.busy = False  # one reply at a time: interleaved streams on the same model use the dynamic path

    def fits(self, total_tokens: int) -> bool:
        return total_tokens <= self.max_cache_len

    def cached_prefix(self, prompt_ids: list[int]) -> int:
        """How many leading prompt tokens already have their KV in the cache (always leaves one to prefill)."""
        n = min(len(self.cached_ids), len(prompt_ids) - 1)
        for i in range(n):
            if self.cached_ids[i] != prompt_ids[i]:
                return i
        return max(n, 0)

    def prefill(self, input_ids: torch.Tensor, start: int) -> torch.Tensor:
        """input_ids: [1, S] whole prompt; positions start..S-1 are computed. Returns logits [1, V]."""
        length = input_ids.shape[1]
        cache_position = torch.arange(start, length, device=self.device)  # [S - start]
        with torch.inference_mode():
            out = self.model(
                input_ids=input_ids[:, start:],
                past_key_values=self.cache,
                cache_position=cache_position,
                use_cache=True,
                logits_to_keep=1,
            )
        self.cached_ids = input_ids[0].tolist()
        self.position = length
        return out.logits[:, -1, :]

    def _forward_one(self, token: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=token, past_key_values=self.cache, cache_position=cache_position, use_cache=True)
        return out.logits[:, -1, :]

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """token: [1] long. Returns logits [1, V] for the next position."""
        cache_position = torch.tensor([self.position], device=self.device)  # [1]
        with torch.inference_mode():
            logits = self._step(token.view(1, 1), cache_position)
        self.cached_ids.append(int(token))
        self.position += 1
        return logits.clone()  # a CUDA-graph output buffer is overwritten by the next replay
