"""RAG and guardrails in a Compare pane: the stream factory that honours a pane's two switches.

Contract of :func:`make_stream_factory` ``(rag_for, guard_for) -> core.compare.StreamFactory``:

- A pane with neither switch on gets the plain engine stream
  (:func:`core.compare.default_stream`): its figures are exactly a plain pane's.
- Otherwise the factory, called by :func:`core.compare.run_comparison` once the
  pane's model is loaded, does in order:

  1. **Input rails** (guardrails on): ``guard_for(config, loaded)`` gives the
     :class:`GuardSetup` (policy and rails); the input rails check the new prompt
     (earlier turns were checked when they were new). A block ends the pane with the
     policy's refusal: nothing is retrieved or generated.
  2. **Safety prompt** (guardrails on): the policy's safety prompt goes before the
     pane's own system prompt (:func:`core.guardrails.merge_system_prompt`).
  3. **Retrieval** (RAG on): ``rag_for(config, loaded)`` gives the :class:`RagSetup`
     (collection, retriever, prompt budget); :func:`rag.answer.prepare` retrieves
     and builds the grounded prompt under the budget, capped by the model's window
     less the reply. The system message gets the grounding rules, the new user
     message becomes the numbered sources plus the question; earlier turns stay as
     they were (the pane's history keeps the plain prompt). When nothing is retrieved,
     or nothing fits, the model is not asked and the reply says so, as on the RAG page.
  4. **Generation** through :func:`core.engine.stream_chat`; with guardrails on, the
     answer passes through the output rail (:func:`core.guardrails.guard_stream`):
     text is released once checked, PII redacted, and a harmful reply is cut off:
     the engine stream is closed and a :class:`core.compare.Replace` item replaces
     everything shown with the refusal. Reasoning (Qwen3 thinking) streams as it
     comes and is dropped from a blocked reply.

  Any exception (a deleted collection, a budget that cannot fit, a store that cannot
  be reached) propagates: ``run_comparison`` shows it in that pane only.
- :func:`store_rag_for` / :func:`policy_guard_for` are plain setups for callers without a UI
  (``python -m core.compare``): the Chroma store of the environment with default retrieval,
  and a policy (default: ``config/policy.yaml``) with the rules rail.
- :class:`PaneStream` is what such a pane streams: :class:`core.engine.Chunk` items
  (and one ``Replace`` on an output block); ``reply`` is final once iteration has
  ended (the text as shown: redacted, or the refusal); ``notices`` are for the pane;
  ``timings`` holds the seconds spent outside the model: ``retrieval_s`` (opening the
  collection, embedding the question, searching, assembling the prompt),
  ``input_rails_s`` (building the rails and running them on the prompt; a guard model
  that has to be loaded counts here), ``output_rail_s`` (the output rail's checks);
  ``details`` is a JSON-ready dict, filled as
  the pane runs, with a ``"rag"`` entry (collection, settings, retrieved count,
  numbered sources with score and whether the reply cites them, citations) and a
  ``"guardrails"`` entry (policy, rails, verdict, where it blocked, category, the
  trace of every rail with its latency, warnings, redactions).

Nothing here imports Streamlit. rag is imported only when a RAG pane runs, so core
does not depend on rag (nor on langchain/chroma) at import time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.compare import PaneConfig, Replace, StreamFactory, default_stream
from core.context import Message
from core.engine import ChatStream, Chunk, Metrics, Reply, stream_chat
from core.errors import PlaygroundError
from core.guardrails import GuardrailPipeline, Policy, guard_stream, merge_system_prompt
from core.guardrails.pipeline import describe_chain
from core.loading import LoadedModel

TEMPLATE_MARGIN_TOKENS = 32  # room for the chat template around the system and user messages
MIN_SOURCE_ROOM_TOKENS = 64
EXCERPT_CHARS = 600  # source text kept per source in the details (exports, the pane's list)


@dataclass(frozen=True)
class RagSetup:
    """How a RAG pane retrieves: its collection, a ``question -> hits`` callable, the prompt budget.

    ``settings`` (k, MMR, threshold, embedding model, ...) is shown and exported as given.
    """

    collection: str
    retrieve: Callable[[str], Sequence[Any]]  # rag.retrieval.Hit objects, best first
    budget_tokens: int = 3000
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardSetup:
    """How a guardrails pane is guarded: the policy, its input rails (None: none) and the output rails."""

    policy: Policy
    pipeline: GuardrailPipeline | None = None
    output: bool = True  # the rules on the reply while it streams
    redact: bool = True  # PII redaction of the reply
    policy_label: str = ""
    notices: tuple[str, ...] = ()

    @property
    def input_rails(self) -> tuple[str, ...]:
        return self.pipeline.rails if self.pipeline is not None else ()

    def describe(self) -> str:
        """The chain of rails, e.g. ``rules → safety prompt → output rail → PII redaction``."""
        return describe_chain(self.input_rails, self.output, self.redact)


RagFor = Callable[[PaneConfig, LoadedModel], RagSetup]
GuardFor = Callable[[PaneConfig, LoadedModel], GuardSetup]


# --- messages ------------------------------------------------------------------------------------------


def split_messages(messages: Sequence[Message]) -> tuple[str, list[Message], str]:
    """``(system prompt, earlier turns, new prompt)`` of :func:`core.compare.build_messages`' output."""
    if not messages or messages[-1].get("role") != "user":
        raise PlaygroundError("A pane's messages must end with the user's prompt.")
    system = str(messages[0]["content"]) if messages[0].get("role") == "system" else ""
    start = 1 if messages[0].get("role") == "system" else 0
    return system, [dict(m) for m in messages[start:-1]], str(messages[-1]["content"])


def token_counter(loaded: LoadedModel) -> Callable[[str], int]:
    """Tokens by the model's tokenizer (its calls are serialised by the loader); an estimate without one."""
    from rag.answer import approx_tokens

    tokenizer = loaded.tokenizer

    def count(text: str) -> int:
        if tokenizer is None:
            return approx_tokens(text)
        try:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])
        except Exception:  # noqa: BLE001 - a count is only used to fit the budget; estimate instead
            return approx_tokens(text)

    return count


def prompt_budget(loaded: LoadedModel, max_new_tokens: int, budget_tokens: int) -> int:
    """``budget_tokens`` capped by the model's window less the reply and a template margin."""
    from rag.errors import ContextBudgetError

    room = loaded.context_length - max_new_tokens - TEMPLATE_MARGIN_TOKENS
    if room < MIN_SOURCE_ROOM_TOKENS:
        raise ContextBudgetError(
            f"{loaded.name}'s context window ({loaded.context_length} tokens) leaves no room for sources "
            f"after a {max_new_tokens}-token reply.",
            "Lower this pane's max new tokens, or pick a model with a longer window.",
        )
    return min(budget_tokens, room)


def _source_rows(hits: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for number, hit in enumerate(hits, start=1):
        text = " ".join(str(hit.text).split())
        excerpt = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
        rows.append({"number": number, **hit.to_dict(), "label": hit.label, "cited": False, "text": excerpt})
    return rows


# --- the pane's stream --------------------------------------------------------------------------------------


class PaneStream:
    """A RAG / guardrails pane's stream (see the module contract)."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.details: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.notices: list[str] = []
        self.engine: ChatStream | Any | None = None  # None: the reply is fixed (blocked, nothing retrieved)
        self.guard: GuardSetup | None = None
        self._fixed = ""
        self._text = ""  # the answer as shown so far (checked, redacted)
        self._blocked = False
        self._iterator: Iterator[Any] | None = None
        self._used_hits = 0

    # -- ReplyStream ---------------------------------------------------------------------------------------

    @property
    def reply(self) -> Reply:
        """The reply as shown; the engine's metrics (a cut-off reply ended because of a rail: "stop")."""
        if self.engine is None:
            return Reply(text=self._fixed, metrics=Metrics(device=self.loaded.device, stop_reason="stop"))
        engine = self.engine.reply
        if self._blocked:
            return Reply(text=self._text, metrics=replace(engine.metrics, stop_reason="stop"))
        return Reply(text=self._text, reasoning=engine.reasoning, metrics=engine.metrics, logprobs=engine.logprobs,
                     reasoning_tokens=engine.reasoning_tokens)  # fmt: skip

    def __iter__(self) -> Iterator[Any]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    def close(self) -> None:
        """Stop reading: the engine stream is closed (its partial text kept); the comparison goes on."""
        if self._iterator is not None:
            self._iterator.close()  # type: ignore[attr-defined]

    # -- running ---------------------------------------------------------------------------------------------

    def _run(self) -> Iterator[Any]:
        try:
            if self.engine is None:
                if self._fixed:
                    yield Chunk("answer", self._fixed)
                return
            yield from self._stream(iter(self.engine))
        finally:
            self._settle()

    def _stream(self, engine: Iterator[Chunk]) -> Iterator[Any]:
        try:
            first: Chunk | None = None
            for chunk in engine:  # reasoning comes first (Qwen3): shown as it streams
                if chunk.kind == "answer":
                    first = chunk
                    break
                yield chunk
            if first is None:
                return
            guard = self.guard
            if guard is None or not (guard.output or guard.redact):
                self._text += first.text
                yield first
                for chunk in engine:
                    if chunk.kind == "answer":
                        self._text += chunk.text
                    yield chunk
                return
            yield from self._guarded(first, engine, guard)
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()  # the engine's iterator, not ChatStream.close: that would set the comparison's cancel

    def _guarded(self, first: Chunk, engine: Iterator[Chunk], guard: GuardSetup) -> Iterator[Any]:
        def answers() -> Iterator[str]:
            yield first.text
            for chunk in engine:
                if chunk.kind == "answer":
                    yield chunk.text

        info = self.details["guardrails"]
        events = guard_stream(answers(), guard.policy, use_rules=guard.output, redact=guard.redact)
        try:
            for event in events:
                if event.kind == "delta":
                    self._text += event.text
                    yield Chunk("answer", event.text)
                elif event.kind == "warning":
                    info["warnings"].append(event.category)
                    info["trace"].extend(t.to_dict() for t in event.trace)
                elif event.kind == "blocked":
                    close = getattr(engine, "close", None)
                    if close is not None:
                        close()  # free the model now
                    self._blocked = True
                    self._text = event.text
                    info.update(verdict="block", blocked_at="output", category=event.category,
                                cut_chars=len(self._text))  # fmt: skip
                    self._record_output_trace(event.trace)
                    yield Replace(event.text)
                elif event.kind == "done":
                    self._text = event.text
                    self._record_output_trace(event.trace)
                    for span in event.spans:
                        info["redactions"][span.kind] = info["redactions"].get(span.kind, 0) + 1
        finally:
            events.close()

    def _record_output_trace(self, trace: Sequence[Any]) -> None:
        info = self.details["guardrails"]
        info["trace"].extend(t.to_dict() for t in trace)
        output_ms = sum(t.latency_ms for t in trace if t.rail == "output")
        self.timings["output_rail_s"] = output_ms / 1000.0

    def _settle(self) -> None:
        """Citations of the final text, and the guardrails verdict of a reply that passed."""
        rag = self.details.get("rag")
        if rag is not None and rag.get("sources"):
            from rag.answer import parse_citations

            valid, invalid = parse_citations(self.reply.text, self._used_hits)
            rag["citations"], rag["invalid_citations"] = valid, invalid
            for row in rag["sources"]:
                row["cited"] = row["number"] in valid
        info = self.details.get("guardrails")
        if info is not None and info.get("verdict") is None:
            info["verdict"] = "warn" if info["warnings"] else "allow"


# --- the factory -------------------------------------------------------------------------------------------


def _check_input(stream: PaneStream, guard: GuardSetup, prompt: str, started: float) -> bool:
    """Run the input rails into the details; True when they block."""
    info = stream.details["guardrails"]
    if guard.pipeline is None:
        stream.timings["input_rails_s"] = 0.0
        return False
    result = guard.pipeline.check_input(prompt)
    stream.timings["input_rails_s"] = time.perf_counter() - started  # building the rails included
    info["trace"].extend(t.to_dict() for t in result.trace)
    info["input_verdict"] = result.verdict
    if result.blocked:
        info.update(verdict="block", blocked_at="input", category=result.category, rail=result.rail)
        stream._fixed = result.message
        return True
    if result.verdict == "warn":
        info["warnings"].append(result.category)
    return False


def _retrieve(stream: PaneStream, setup: RagSetup, config: PaneConfig, loaded: LoadedModel, system: str,
              prompt: str, started: float) -> list[Message] | None:  # fmt: skip
    """Retrieve and build the grounded messages (None: nothing to answer from, the reply says why)."""
    from rag.answer import NO_ROOM_REPLY, NO_SOURCES_REPLY, prepare

    budget = prompt_budget(loaded, config.params.max_new_tokens, setup.budget_tokens)
    prepared = prepare(prompt, setup.retrieve, count_tokens=token_counter(loaded), budget_tokens=budget,
                       system_prompt=system or None)  # fmt: skip
    stream.timings["retrieval_s"] = time.perf_counter() - started  # opening the collection included
    stream._used_hits = len(prepared.used_hits)
    stream.details["rag"].update(
        retrieved=len(prepared.hits),
        used=len(prepared.used_hits),
        budget_tokens=budget,
        sources=_source_rows(prepared.used_hits),
        generated=bool(prepared.used_hits),
    )
    if not prepared.used_hits:
        stream._fixed = NO_ROOM_REPLY if prepared.hits else NO_SOURCES_REPLY
        stream.notices.append(f"Nothing to answer from in collection `{setup.collection}`: the model was not asked.")
        return None
    return prepared.messages


def build_pane_stream(config: PaneConfig, loaded: LoadedModel, messages: list[Message], cancel: threading.Event,
                      rag_for: RagFor, guard_for: GuardFor) -> PaneStream:  # fmt: skip
    """A RAG / guardrails pane's stream (steps 1-4 of the module contract; raises what they raise)."""
    system, history, prompt = split_messages(messages)
    stream = PaneStream(loaded)
    guard = None
    if config.guardrails:
        started = time.perf_counter()
        guard = guard_for(config, loaded)
        stream.guard = guard
        stream.notices.extend(guard.notices)
        stream.details["guardrails"] = {
            "policy": guard.policy_label, "rails": guard.describe(), "input_rails": list(guard.input_rails),
            "output_rail": guard.output, "redact": guard.redact, "verdict": None, "blocked_at": None,
            "category": None, "rail": None, "trace": [], "warnings": [], "redactions": {},
        }  # fmt: skip
        if _check_input(stream, guard, prompt, started):
            return stream
        system = merge_system_prompt(guard.policy, system)
    final = [*([{"role": "system", "content": system}] if system.strip() else []), *history,
             {"role": "user", "content": prompt}]  # fmt: skip
    if config.rag:
        started = time.perf_counter()
        setup = rag_for(config, loaded)
        stream.details["rag"] = {"collection": setup.collection, "settings": dict(setup.settings), "retrieved": 0,
                                 "used": 0, "sources": [], "citations": [], "invalid_citations": [],
                                 "generated": False}  # fmt: skip
        grounded = _retrieve(stream, setup, config, loaded, system, prompt, started)
        if grounded is None:
            return stream
        final = [grounded[0], *history, grounded[1]]
    stream.engine = stream_chat(loaded, final, config.params, thinking=config.thinking, cancel=cancel)
    return stream


def store_rag_for(budget_tokens: int = 3000) -> RagFor:
    """Retrieval from the environment's Chroma store (``PLAYGROUND_HOME``/``CHROMA_HOST``), default options;
    each collection is queried with the embedding model it records."""

    stores: list[Any] = []  # opened on first use (a Chroma client takes a moment), then shared by the panes

    def rag_for(config: PaneConfig, loaded: LoadedModel) -> RagSetup:
        from rag.retrieval import Retriever
        from rag.store import RagStore, StoreConfig

        if not stores:
            stores.append(RagStore(StoreConfig.from_env()))
        retriever = Retriever(stores[0], config.collection)
        options = retriever.options
        return RagSetup(config.collection, retriever.retrieve, budget_tokens,
                        {"k": options.k, "mmr": options.mmr, "budget_tokens": budget_tokens})  # fmt: skip

    return rag_for


def policy_guard_for(policy: Policy | None = None, rails: tuple[str, ...] = ("rules",), label: str = "default"
                     ) -> GuardFor:  # fmt: skip
    """A policy (default: the shipped one) with ``rails`` as input rails, the output rail and PII redaction."""
    from core.guardrails import default_policy

    chosen = policy or default_policy()

    def guard_for(config: PaneConfig, loaded: LoadedModel) -> GuardSetup:
        return GuardSetup(chosen, GuardrailPipeline(chosen, rails) if rails else None, policy_label=label)

    return guard_for


def make_stream_factory(rag_for: RagFor, guard_for: GuardFor) -> StreamFactory:
    """The :data:`core.compare.StreamFactory` honouring each pane's RAG and guardrails switches."""

    def factory(config: PaneConfig, loaded: LoadedModel, messages: list[Message], cancel: threading.Event) -> Any:
        if not (config.rag or config.guardrails):
            return default_stream(config, loaded, messages, cancel)
        return build_pane_stream(config, loaded, messages, cancel, rag_for, guard_for)

    return factory
