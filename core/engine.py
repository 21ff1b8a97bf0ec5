"""The streaming engine: a conversation in, text chunks out, metrics at the end.

Contract:
- :func:`stream_chat` returns a :class:`ChatStream`; iterating it yields
  :class:`Chunk` objects (kind "reasoning" or "answer") as tokens are decoded.
  It runs in the caller's thread, so any UI can consume it, and it never
  knows who shows the text.
- When iteration ends, for any reason (end of sequence, length, stop string,
  the ``cancel`` event, the consumer closing the generator, an exception),
  ``stream.reply`` holds the full text produced so far with its metrics:
  partial text is never lost.
- Cancellation is checked before every token, so generation stops within one
  token of ``cancel.set()``.
- One loaded model serves several threads: the model's lock is held while
  generating; the time spent waiting for it is reported as ``queue_wait_s``.
  Within one thread the lock is re-entrant, so several streams on the same
  model can be advanced in turn (side-by-side comparison).

Generation is a ladder of small functions, as in gpt-fast:
``prefill`` → ``decode_one_token`` → ``sample`` (with transformers' logits
processors for repetition penalty, temperature, top-k and top-p).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch

from core.context import FitResult, Message, fit_messages, render_prompt
from core.errors import OutOfMemoryError, PlaygroundError
from core.loading import LoadedModel, ModelLock, free_memory
from core.params import GenerationParams
from core.thinking import ThinkSplitter

StopReason = Literal["eos", "length", "stop", "cancelled", "error"]
TOP_ALTERNATIVES = 5


@dataclass(frozen=True)
class Chunk:
    kind: Literal["reasoning", "answer"]
    text: str


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the top alternatives (model distribution)."""

    token: str
    logprob: float
    top: list[tuple[str, float]]


@dataclass
class Metrics:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_chars: int = 0
    ttft_s: float | None = None  # generation start → first token
    decode_tokens_per_s: float | None = None  # tokens after the first ÷ time after the first
    total_s: float = 0.0  # including queue wait and prefill
    queue_wait_s: float = 0.0
    cached_prompt_tokens: int = 0  # prompt tokens whose KV came from the prefix cache (not prefilled)
    peak_memory_bytes: int = 0  # CUDA max allocated, or process RSS on the CPU
    stop_reason: StopReason = "eos"
    trimmed: bool = False
    dropped_turns: int = 0
    dropped_tokens: int = 0
    device: str = "cpu"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reply:
    text: str = ""  # the answer (think block removed)
    reasoning: str = ""
    metrics: Metrics = field(default_factory=Metrics)
    logprobs: list[TokenLogprob] | None = None
    reasoning_tokens: int = 0

    @property
    def stopped(self) -> bool:
        return self.metrics.stop_reason == "cancelled"


# --- sampling ladder --------------------------------------------------------------------------


def build_processors(params: GenerationParams) -> Any:
    """transformers' own logits processors for the requested sampling."""
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList()
    if params.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
    if not params.greedy:
        processors.append(TemperatureLogitsWarper(params.temperature))
        if params.top_k > 0:
            processors.append(TopKLogitsWarper(params.top_k))
        if params.top_p < 1.0:
            processors.append(TopPLogitsWarper(params.top_p))
    return processors


def sample(
    logits: torch.Tensor,  # [1, V] float
    history: torch.Tensor,  # [1, S] long: prompt + generated so far
    processors: Any,
    params: GenerationParams,
    generator: torch.Generator | None,
) -> torch.Tensor:  # [1] long
    scores = processors(history, logits.float())
    if params.greedy:
        return scores.argmax(dim=-1)
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


def prefill(model: Any, input_ids: torch.Tensor, cache: Any) -> torch.Tensor:
    """Run the prompt ([1, S]) through the model; return the last position's logits [1, V]."""
    with torch.inference_mode():
        out = model(input_ids=input_ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return out.logits[:, -1, :]


def decode_one_token(model: Any, token: torch.Tensor, cache: Any) -> torch.Tensor:
    """Feed one token ([1]) with the cache; return next logits [1, V]."""
    with torch.inference_mode():
        out = model(input_ids=token.view(1, 1), past_key_values=cache, use_cache=True)
    return out.logits[:, -1, :]


def token_logprob(tokenizer: Any, logits: torch.Tensor, token_id: int) -> TokenLogprob:
    logprobs = torch.log_softmax(logits.float(), dim=-1)[0]
    values, indices = logprobs.topk(TOP_ALTERNATIVES)
    top = [(tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, indices, strict=True)]
    return TokenLogprob(tokenizer.decode([token_id]), float(logprobs[token_id]), top)


# --- incremental decoding and stop strings ------------------------------------------------------


class IncrementalDecoder:
    """Turns token ids into text pieces, holding back incomplete UTF-8 sequences."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._emitted = 0  # characters of the decoded text already returned

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        text = self._tokenizer.decode(self._ids, skip_special_tokens=False)
        if text.endswith("\ufffd"):  # a multi-byte character is not complete yet
            return ""
        piece, self._emitted = text[self._emitted :], len(text)
        return piece


class StopStringFilter:
    """Holds back just enough answer text to cut it at the first stop string."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._hold = max((len(s) for s in stops), default=1) - 1
        self._buffer = ""
        self.hit = False

    def feed(self, text: str) -> str:
        if not self._stops:
            return text
        self._buffer += text
        cut = min((i for i in (self._buffer.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.hit = True
            out, self._buffer = self._buffer[:cut], ""
            return out
        keep = len(self._buffer) - self._hold
        out, self._buffer = self._buffer[: max(keep, 0)], self._buffer[max(keep, 0) :]
        return out

    def flush(self) -> str:
        out, self._buffer = self._buffer, ""
        return out


# --- memory ------------------------------------------------------------------------------------


class PeakMemory:
    """Tracks peak memory: CUDA max allocated on a GPU, sampled process RSS on the CPU."""

    def __init__(self, device: str) -> None:
        self._cuda = device == "cuda" and torch.cuda.is_available()
        self.peak = 0
        if self._cuda:
            torch.cuda.reset_peak_memory_stats()
        else:
            import psutil

            self._process = psutil.Process()
        self.sample()

    def sample(self) -> None:
        if self._cuda:
            self.peak = max(self.peak, int(torch.cuda.max_memory_allocated()))
        else:
            self.peak = max(self.peak, int(self._process.memory_info().rss))


# --- KV cache strategy: dynamic (with prefix reuse) or the static fast path --------------------------


class _Stepper:
    """Owns the KV cache of one reply: prefill, one-token steps, and what is kept afterwards.

    It uses the model's static fast-path decoder when :func:`core.fast_path.choose` says so and
    the reply fits; otherwise a DynamicCache, reusing a cached prefix from earlier turns. If the
    fast path fails at any point (e.g. torch.compile errors on the first step), it is disabled for
    this model and the reply continues on the dynamic path from the tokens fed so far.
    """

    def __init__(self, loaded: LoadedModel, reuse_prefix: bool, total_tokens: int) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.reuse_prefix = reuse_prefix
        self.fed_ids: list[int] = []  # tokens whose KV the cache holds, in order
        self.reused = 0
        self.cache: Any = None
        self.fast = self._fast_decoder(total_tokens)

    def _fast_decoder(self, total_tokens: int) -> Any:
        from core import fast_path

        loaded = self.loaded
        if loaded.fast_path_failed:
            loaded.fast_path_note = loaded.fast_path_failed
            return None
        use, loaded.fast_path_note = fast_path.choose(loaded.device, loaded.quant)
        if not use:
            return None
        if loaded.fast_decoder is None:
            try:
                size = min(loaded.context_length, fast_path.DEFAULT_MAX_CACHE)
                loaded.fast_decoder = fast_path.StaticDecoder(self.model, max_cache_len=size)
            except Exception as exc:  # noqa: BLE001 - the dynamic path always works
                self._disable(exc)
                return None
        decoder = loaded.fast_decoder
        if decoder.busy or not decoder.fits(total_tokens):
            return None
        decoder.busy = True
        return decoder

    def _disable(self, exc: BaseException) -> None:
        note = f"fast path failed ({type(exc).__name__}: {str(exc)[:120]}); using the dynamic cache"
        self.loaded.fast_path_failed = self.loaded.fast_path_note = note
        if self.fast is not None:
            self.fast.busy = False
        self.loaded.fast_decoder = None
        self.fast = None

    def prefill(self, input_ids: torch.Tensor) -> torch.Tensor:  # input_ids: [1, S] -> logits [1, V]
        prompt = input_ids[0].tolist()
        self.fed_ids = list(prompt)
        if self.fast is not None:
            try:
                self.reused = self.fast.cached_prefix(prompt) if self.reuse_prefix else 0
                return self.fast.prefill(input_ids, self.reused)
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)
        cache, self.reused = self.loaded.prefix_cache.take(prompt) if self.reuse_prefix else (None, 0)
        if cache is None:
            from transformers import DynamicCache

            cache = DynamicCache(config=self.model.config)
        self.cache = cache
        return prefill(self.model, input_ids[:, self.reused :], cache)

    def step(self, token: torch.Tensor) -> torch.Tensor:  # token: [1] -> logits [1, V]
        self.fed_ids.append(int(token))
        if self.fast is not None:
            try:
                return self.fast.step(token)
            except Exception as exc:  # noqa: BLE001 - rebuild on the dynamic path below
                self._disable(exc)
                from transformers import DynamicCache

                self.cache = DynamicCache(config=self.model.config)
                ids = torch.tensor([self.fed_ids], device=self.model.device)  # [1, fed]
                return prefill(self.model, ids, self.cache)
        return decode_one_token(self.model, token, self.cache)

    def finish(self, keep: bool) -> None:
        """After a reply: free the static decoder; keep the dynamic KV for the next turn if sound."""
        if self.fast is not None:
            self.fast.busy = False
        if keep and self.cache is not None and self.reuse_prefix and self.loaded.model is not None:
            self.loaded.prefix_cache.put(self.fed_ids, self.cache)


# --- the stream --------------------------------------------------------------------------------


def _acquire(lock: ModelLock, cancel: threading.Event | None) -> bool:
    """Wait for the model's lock; give up (False) if cancelled while waiting."""
    while not lock.acquire(timeout=0.05):
        if cancel is not None and cancel.is_set():
            return False
    return True


def _starts_in_reasoning(prompt: str) -> bool:
    return prompt.rstrip(" ").endswith("<think>\n")


class StreamBase:
    """What every engine's stream shares: iterate once to get :class:`Chunk` objects (``_run``),
    ``answer_text`` for the answer alone, ``close`` to cancel. Subclasses set ``cancel`` and
    ``reply`` and implement ``_run``."""

    cancel: threading.Event
    reply: Reply
    _iterator: Iterator[Chunk] | None = None

    def __iter__(self) -> Iterator[Chunk]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    def answer_text(self) -> Iterator[str]:
        """Only the answer pieces, as plain strings (for ``st.write_stream``)."""
        for chunk in self:
            if chunk.kind == "answer":
                yield chunk.text

    def close(self) -> None:
        self.cancel.set()
        if self._iterator is not None:
            try:
                self._iterator.close()  # type: ignore[attr-defined]
            except ValueError:  # being iterated by another thread right now: the cancel event stops it
                pass

    def _run(self) -> Iterator[Chunk]:
        raise NotImplementedError


class ChatStream(StreamBase):
    """Iterable of :class:`Chunk`; ``reply`` is complete once iteration has ended."""

    def __init__(
        self,
        loaded: LoadedModel,
        messages: list[Message],
        params: GenerationParams,
        thinking: bool | None,
        cancel: threading.Event | None,
        logits_processors: list[Any] | None,
        prefix_cache: bool = True,
        ignore_eos: bool = False,
    ) -> None:
        self.loaded = loaded
        self.params = params
        self.thinking = thinking if loaded.supports_thinking else None
        self.cancel = cancel or threading.Event()
        self.extra_processors = logits_processors or []
        self.use_prefix_cache = prefix_cache
        self.ignore_eos = ignore_eos  # benchmarks: decode exactly max_new_tokens
        # Fitting runs eagerly so an oversized message raises before any UI starts streaming.
        self.fit: FitResult = fit_messages(
            loaded.tokenizer, messages, loaded.context_length, params.max_new_tokens, self.thinking
        )
        self.reply = Reply()
        self._iterator: Iterator[Chunk] | None = None

    def _run(self) -> Iterator[Chunk]:
        loaded, params, metrics = self.loaded, self.params, self.reply.metrics
        metrics.device = loaded.device
        metrics.trimmed = self.fit.trimmed
        metrics.dropped_turns = len(self.fit.dropped_indices)
        metrics.dropped_tokens = self.fit.dropped_tokens
        started = time.perf_counter()
        if not _acquire(loaded.lock, self.cancel):
            metrics.stop_reason = "cancelled"
            metrics.queue_wait_s = metrics.total_s = time.perf_counter() - started
            return
        metrics.queue_wait_s = time.perf_counter() - started
        answer: list[str] = []
        reasoning: list[str] = []
        try:
            yield from self._generate(answer, reasoning)
        except torch.cuda.OutOfMemoryError as exc:
            metrics.stop_reason, metrics.error = "error", str(exc)[:300]
            free_memory()
            raise OutOfMemoryError(
                "The GPU ran out of memory while generating.",
                "Lower max_new_tokens, shorten the chat, or use a smaller quantization.",
            ) from exc
        except GeneratorExit:
            metrics.stop_reason = "cancelled"
            raise
        except Exception as exc:
            metrics.stop_reason, metrics.error = "error", f"{type(exc).__name__}: {exc}"[:300]
            raise PlaygroundError(f"Generation failed: {metrics.error}", "Try again, or reload the model.") from exc
        finally:
            loaded.lock.release()
            self.reply.text = "".join(answer)
            self.reply.reasoning = "".join(reasoning)
            metrics.reasoning_chars = len(self.reply.reasoning)
            metrics.total_s = time.perf_counter() - started

    def _generate(self, answer: list[str], reasoning: list[str]) -> Iterator[Chunk]:
        loaded, params, metrics = self.loaded, self.params, self.reply.metrics
        model, tokenizer = loaded.model, loaded.tokenizer
        if model is None:
            raise PlaygroundError("The model was unloaded.", "Load it again from the sidebar.")
        device = model.device
        prompt = render_prompt(tokenizer, self.fit.messages, self.thinking)
        input_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(device)  # [1, S]
        metrics.prompt_tokens = int(input_ids.shape[1])
        processors = build_processors(params)
        processors.extend(self.extra_processors)
        generator = None
        if params.seed is not None and not params.greedy:
            generator = torch.Generator(device=device).manual_seed(params.seed)
        prompt_list = input_ids[0].tolist()
        stepper = _Stepper(loaded, self.use_prefix_cache, len(prompt_list) + params.max_new_tokens)
        decoder = IncrementalDecoder(tokenizer)
        splitter = ThinkSplitter(_starts_in_reasoning(prompt))
        stops = StopStringFilter(params.stop)
        memory = PeakMemory(loaded.device)
        logprobs: list[TokenLogprob] | None = [] if params.logprobs else None
        self.reply.logprobs = logprobs
        gen_start = time.perf_counter()
        self._first_token_at: float | None = None
        failed = False
        try:
            logits = stepper.prefill(input_ids)
            metrics.cached_prompt_tokens = stepper.reused
            metrics.stop_reason = "length"
            yield from self._decode_loop(
                logits, input_ids, stepper, processors, generator, decoder, splitter, stops, memory,
                logprobs, answer, reasoning, gen_start,
            )  # fmt: skip
        except Exception:
            failed = True  # a forward pass may have stopped half-way: the cache is not trustworthy
            raise
        finally:
            stepper.finish(keep=not failed)
            self._measure(memory)

    def _measure(self, memory: PeakMemory) -> None:
        """Speed and peak memory, however the reply ended (a stopped reply too)."""
        metrics = self.reply.metrics
        memory.sample()
        metrics.peak_memory_bytes = memory.peak
        if self._first_token_at is not None and metrics.completion_tokens > 1:
            elapsed = time.perf_counter() - self._first_token_at
            metrics.decode_tokens_per_s = (metrics.completion_tokens - 1) / elapsed if elapsed > 0 else None

    def _decode_loop(
        self,
        logits: torch.Tensor,
        history: torch.Tensor,
        stepper: _Stepper,
        processors: Any,
        generator: torch.Generator | None,
        decoder: IncrementalDecoder,
        splitter: ThinkSplitter,
        stops: StopStringFilter,
        memory: PeakMemory,
        logprobs: list[TokenLogprob] | None,
        answer: list[str],
        reasoning: list[str],
        gen_start: float,
    ) -> Iterator[Chunk]:
        state = {"logits": logits, "history": history}  # logits [1, V], history [1, S]
        eos = set(self.loaded.eos_token_ids)

        def next_token() -> int:
            state["token"] = sample(state["logits"], state["history"], processors, self.params, generator)  # [1]
            return int(state["token"])

        def advance(_token_id: int) -> None:
            token = state["token"]
            state["history"] = torch.cat([state["history"], token.view(1, 1)], dim=1)
            state["logits"] = stepper.step(token)

        yield from self._token_loop(
            next_token, lambda: state["logits"], advance, eos.__contains__,
            decoder, splitter, stops, memory, logprobs, answer, reasoning, gen_start,
        )  # fmt: skip

    def _token_loop(
        self,
        next_token: Callable[[], int],
        current_logits: Callable[[], torch.Tensor],
        advance: Callable[[int], None],
        is_eos: Callable[[int], bool],
        decoder: IncrementalDecoder,
        splitter: ThinkSplitter,
        stops: StopStringFilter,
        memory: PeakMemory,
        logprobs: list[TokenLogprob] | None,
        answer: list[str],
        reasoning: list[str],
        gen_start: float,
    ) -> Iterator[Chunk]:
        """The decode loop every in-process engine shares: ``next_token()`` draws a token from the current
        logits (``current_logits()``, [1, V]), ``advance(token_id)`` feeds an accepted token to the model.
        Checks cancel before every token, stops at EOS (``is_eos``), a stop string or max_new_tokens."""
        params, metrics = self.params, self.reply.metrics
        for step in range(params.max_new_tokens):
            if self.cancel.is_set():
                metrics.stop_reason = "cancelled"
                break
            token_id = next_token()
            if self._first_token_at is None:
                self._first_token_at = time.perf_counter()
                metrics.ttft_s = self._first_token_at - gen_start
            if is_eos(token_id) and not self.ignore_eos:
                metrics.stop_reason = "eos"
                break
            metrics.completion_tokens += 1
            if logprobs is not None:
                logprobs.append(token_logprob(self.loaded.tokenizer, current_logits(), token_id))
            for chunk in self._pieces(splitter.feed(decoder.push(token_id)), stops, answer, reasoning):
                yield chunk
            if stops.hit:
                metrics.stop_reason = "stop"
                break
            if step % 16 == 0:
                memory.sample()
            if step + 1 < params.max_new_tokens:
                advance(token_id)
        if not stops.hit:
            for chunk in self._pieces(splitter.flush(), stops, answer, reasoning, final=True):
                yield chunk

    def _pieces(
        self,
        pieces: list[tuple[str, str]],
        stops: StopStringFilter,
        answer: list[str],
        reasoning: list[str],
        final: bool = False,
    ) -> Iterator[Chunk]:
        """Route splitter output: reasoning straight out, answer through the stop-string filter."""
        for kind, text in pieces:
            if kind == "reasoning":
                reasoning.append(text)
                yield Chunk("reasoning", text)
                continue
            text = stops.feed(text)
            if text:
                answer.append(text)
                yield Chunk("answer", text)
            if stops.hit:
                return
        if final:
            rest = stops.flush()
            if rest:
                answer.append(rest)
                yield Chunk("answer", rest)


def stream_chat(
    loaded: LoadedModel,
    messages: list[Message],
    params: GenerationParams | None = None,
    *,
    thinking: bool | None = None,
    cancel: threading.Event | None = None,
    logits_processors: list[Any] | None = None,
    prefix_cache: bool = True,
    ignore_eos: bool = False,
) -> ChatStream:
    """Start a streamed reply to ``messages`` (validated and fitted to the context window now).

    With ``prefix_cache`` the KV cache of earlier turns is reused, so a new turn only
    prefills the tokens that changed (see core.prefix_cache). A model served by another engine
    (``loaded.backend``, see core.backend) streams through that engine under the same contract.
    """
    if loaded.backend is not None:
        return loaded.backend.stream_chat(
            loaded, messages, params or GenerationParams(), thinking=thinking, cancel=cancel,
            logits_processors=logits_processors, prefix_cache=prefix_cache, ignore_eos=ignore_eos,
        )  # fmt: skip
    return ChatStream(
        loaded, messages, params or GenerationParams(), thinking, cancel, logits_processors, prefix_cache, ignore_eos
    )


def complete(
    loaded: LoadedModel,
    messages: list[Message],
    params: GenerationParams | None = None,
    *,
    thinking: bool | None = None,
    cancel: threading.Event | None = None,
    prefix_cache: bool = True,
) -> Reply:
    """Non-streaming convenience: run the stream to the end and return the reply."""
    stream = stream_chat(loaded, messages, params, thinking=thinking, cancel=cancel, prefix_cache=prefix_cache)
    for _ in stream:
        pass
    return stream.reply


def text_generator(loaded: LoadedModel, **param_overrides: Any) -> Callable[[list[Message], int], str]:
    """A ``(messages, max_new_tokens) -> text`` callable (greedy by default), for rails and RAG."""
    base = GenerationParams(temperature=0.0, repetition_penalty=1.0).with_(**param_overrides)

    def generate(messages: list[Message], max_new_tokens: int = 256) -> str:
        return complete(loaded, messages, base.with_(max_new_tokens=max_new_tokens)).text

    return generate
