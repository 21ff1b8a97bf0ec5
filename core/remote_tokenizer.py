"""A tokenizer for a remote model: for context fitting, the context meter and token counts.

The server tokenizes for real; the client needs a tokenizer only to fit the conversation into
the window before sending it (:func:`core.context.fit_messages`) and to count tokens where the
server does not say. Contract of :func:`choose_tokenizer` (first that works wins):

1. the endpoint's ``tokenizer`` hint: a local tokenizer directory or a hub id already in the
   local Hugging Face cache (never downloaded) → exact counts;
2. the registry model the endpoint serves (its ``model`` is a registry alias or hub id, e.g.
   ``Qwen/Qwen2.5-7B-Instruct``) when that repo is in the local cache → exact;
3. a Qwen model (by ``family`` or its name): the tokenizer of a fetched offline bundle. All
   Qwen2.5 and Qwen3 models share one byte-level BPE vocabulary, so counts match up to the chat
   template's few extra tokens (Qwen3's template differs slightly) → close;
4. otherwise :class:`ApproxTokenizer`: about one token per 4 characters of a ChatML rendering,
   rounded up per word, which over-counts English a little (so fitting errs on the safe side).

The choice and why is returned as a sentence for the loader's notices.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.context import Message, message_text

_PIECES = re.compile(r"\w+|[^\w\s]|\s+")


class ApproxTokenizer:
    """A stand-in with the slice of the transformers tokenizer API the playground uses.

    ``apply_chat_template`` renders ChatML (what Qwen uses); ``__call__``/``encode`` return one
    synthetic id per estimated token (a word of n characters counts ceil(n / 4), punctuation 1,
    whitespace 0); ``decode`` cannot invert them and returns "". No end-of-sequence id.
    """

    chat_template = "chatml (approximate)"
    eos_token_id = None
    eos_token = None
    pad_token_id = None

    def apply_chat_template(
        self, messages: list[Message], tokenize: bool = False, add_generation_prompt: bool = True, **_: Any
    ) -> Any:
        text = "".join(f"<|im_start|>{m['role']}\n{message_text(m['content']) or ''}<|im_end|>\n" for m in messages)
        if add_generation_prompt:
            text += "<|im_start|>assistant\n"
        return {"input_ids": self.encode(text)} if tokenize else text

    def encode(self, text: str, add_special_tokens: bool = False, **_: Any) -> list[int]:
        count = 0
        for piece in _PIECES.findall(text):
            if piece.isspace():
                continue
            count += math.ceil(len(piece) / 4) if piece[0].isalnum() or piece[0] == "_" else 1
        return list(range(count))

    def __call__(self, text: str, add_special_tokens: bool = False, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text)}

    def decode(self, ids: Any, **_: Any) -> str:
        return ""

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class TokenizerChoice:
    tokenizer: Any
    exact: bool
    note: str


def guess_family(model: str) -> str | None:
    """"qwen3" / "qwen2.5" from a served model name (``Qwen/Qwen3-8B``, ``qwen2.5-coder...gguf``)."""
    lowered = model.lower()
    if "qwen3" in lowered:
        return "qwen3"
    if "qwen2" in lowered or "qwen" in lowered:
        return "qwen2.5"
    return None


def _auto(location: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(location, local_files_only=True, trust_remote_code=False)


def _offline_bundle_tokenizer() -> tuple[Any, str] | None:
    from core.fetch import bundle_path, is_fetched
    from core.loading import Source, _load_tokenizer
    from core.registry import REGISTRY

    for spec in REGISTRY.values():
        if spec.gguf is not None and is_fetched(spec.gguf):
            path = bundle_path(spec.gguf)
            return _load_tokenizer(Source(str(path.parent), gguf_file=path.name)), spec.alias
    return None


def choose_tokenizer(model: str, hint: str | None, family: str | None) -> TokenizerChoice:
    """The best tokenizer available offline for a remote ``model`` (see the module docstring)."""
    from core.registry import find_spec

    problems: list[str] = []
    if hint:
        try:
            return TokenizerChoice(_auto(str(Path(hint).expanduser()) if Path(hint).expanduser().exists() else hint),
                                   True, f"Token counts use the tokenizer '{hint}'.")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - fall back below, and say why
            problems.append(f"the tokenizer hint '{hint}' could not be loaded offline ({type(exc).__name__})")
    spec = find_spec(model)
    if spec is not None and spec.gguf is None:
        try:
            return TokenizerChoice(_auto(spec.hub_id), True, f"Token counts use {spec.hub_id}'s tokenizer (cached).")
        except Exception:  # noqa: BLE001 - not cached: fall back
            pass
    why = f" ({'; '.join(problems)})" if problems else ""
    if (family if family in ("qwen2.5", "qwen3") else guess_family(model)) is not None:
        try:
            found = _offline_bundle_tokenizer()
        except Exception:  # noqa: BLE001 - a broken bundle must not stop a remote model
            found = None
        if found is not None:
            tokenizer, alias = found
            return TokenizerChoice(
                tokenizer, False,
                f"Token counts use the {alias} tokenizer (the Qwen vocabulary; close, not exact){why}. "
                "Set the endpoint's `tokenizer` for exact counts.",
            )  # fmt: skip
    return TokenizerChoice(
        ApproxTokenizer(), False,
        f"Token counts are estimated (about 4 characters a token){why}. Set the endpoint's `tokenizer` "
        "to a local tokenizer directory for exact context fitting.",
    )  # fmt: skip
