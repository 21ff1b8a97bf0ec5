"""The in-process llama.cpp engine: GGUF models run natively on the CPU, behind core.backend's contract.

Contract:
- :func:`available` says whether ``llama_cpp`` (llama-cpp-python, ``make llama``) imports here.
- :func:`load_gguf` opens a .gguf file in llama.cpp and returns a :class:`core.loading.LoadedModel`
  with ``quant="gguf"``, ``device="cpu"``, ``model=None`` and ``backend`` set to a
  :class:`LlamaBackend`; a file llama.cpp cannot read raises :class:`CorruptModelError`.
- A reply behaves exactly like the transformers engine's (it is a :class:`core.engine.ChatStream`
  with another ``_generate``): the prompt is rendered and fitted with the HF tokenizer the loader
  built from the GGUF, its token ids are fed to llama.cpp, text is decoded with the same
  :class:`IncrementalDecoder`, :class:`ThinkSplitter` and :class:`StopStringFilter`, cancel is
  checked before every token, the model lock is held while generating, and the same
  :class:`Metrics` are filled (``cached_prompt_tokens`` = prompt tokens whose KV llama.cpp kept
  from the previous reply on the same context).
- Sampling runs in llama.cpp's sampler chain, in transformers' order (repetition penalty over the
  whole history, temperature, top-k, top-p, then a seeded draw; greedy = argmax). When the caller
  passes transformers ``logits_processors`` (tests force tokens with them), sampling falls back to
  the transformers engine's own ``sample`` on llama.cpp's logits, so those processors keep working.
- One llama.cpp context holds one sequence. Two replies interleaved in one thread (Compare panes on
  the same model) each get their own context: a second one is opened on demand and closed when
  idle again, so memory goes back to one context afterwards.
- Threads: ``PLAYGROUND_LLAMA_THREADS``, else the physical cores (best on an idle machine; on a
  shared one fewer threads are much faster, see docs/PERFORMANCE.md). Window: ``PLAYGROUND_LLAMA_CTX``,
  else the native window capped at 8192 tokens; ``loaded.context_length`` is that window, so the
  conversation is fitted to what llama.cpp really holds.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.engine import (
    ChatStream,
    Chunk,
    IncrementalDecoder,
    PeakMemory,
    StopStringFilter,
    TokenLogprob,
    _starts_in_reasoning,
    build_processors,
    sample,
)
from core.context import render_prompt
from core.errors import CorruptModelError, PlaygroundError
from core.thinking import ThinkSplitter

if TYPE_CHECKING:
    from collections.abc import Iterator

    from core.loading import LoadedModel, LoadProgress
    from core.registry import ModelSpec

KIND = "llama.cpp"
DEFAULT_CONTEXT = 8192  # tokens: llama.cpp allocates the whole KV cache up front
MAX_IDLE_CONTEXTS = 1
INSTALL_HINT = (
    "Install it with `make llama` (builds llama-cpp-python once into ~/.cache/qwen-playground/wheels, "
    "about 20 minutes; later installs reuse the wheel)."
)
MISSING_NOTICE = (
    "llama.cpp is not installed, so this GGUF runs through transformers (fp32); llama.cpp would be about "
    "2x faster on the CPU. " + INSTALL_HINT
)


def available() -> bool:
    """True when llama-cpp-python imports (its shared library loads) in this environment."""
    try:
        import llama_cpp  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def default_threads() -> int:
    """Threads for llama.cpp: ``PLAYGROUND_LLAMA_THREADS``, else the physical cores this process may use."""
    configured = os.environ.get("PLAYGROUND_LLAMA_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(usable, psutil.cpu_count(logical=False) or usable))


def context_size(native: int) -> int:
    """The KV window to allocate: ``PLAYGROUND_LLAMA_CTX``, else the native window capped at 8192 tokens."""
    configured = os.environ.get("PLAYGROUND_LLAMA_CTX", "").strip()
    if configured.isdigit() and int(configured) >= 256:
        return min(int(configured), native)
    return min(native, DEFAULT_CONTEXT)


# --- one llama.cpp context --------------------------------------------------------------------------


class LlamaContext:
    """One ``llama_cpp.Llama`` (weights + one KV sequence) and the token ids its KV holds."""

    def __init__(self, path: str, n_ctx: int, n_threads: int) -> None:
        from llama_cpp import Llama

        try:
            self.llm = Llama(
                model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise CorruptModelError(
                f"llama.cpp could not read {path} ({type(exc).__name__}: {str(exc)[:160]}).",
                "The file is not a valid GGUF model, or it is truncated: delete it and fetch it again.",
            ) from exc
        import llama_cpp

        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._is_eog = llama_cpp.llama_vocab_is_eog
        self.n_vocab = self.llm.n_vocab()
        self.dirty = False  # a reply failed half-way: do not trust the KV

    def cached_tokens(self) -> list[int]:
        return [] if self.dirty else self.llm.input_ids[: self.llm.n_tokens].tolist()

    def common_prefix(self, ids: list[int]) -> int:
        """Tokens at the start of ``ids`` whose KV this context already holds (at most len(ids) - 1)."""
        cached = self.cached_tokens()
        count = 0
        for a, b in zip(cached, ids):
            if a != b:
                break
            count += 1
        return min(count, len(ids) - 1)  # the last prompt token is always fed again: it gives the logits

    def prefill(self, ids: list[int], reuse: bool) -> int:
        """Put ``ids`` in the KV cache, reusing the common prefix when ``reuse``; returns the reused count."""
        keep = self.common_prefix(ids) if reuse else 0
        if keep > 0 and not self.llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            keep = 0  # this model's memory cannot be cut at a position: start over
        if keep == 0:
            self.llm.reset()
        self.llm.n_tokens = keep
        self.dirty = True
        self.llm.eval(ids[keep:])
        self.dirty = False
        return keep

    def feed(self, token_id: int) -> None:
        self.dirty = True
        self.llm.eval([token_id])
        self.dirty = False

    def logits(self) -> Any:  # torch [1, V] float32, a copy of the last position's logits
        import numpy as np
        import torch

        pointer = self.llm._ctx.get_logits_ith(-1)
        return torch.from_numpy(np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()).view(1, -1)

    def is_eog(self, token_id: int) -> bool:
        return bool(self._is_eog(self._vocab, token_id))

    def close(self) -> None:
        self.llm.close()


def build_sampler(llm: Any, params: Any, history: list[int]) -> Any:
    """llama.cpp's sampler chain for ``params``, in transformers' order, primed with ``history``."""
    import llama_cpp
    from llama_cpp._internals import LlamaSampler

    sampler = LlamaSampler()
    if params.repetition_penalty != 1.0:
        # penalty over the whole history, like transformers' RepetitionPenaltyLogitsProcessor
        sampler.add_penalties(llm.n_vocab(), llm.n_ctx(), params.repetition_penalty, 0.0, 0.0)
        for token_id in history:
            sampler.accept(token_id)
    if params.greedy:
        sampler.add_greedy()
        return sampler
    sampler.add_temp(params.temperature)
    if params.top_k > 0:
        sampler.add_top_k(params.top_k)
    if params.top_p < 1.0:
        sampler.add_top_p(params.top_p, 1)
    seed = params.seed if params.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED  # default: a random seed
    sampler.add_dist(seed & 0xFFFFFFFF)
    return sampler


# --- the backend -----------------------------------------------------------------------------------


class LlamaBackend:
    """Serves one GGUF file: a small pool of llama.cpp contexts (one per interleaved reply)."""

    kind = KIND

    def __init__(self, path: str, n_ctx: int, n_threads: int) -> None:
        self.path, self.n_ctx, self.n_threads = path, n_ctx, n_threads
        self._pool_lock = threading.Lock()
        self._idle: list[LlamaContext] = [LlamaContext(path, n_ctx, n_threads)]
        self._busy = 0
        self.contexts_opened = 1
        self.closed = False

    @property
    def first(self) -> LlamaContext | None:
        return self._idle[0] if self._idle else None

    @property
    def idle_contexts(self) -> int:
        """Contexts open and waiting (memory held beyond the replies now streaming)."""
        return len(self._idle)

    def acquire(self, prompt_ids: list[int]) -> LlamaContext:
        """The idle context sharing the longest prefix with ``prompt_ids``, or a new one if none is idle."""
        with self._pool_lock:
            if self.closed:
                raise PlaygroundError("The model was unloaded.", "Load it again from the sidebar.")
            self._busy += 1
            if self._idle:
                best = max(self._idle, key=lambda c: c.common_prefix(prompt_ids))
                self._idle.remove(best)
                return best
            self.contexts_opened += 1
        return LlamaContext(self.path, self.n_ctx, self.n_threads)

    def release(self, context: LlamaContext) -> None:
        with self._pool_lock:
            self._busy -= 1
            self._idle.insert(0, context)  # most recent first: its KV is the likeliest next prefix
            keep = 0 if self.closed else MAX_IDLE_CONTEXTS
            extra = self._idle[keep:]
            del self._idle[keep:]
        for surplus in extra:
            surplus.close()

    def stream_chat(
        self,
        loaded: LoadedModel,
        messages: list[Any],
        params: Any,
        *,
        thinking: bool | None,
        cancel: threading.Event | None,
        logits_processors: list[Any] | None,
        prefix_cache: bool,
        ignore_eos: bool,
    ) -> LlamaChatStream:
        return LlamaChatStream(loaded, messages, params, thinking, cancel, logits_processors, prefix_cache, ignore_eos)

    def close(self) -> None:
        """Free every idle context now; a context still streaming is freed when its reply ends."""
        with self._pool_lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for context in idle:
            context.close()


# --- the stream ------------------------------------------------------------------------------------


class LlamaChatStream(ChatStream):
    """A :class:`ChatStream` whose tokens come from llama.cpp (same lock, errors, metrics and text path)."""

    def _generate(self, answer: list[str], reasoning: list[str]) -> Iterator[Chunk]:
        loaded, params, metrics = self.loaded, self.params, self.reply.metrics
        backend: LlamaBackend | None = loaded.backend
        if backend is None:
            raise PlaygroundError("The model was unloaded.", "Load it again from the sidebar.")
        tokenizer = loaded.tokenizer
        prompt = render_prompt(tokenizer, self.fit.messages, self.thinking)
        prompt_ids: list[int] = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        metrics.prompt_tokens = len(prompt_ids)
        decoder = IncrementalDecoder(tokenizer)
        splitter = ThinkSplitter(_starts_in_reasoning(prompt))
        stops = StopStringFilter(params.stop)
        memory = PeakMemory("cpu")
        logprobs: list[TokenLogprob] | None = [] if params.logprobs else None
        self.reply.logprobs = logprobs
        gen_start = time.perf_counter()
        self._first_token_at: float | None = None
        context = backend.acquire(prompt_ids)
        try:
            metrics.cached_prompt_tokens = context.prefill(prompt_ids, reuse=self.use_prefix_cache)
            metrics.stop_reason = "length"
            pick = self._picker(context, prompt_ids)
            yield from self._decode(context, pick, decoder, splitter, stops, memory, logprobs, answer, reasoning,
                                    gen_start)  # fmt: skip
        finally:
            backend.release(context)
            self._measure(memory)

    def _picker(self, context: LlamaContext, prompt_ids: list[int]) -> Any:
        """``(history) -> token id`` for the next position: llama.cpp's sampler chain, or transformers'
        ``sample`` with its processors (the caller's included) on llama.cpp's logits."""
        params = self.params
        if not self.extra_processors:
            sampler = build_sampler(context.llm, params, prompt_ids)
            return lambda history: sampler.sample(context.llm._ctx, -1)
        import torch

        processors = build_processors(params)
        processors.extend(self.extra_processors)
        generator = None
        if params.seed is not None and not params.greedy:
            generator = torch.Generator().manual_seed(params.seed)

        def pick(history: list[int]) -> int:
            ids = torch.tensor([history], dtype=torch.long)  # [1, S]
            return int(sample(context.logits(), ids, processors, params, generator))

        return pick

    def _decode(
        self,
        context: LlamaContext,
        pick: Any,
        decoder: IncrementalDecoder,
        splitter: ThinkSplitter,
        stops: StopStringFilter,
        memory: PeakMemory,
        logprobs: list[TokenLogprob] | None,
        answer: list[str],
        reasoning: list[str],
        gen_start: float,
    ) -> Iterator[Chunk]:
        history = context.cached_tokens()  # prompt + generated so far (processors see it)
        eos = set(self.loaded.eos_token_ids)

        def advance(token_id: int) -> None:
            history.append(token_id)
            context.feed(token_id)

        yield from self._token_loop(
            lambda: int(pick(history)), context.logits, advance,
            lambda token_id: token_id in eos or context.is_eog(token_id),
            decoder, splitter, stops, memory, logprobs, answer, reasoning, gen_start,
        )  # fmt: skip


# --- loading ----------------------------------------------------------------------------------------


def _gguf_metadata(context: LlamaContext) -> dict[str, str]:
    return dict(getattr(context.llm, "metadata", {}) or {})


def load_gguf(
    name: str,
    path: Path,
    spec: ModelSpec | None,
    tokenizer: Any,
    notices: list[str],
    started: float,
    progress: LoadProgress | None = None,
) -> LoadedModel:
    """Open ``path`` in llama.cpp; ``tokenizer`` is the HF tokenizer the loader built from the same file."""
    import psutil

    from core.loading import LoadedModel, SerializedTokenizer

    report = progress or (lambda _f, _m: None)
    report(0.2, "Loading the GGUF into llama.cpp…")
    process = psutil.Process()
    rss_before = process.memory_info().rss
    native = spec.context_length if spec is not None else 32768
    threads = default_threads()
    n_ctx = context_size(native)
    backend = LlamaBackend(str(path), n_ctx, threads)
    metadata = _gguf_metadata(backend.first) if backend.first else {}
    arch = metadata.get("general.architecture", "unknown")
    trained = int(metadata.get(f"{arch}.context_length", native) or native)
    if spec is None and context_size(trained) != n_ctx:  # a local file: its own window decides
        backend.close()
        n_ctx = context_size(trained)
        backend = LlamaBackend(str(path), n_ctx, threads)
    rss_delta = process.memory_info().rss - rss_before
    template = getattr(tokenizer, "chat_template", None) or ""
    notices.append(f"Running natively in llama.cpp ({threads} thread{'s' if threads > 1 else ''}); pick fp32 to use "
                   "transformers instead.")  # fmt: skip
    result = LoadedModel(
        name=name,
        source=str(path),
        model=None,
        tokenizer=SerializedTokenizer(tokenizer),
        quant="gguf",
        device="cpu",
        context_length=n_ctx,
        supports_thinking=spec.thinking if spec is not None else "enable_thinking" in template,
        family=spec.family if spec is not None else arch,
        load_seconds=time.perf_counter() - started,
        memory_bytes=max(rss_delta, path.stat().st_size),
        spec=spec,
        notices=notices,
        backend=backend,
    )
    report(1.0, f"Loaded in llama.cpp in {result.load_seconds:.1f} s, {result.memory_bytes / 2**20:.0f} MiB.")
    return result
