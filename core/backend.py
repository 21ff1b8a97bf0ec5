"""Engines other than transformers behind the same contract as :func:`core.engine.stream_chat`.

Contract:
- A :class:`LoadedModel` whose ``backend`` is set is served by that backend instead of the
  transformers engine; ``loaded.model`` is then ``None`` and ``loaded.engine`` names the backend
  ("remote", "llama.cpp"). Everything else on :class:`LoadedModel` (name, quant, device,
  context_length, supports_thinking, family, tokenizer, lock, notices, memory_bytes,
  load_seconds) keeps its meaning, so every page works unchanged.
- ``backend.stream_chat(loaded, messages, params, ...)`` returns an object that behaves like
  :class:`core.engine.ChatStream`: iterating yields :class:`core.engine.Chunk` objects
  ("reasoning" / "answer"), and when iteration ends for any reason ``.reply`` holds the full
  text so far with :class:`core.engine.Metrics` filled in (partial text is never lost);
  ``.fit`` is the :class:`core.context.FitResult` computed eagerly (so an oversized message
  raises before streaming starts); ``.close()`` cancels; ``.answer_text()`` yields answer strings.
- ``backend.close()`` releases what the backend holds (a connection pool, llama.cpp's weights);
  :meth:`LoadedModel.unload` calls it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.context import Message
    from core.loading import LoadedModel
    from core.params import GenerationParams


class ChatBackend(Protocol):
    kind: str  # "remote" | "llama.cpp": shown in the UI and the metrics

    def stream_chat(
        self,
        loaded: LoadedModel,
        messages: list[Message],
        params: GenerationParams,
        *,
        thinking: bool | None,
        cancel: threading.Event | None,
        logits_processors: list[Any] | None,
        prefix_cache: bool,
        ignore_eos: bool,
    ) -> Any: ...

    def close(self) -> None: ...
