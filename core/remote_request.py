"""The JSON body of one streamed ``/chat/completions`` request, per server dialect.

Contract of :func:`build_body`: every :class:`core.params.GenerationParams` field is either sent
under the name the dialect understands or listed in ``notices`` with why it is not sent; nothing
is dropped silently. The mapping (see docs/REMOTE.md for the table):

- standard OpenAI fields for every dialect: ``temperature`` (0 = greedy), ``top_p``,
  ``max_tokens`` (max_new_tokens), ``seed``, ``logprobs`` + ``top_logprobs`` (5, like the local
  engine), ``stream`` and ``stream_options.include_usage``;
- ``top_k`` (0 = off: -1 for vLLM/SGLang, 0 for llama.cpp) and ``repetition_penalty``
  (llama.cpp calls it ``repeat_penalty``) for vllm, sglang and llama.cpp; the plain "openai"
  dialect has neither, so they are not sent (a notice says so);
- ``stop`` is sent to servers that say which stop string matched (vLLM ``stop_reason``, SGLang
  ``matched_stop``) and to "openai"; stop strings are *always* also enforced on the client, which
  is the only place they are enforced for llama.cpp (its server cuts the match out without saying
  so, which would make a stop string indistinguishable from end of sequence);
- Qwen3 thinking: ``chat_template_kwargs = {"enable_thinking": ...}`` for vllm, sglang and
  llama.cpp (its native server reads it; llama-cpp-python's ignores unknown fields);
- the endpoint's ``extra_body`` is merged last (it wins).

Which fields were sent is returned too (``sent``: GenerationParams field → request key), so a
400 naming a request key can be reported as the playground parameter the user set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.context import Message
from core.params import GenerationParams

TOP_LOGPROBS = 5
NONSTANDARD = {  # dialect -> {GenerationParams field: request key}
    "vllm": {"top_k": "top_k", "repetition_penalty": "repetition_penalty"},
    "sglang": {"top_k": "top_k", "repetition_penalty": "repetition_penalty"},
    "llama.cpp": {"top_k": "top_k", "repetition_penalty": "repeat_penalty"},
    "openai": {},
}
SERVER_SIDE_STOP = ("vllm", "sglang", "openai")
THINKING_KWARGS = ("vllm", "sglang", "llama.cpp")


@dataclass
class RequestBody:
    body: dict[str, Any]
    sent: dict[str, str] = field(default_factory=dict)  # GenerationParams field -> request key
    notices: list[str] = field(default_factory=list)


def _top_k(dialect: str, top_k: int) -> int:
    if top_k > 0:
        return top_k
    return 0 if dialect == "llama.cpp" else -1


def build_body(
    model: str,
    dialect: str,
    messages: list[Message],
    params: GenerationParams,
    thinking: bool | None,
    extra_body: dict[str, Any] | None = None,
) -> RequestBody:
    """The request for ``messages`` with ``params`` in ``dialect`` (one of vllm, sglang, llama.cpp, openai)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_new_tokens,
    }
    sent = {"temperature": "temperature", "top_p": "top_p", "max_new_tokens": "max_tokens"}
    notices: list[str] = []
    if params.seed is not None:
        body["seed"], sent["seed"] = params.seed, "seed"
    for name, key in NONSTANDARD.get(dialect, {}).items():
        value = _top_k(dialect, params.top_k) if name == "top_k" else params.repetition_penalty
        body[key], sent[name] = value, key
    if dialect not in ("vllm", "sglang", "llama.cpp"):
        skipped = [n for n, default in (("top_k", 0), ("repetition_penalty", 1.0)) if getattr(params, n) != default]
        if skipped:
            notices.append(f"{' and '.join(skipped)} not sent: the {dialect} API has no such field.")
    if params.stop:
        if dialect in SERVER_SIDE_STOP:
            body["stop"], sent["stop"] = list(params.stop), "stop"
        else:
            notices.append("Stop strings are applied by the playground (the stream is closed at the match).")
    if params.logprobs:
        body["logprobs"], body["top_logprobs"] = True, TOP_LOGPROBS
        sent["logprobs"] = "logprobs"
    if thinking is not None and dialect in THINKING_KWARGS:
        body["chat_template_kwargs"] = {"enable_thinking": thinking}
    body.update(extra_body or {})
    return RequestBody(body, sent, notices)
