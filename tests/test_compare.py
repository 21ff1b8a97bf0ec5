"""Side-by-side comparison: interleaving, sharing, errors, stop, metrics, exports and presets.

Real tiny models (tests/fixtures) run through the real pool, loader and engine wherever a
property depends on them (sharing, cancellation, partial text); plain generators are used
where only the scheduling is under test.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from core import pool as pool_module
from core import presets
from core.compare import (
    MAX_PROMPT_CHARS,
    METRIC_COLUMNS,
    PaneConfig,
    PaneEvent,
    PaneState,
    build_messages,
    export_json,
    export_markdown,
    interleave,
    metrics_table,
    redact,
    run_comparison,
)
from core.engine import Chunk, Metrics, Reply, complete
from core.errors import InvalidParameterError, UnknownModelError
from core.params import GenerationParams
from core.pool import ModelPool

GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=12)
# Seeded sampling gives varied (so multi-chunk) yet reproducible replies from a random tiny model.
SAMPLED = GenerationParams(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=24, seed=1)
SHORT = GREEDY.with_(max_new_tokens=4)
PROMPT = "Compare these two ideas."


def _kinds(events: list[PaneEvent]) -> list[tuple[str, str, object]]:
    return [(e.pane_id, e.kind, e.chunk) for e in events]


def _counting_pool(monkeypatch, max_models: int = 2) -> tuple[ModelPool, list[tuple]]:
    calls: list[tuple] = []
    real_load = pool_module.load

    def counting_load(*args, **kwargs):
        calls.append(args[:3])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(pool_module, "load", counting_load)
    return ModelPool(max_models=max_models), calls


# --- interleaving with plain generators ---------------------------------------------------------


def test_interleave_is_round_robin():
    """Each round advances every live pane once, in the mapping's order, so no pane waits more
    than one round for its next piece; a pane that ends says "done" at its turn and drops out."""
    streams = {"p1": iter(["a1", "a2", "a3"]), "p2": iter(["b1", "b2"]), "p3": iter(["c1"])}
    events = list(interleave(streams))
    assert _kinds(events) == [
        ("p1", "chunk", "a1"), ("p2", "chunk", "b1"), ("p3", "chunk", "c1"),
        ("p1", "chunk", "a2"), ("p2", "chunk", "b2"), ("p3", "done", None),
        ("p1", "chunk", "a3"), ("p2", "done", None),
        ("p1", "done", None),
    ]  # fmt: skip
    busy = [e.busy_s for e in events if e.pane_id == "p1"]
    assert busy == sorted(busy) and busy[0] >= 0.0  # cumulative time of p1's own turns


def test_an_exception_in_one_pane_does_not_stop_the_others():
    """The failing pane gets one "error" event carrying the exception's text, and the other panes
    still deliver every item they have."""

    def failing():
        yield "x1"
        raise RuntimeError("boom in pane two")

    class CannotStart:
        def __iter__(self):
            raise UnknownModelError("No such model.", "Pick another.")

    streams = {"ok": iter(["a", "b", "c"]), "bad": failing(), "worse": CannotStart()}
    events = list(interleave(streams))
    errors = {e.pane_id: e for e in events if e.kind == "error"}
    assert set(errors) == {"bad", "worse"}
    assert errors["bad"].error == "RuntimeError: boom in pane two"
    assert isinstance(errors["bad"].exception, RuntimeError)
    assert errors["worse"].error == "No such model. Pick another."  # typed errors keep their hint
    assert [e.chunk for e in events if e.pane_id == "ok" and e.kind == "chunk"] == ["a", "b", "c"]
    assert events[-1] == PaneEvent("ok", "done", busy_s=events[-1].busy_s)


def test_cancel_closes_every_remaining_stream():
    """Once the cancel event is set, no pane is advanced again: each running generator is closed
    (its finally block runs) and reported "stopped"; panes that had already ended stay "done"."""
    closed: list[str] = []

    def endless(name: str):
        try:
            i = 0
            while True:
                i += 1
                yield f"{name}{i}"
        finally:
            closed.append(name)

    cancel = threading.Event()
    streams = {"a": endless("a"), "short": iter(["s1"]), "b": endless("b")}
    events = []
    for event in interleave(streams, cancel):
        events.append(event)
        if len(events) == 5:
            cancel.set()
    assert _kinds(events)[:5] == [("a", "chunk", "a1"), ("short", "chunk", "s1"), ("b", "chunk", "b1"),
                                  ("a", "chunk", "a2"), ("short", "done", None)]  # fmt: skip
    assert _kinds(events)[5:] == [("a", "stopped", None), ("b", "stopped", None)]
    assert sorted(closed) == ["a", "b"]


def test_closing_the_event_generator_closes_the_streams():
    """A consumer that walks away (Streamlit's Stop) closes the event generator: every pane's
    generator is closed with it, none is left suspended holding a model lock."""
    closed: list[str] = []

    def endless(name: str):
        try:
            while True:
                yield name
        finally:
            closed.append(name)

    events = interleave({"a": endless("a"), "b": endless("b")})
    assert next(events).pane_id == "a"
    assert next(events).pane_id == "b"
    events.close()
    assert sorted(closed) == ["a", "b"]


# --- configurations -------------------------------------------------------------------------------


def test_pane_config_validation_and_round_trip():
    """Bad settings are refused with a message naming the field; a config survives to_dict/from_dict,
    a params dict is accepted, and the pool key ignores everything but model, quant and device."""
    config = PaneConfig(model=" qwen3-0.6b ", quant="nf4", device="cpu", system_prompt="Be brief.",
                        params={"temperature": 0.0, "max_new_tokens": 8}, thinking=True, label="A")  # fmt: skip
    assert config.model == "qwen3-0.6b" and config.params.greedy
    assert PaneConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.key == ("qwen3-0.6b", "nf4", "cpu")
    assert config.with_(system_prompt="Other", label="B").key == config.key
    assert config.with_(quant="int8").key != config.key
    assert "nf4" in config.describe() and "thinking on" in config.describe()
    bad = [
        ({"model": ""}, "model is empty"),
        ({"model": "x", "quant": "int3"}, "quantization"),
        ({"model": "x", "device": "tpu"}, "device"),
        ({"model": "x", "system_prompt": "a" * 20_001}, "too long"),
        ({"model": "x", "system_prompt": "bin\x00ary"}, "control characters"),
        ({"model": "x", "thinking": "yes"}, "thinking must be true or false"),
        ({"model": "x", "params": {"temperature": 9}}, "temperature"),
        ({"model": "x", "label": "two\nlines"}, "label"),
    ]
    for data, message in bad:
        with pytest.raises(InvalidParameterError, match=message):
            PaneConfig.from_dict(data)
    with pytest.raises(InvalidParameterError, match="Unknown pane setting"):
        PaneConfig.from_dict({"model": "x", "api_key": "secret"})
    with pytest.raises(InvalidParameterError, match="needs a model"):
        PaneConfig.from_dict({"quant": "nf4"})


def test_messages_are_system_prompt_history_and_prompt():
    """The model sees the pane's system prompt first, then its own earlier turns, then the new prompt."""
    config = PaneConfig(model="m", system_prompt="Be terse.")
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert build_messages(config, history, "next?") == [
        {"role": "system", "content": "Be terse."}, *history, {"role": "user", "content": "next?"}
    ]
    assert build_messages(config.with_(system_prompt="  "), [], "q") == [{"role": "user", "content": "q"}]


def test_bad_input_is_refused_before_anything_loads(monkeypatch):
    """Pane count and prompt are checked up front: nothing is loaded for a request that cannot run."""
    pool, calls = _counting_pool(monkeypatch)
    two = {"a": PaneConfig(model="m1"), "b": PaneConfig(model="m2")}
    cases = [
        ({"a": PaneConfig(model="m1")}, PROMPT, "2 to 4 panes"),
        ({str(i): PaneConfig(model="m") for i in range(5)}, PROMPT, "2 to 4 panes"),
        (two, "   ", "empty"),
        (two, "x" * (MAX_PROMPT_CHARS + 1), "too long"),
        (two, "nul\x00byte", "NUL"),
        (two, b"bytes", "must be text"),
    ]
    for panes, prompt, message in cases:
        with pytest.raises(InvalidParameterError, match=message):
            run_comparison(pool, panes, {}, prompt)  # raises on call, before the first event
    assert calls == []


# --- real models through the pool ------------------------------------------------------------------


def test_two_panes_on_one_model_load_it_once_and_both_stream(tiny_qwen25_dir, monkeypatch):
    """Same (model, quant, device) → one load shared by both panes. Each pane has its own KV cache,
    so interleaved greedy replies equal what each conversation gets alone."""
    pool, calls = _counting_pool(monkeypatch)
    model = str(tiny_qwen25_dir)
    panes = {
        "left": PaneConfig(model=model, quant="fp32", device="cpu", params=GREEDY, label="plain"),
        "right": PaneConfig(model=model, quant="fp32", device="cpu", params=GREEDY, system_prompt="Be terse."),
    }
    states: dict[str, PaneState] = {}
    events = list(run_comparison(pool, panes, states, PROMPT))
    assert len(calls) == 1
    loaded = pool.peek(model, "fp32", "cpu")
    for pane_id, config in panes.items():
        alone = complete(loaded, build_messages(config, [], PROMPT), GREEDY)
        streamed = "".join(e.chunk.text for e in events if e.pane_id == pane_id and e.kind == "chunk")
        assert states[pane_id].status == "done"
        assert states[pane_id].reply == streamed == alone.text
    assert states["left"].metrics["shared_with"] == ["right"]
    assert states["left"].metrics["model_reused"] is False and states["right"].metrics["model_reused"] is True
    assert states["left"].metrics["memory_bytes"] == states["right"].metrics["memory_bytes"] == loaded.memory_bytes
    assert states["left"].label == "plain" and "fp32" in states["right"].label
    assert not loaded.lock.locked()


def test_stop_keeps_partial_text_in_every_pane(tiny_qwen25_dir, tiny_qwen3_dir, monkeypatch):
    """Setting cancel mid-stream stops every pane within a step: each keeps the text streamed so
    far, is marked stopped, its history records that partial reply, and no model stays locked."""
    pool, _ = _counting_pool(monkeypatch)
    params = SAMPLED.with_(max_new_tokens=64)
    panes = {
        "q25": PaneConfig(model=str(tiny_qwen25_dir), quant="fp32", device="cpu", params=params),
        "q3": PaneConfig(model=str(tiny_qwen3_dir), quant="fp32", device="cpu", params=params),
    }
    states: dict[str, PaneState] = {}
    cancel = threading.Event()
    seen: dict[str, str] = {"q25": "", "q3": ""}
    final_kinds = {}
    for event in run_comparison(pool, panes, states, PROMPT, cancel=cancel):
        if event.kind == "chunk":
            if event.chunk.kind == "answer":
                seen[event.pane_id] += event.chunk.text
            if all(seen.values()) and sum(map(len, seen.values())) > 10:
                cancel.set()
        else:
            final_kinds[event.pane_id] = event.kind
    assert final_kinds == {"q25": "stopped", "q3": "stopped"}
    for pane_id, state in states.items():
        assert state.status == "stopped"
        assert state.reply == seen[pane_id] != ""  # what was shown is what is kept, nothing held back lost
        assert state.metrics["stop_reason"] == "cancelled"
        assert state.metrics["completion_tokens"] < 64
        assert state.history == [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": state.reply}]
    for entry in pool.entries():
        assert not entry.loaded.lock.locked()


def test_abandoning_the_comparison_finalises_states(tiny_qwen25_dir, monkeypatch):
    """Closing the event generator (the page rerun or Stop) still leaves every state final: the pane
    that streamed keeps its partial reply as "stopped", the pane that never started is "stopped"."""
    pool, _ = _counting_pool(monkeypatch)
    model = str(tiny_qwen25_dir)
    panes = {
        "a": PaneConfig(model=model, quant="fp32", device="cpu", params=SAMPLED.with_(max_new_tokens=64)),
        "b": PaneConfig(model=model, quant="bf16", device="cpu", params=SAMPLED),
    }
    states: dict[str, PaneState] = {}
    events = run_comparison(pool, panes, states, PROMPT)
    first = next(events)
    assert first.pane_id == "a" and first.kind == "chunk"
    events.close()
    assert states["a"].status == "stopped" and states["a"].reply.startswith(first.chunk.text)
    assert states["b"].status == "stopped" and states["b"].reply == "" and states["b"].history == []
    assert not pool.peek(model, "fp32", "cpu").lock.locked()


def test_a_failing_pane_does_not_stop_the_good_ones(tiny_qwen25_dir, tiny_qwen3_dir, monkeypatch, tmp_path):
    """A pane whose model cannot load shows the loader's message in that pane only; the others finish
    and its history stays untouched."""
    pool, _ = _counting_pool(monkeypatch)
    missing = tmp_path / "no-such-model"
    panes = {
        "good": PaneConfig(model=str(tiny_qwen25_dir), quant="fp32", device="cpu", params=GREEDY),
        "bad": PaneConfig(model=str(missing), quant="fp32", device="cpu", params=GREEDY),
        "good3": PaneConfig(model=str(tiny_qwen3_dir), quant="fp32", device="cpu", params=GREEDY),
    }
    states: dict[str, PaneState] = {}
    ends = {e.pane_id: e for e in run_comparison(pool, panes, states, PROMPT) if e.kind != "chunk"}
    assert ends["bad"].kind == "error" and isinstance(ends["bad"].exception, UnknownModelError)
    assert states["bad"].status == "error" and "no-such-model" in states["bad"].error
    assert states["bad"].history == [] and states["bad"].reply == ""
    assert ends["good"].kind == ends["good3"].kind == "done"
    assert states["good"].status == states["good3"].status == "done"
    rows = {r["pane"]: r for r in metrics_table(states)}
    assert rows["bad"]["ttft_s"] is None and rows["bad"]["memory_mb"] is None and rows["bad"]["status"] == "error"


def test_four_panes_with_more_models_than_the_pool_keeps(tiny_qwen25_dir, tiny_qwen3_dir, monkeypatch):
    """Four panes, three distinct models, a pool that keeps two: each model is loaded once, models
    are loaded lazily on a pane's first turn, and a model that is generating is never evicted
    for the next pane's, so all four finish. Qwen3's thinking on/off panes share one model."""
    pool, calls = _counting_pool(monkeypatch, max_models=2)
    q25, q3 = str(tiny_qwen25_dir), str(tiny_qwen3_dir)
    params = SAMPLED.with_(max_new_tokens=8)
    panes = {
        "fp32": PaneConfig(model=q25, quant="fp32", device="cpu", params=params),
        "bf16": PaneConfig(model=q25, quant="bf16", device="cpu", params=params),
        "think": PaneConfig(model=q3, quant="fp32", device="cpu", params=params, thinking=True),
        "nothink": PaneConfig(model=q3, quant="fp32", device="cpu", params=params, thinking=False),
    }
    states: dict[str, PaneState] = {}
    events = list(run_comparison(pool, panes, states, PROMPT))
    assert sorted(calls) == sorted({c.key for c in panes.values()})
    assert [e.pane_id for e in events[:4]] == list(panes)  # the first round visits every pane in order
    assert {pid: s.status for pid, s in states.items()} == dict.fromkeys(panes, "done")
    for pane_id, state in states.items():
        chunks = [e.chunk for e in events if e.pane_id == pane_id and e.kind == "chunk"]
        assert state.reply == "".join(c.text for c in chunks if c.kind == "answer")
        assert state.reasoning == "".join(c.text for c in chunks if c.kind == "reasoning")
    assert states["fp32"].metrics["memory_bytes"] > states["bf16"].metrics["memory_bytes"]


def test_history_grows_per_pane_across_turns(tiny_qwen25_dir, monkeypatch):
    """Each pane keeps its own multi-turn conversation: the second prompt reaches each pane's model
    after that pane's first exchange (seen through a stream factory that records the messages)."""
    pool, _ = _counting_pool(monkeypatch)
    model = str(tiny_qwen25_dir)
    panes = {
        "a": PaneConfig(model=model, quant="fp32", device="cpu", params=SHORT, system_prompt="Sys A"),
        "b": PaneConfig(model=model, quant="fp32", device="cpu", params=SHORT.with_(max_new_tokens=3)),
    }
    seen: dict[str, list] = {}

    def recording_factory(config, loaded, messages, cancel):
        from core.compare import default_stream

        pane = "a" if config.system_prompt else "b"
        seen[pane] = messages
        return default_stream(config, loaded, messages, cancel)

    states: dict[str, PaneState] = {}
    list(run_comparison(pool, panes, states, "first", stream_factory=recording_factory))
    first_replies = {p: s.reply for p, s in states.items()}
    list(run_comparison(pool, panes, states, "second", stream_factory=recording_factory))
    assert seen["a"] == [
        {"role": "system", "content": "Sys A"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": first_replies["a"]},
        {"role": "user", "content": "second"},
    ]
    assert seen["b"][1] == {"role": "assistant", "content": first_replies["b"]}
    assert len(states["a"].history) == len(states["b"].history) == 4


def test_rag_or_guardrails_without_a_factory_is_said_in_the_pane(tiny_qwen25_dir, monkeypatch):
    """A pane asking for RAG or guardrails with no integration supplied is not silently different:
    its notices say that it ran without them."""
    pool, _ = _counting_pool(monkeypatch)
    model = str(tiny_qwen25_dir)
    panes = {
        "rag": PaneConfig(model=model, quant="fp32", device="cpu", params=SHORT, rag=True, guardrails=True,
                          collection="notes"),
        "plain": PaneConfig(model=model, quant="fp32", device="cpu", params=SHORT),
    }
    states: dict[str, PaneState] = {}
    list(run_comparison(pool, panes, states, PROMPT))
    assert any("RAG and guardrails requested" in n for n in states["rag"].notices)
    assert not any("requested" in n for n in states["plain"].notices)


# --- metrics ----------------------------------------------------------------------------------------


class SleepyStream:
    """A stand-in for the engine's stream: ``n`` one-token chunks, each costing ``step_s`` of work,
    with the engine's wall-clock metrics (first token → end)."""

    def __init__(self, n: int, step_s: float) -> None:
        self.n, self.step_s = n, step_s
        self.reply = Reply()

    def __iter__(self):
        started = time.perf_counter()
        first = None
        for i in range(self.n):
            time.sleep(self.step_s)
            now = time.perf_counter()
            if first is None:
                first = now
                self.reply.metrics.ttft_s = now - started
            self.reply.metrics.completion_tokens = i + 1
            self.reply.text += "x"
            yield Chunk("answer", "x")
        m = self.reply.metrics
        m.total_s = time.perf_counter() - started
        m.decode_tokens_per_s = (self.n - 1) / (time.perf_counter() - first)


def test_tokens_per_second_counts_only_the_panes_own_turns(tiny_qwen25_dir, monkeypatch):
    """Two panes take turns on one thread, so each pane's wall clock also runs during the other's
    turns (about twice its own work here). The reported decode speed uses the pane's own time:
    at 10 ms per token it can never exceed 100 tokens/s (sleep never returns early), and it is
    well above the wall-clock figure, which the other pane's turns roughly halve."""
    pool, _ = _counting_pool(monkeypatch)
    model = str(tiny_qwen25_dir)
    panes = {p: PaneConfig(model=model, quant="fp32", device="cpu", label=p) for p in ("a", "b")}
    states: dict[str, PaneState] = {}
    list(run_comparison(pool, panes, states, PROMPT, stream_factory=lambda *_: SleepyStream(20, 0.01)))
    for state in states.values():
        own, wall = state.metrics["decode_tokens_per_s"], state.metrics["wall_decode_tokens_per_s"]
        assert own <= 100 * 1.01
        assert own > 1.5 * wall
        assert state.metrics["busy_s"] < state.metrics["wall_s"]


def test_metrics_table_rows(tiny_qwen25_dir, monkeypatch):
    """One row per pane with every chart column; figures come from the run (memory in MiB of the
    loaded model, the engine's token count and trimming flag)."""
    pool, _ = _counting_pool(monkeypatch)
    model = str(tiny_qwen25_dir)
    panes = {
        "x": PaneConfig(model=model, quant="fp32", device="cpu", params=GREEDY, label="X"),
        "y": PaneConfig(model=model, quant="fp32", device="cpu", params=SAMPLED, label="Y"),
    }
    states: dict[str, PaneState] = {}
    list(run_comparison(pool, panes, states, PROMPT))
    rows = metrics_table(states)
    loaded = pool.peek(model, "fp32", "cpu")
    assert [r["label"] for r in rows] == ["X", "Y"]
    for row, state in zip(rows, states.values(), strict=True):
        assert set(METRIC_COLUMNS) <= set(row)
        assert row["completion_tokens"] == state.metrics["completion_tokens"] >= 1
        assert row["ttft_s"] > 0 and row["total_s"] > 0 and row["wall_s"] > 0
        assert row["memory_mb"] == round(loaded.memory_bytes / 2**20, 1)
        assert row["load_seconds"] == round(loaded.load_seconds, 3)
        assert row["trimmed"] is False


# --- exports ------------------------------------------------------------------------------------------


def _finished_states() -> tuple[dict[str, PaneConfig], dict[str, PaneState]]:
    panes = {
        "a": PaneConfig(model="qwen3-0.6b", quant="nf4", thinking=True, label="A | pipes",
                        system_prompt="Use token hf_abcdefghijklmnopqrstuvwxyz123456 carefully."),
        "b": PaneConfig(model="qwen2.5-0.5b-instruct", quant="int8"),
    }  # fmt: skip
    reply_a = "Here is code:\n```python\nprint(1)\n```\nDone."
    metrics = {**Metrics(completion_tokens=7, ttft_s=0.25).to_dict(), "memory_bytes": 3 * 2**20, "quant": "nf4"}
    states = {
        "a": PaneState(label="A | pipes", reply=reply_a, reasoning="thinking...", status="done", metrics=metrics,
                       history=[{"role": "user", "content": PROMPT}, {"role": "assistant", "content": reply_a}]),
        "b": PaneState(label="b", status="error", error="Out of memory while loading. Pick nf4."),
    }  # fmt: skip
    return panes, states


def test_export_json_has_configs_replies_metrics_and_no_secrets():
    """The JSON export carries each pane's config, reply, reasoning, metrics and error, is valid
    JSON, and a token-shaped string in a system prompt is redacted."""
    panes, states = _finished_states()
    doc = json.loads(json.dumps(export_json(PROMPT, panes, states)))
    assert doc["prompt"] == PROMPT and [p["id"] for p in doc["panes"]] == ["a", "b"]
    a, b = doc["panes"]
    assert PaneConfig.from_dict(a["config"]).key == panes["a"].key
    assert a["reply"] == states["a"].reply and a["reasoning"] == "thinking..."
    assert a["metrics"]["completion_tokens"] == 7 and b["error"].startswith("Out of memory")
    assert "hf_abcdefghij" not in json.dumps(doc) and "[redacted]" in a["config"]["system_prompt"]
    assert doc["metrics_table"][0]["memory_mb"] == 3.0


def test_export_markdown_is_safe_against_the_content():
    """Replies holding ``` fences and labels holding pipes cannot break the document: the reply's
    fence is longer than any backtick run inside it, and pipes in table cells are escaped."""
    panes, states = _finished_states()
    md = export_markdown(PROMPT, panes, states)
    assert "````text\n" + states["a"].reply + "\n````" in md
    assert "A \\| pipes" in md and "| Quantization | nf4" in md
    assert "<details><summary>Reasoning</summary>" in md
    assert "**Error:** Out of memory" in md
    assert "hf_abcdefghij" not in md
    assert "Earlier turns" not in md  # the only exchange is the one shown as the reply


def test_redact_leaves_ordinary_text_alone():
    """Only token-shaped strings are replaced; prose mentioning tokens stays as written."""
    assert redact("the hf_ prefix and sk-short are fine") == "the hf_ prefix and sk-short are fine"
    assert redact("key sk-" + "a" * 30) == "key [redacted]"


# --- presets -----------------------------------------------------------------------------------------


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(presets, "gpu_available", lambda: False)
    monkeypatch.setattr(presets, "bf16_supported", lambda: False)


def test_quantization_preset_on_the_cpu_and_the_gpu(cpu_only, monkeypatch):
    """On the CPU the nearest to bf16/int8/nf4 is fp32/int8/nf4 (and the note says why); on a GPU
    with bf16 it is bf16/int8/nf4, on one without bf16 fp16/int8/nf4; with no bitsandbytes only the
    float precisions remain, and the note says how to get the others."""
    cpu = presets.quantization_abc("qwen2.5-0.5b-instruct", "auto")
    assert [p.quant for p in cpu.panes] == ["fp32", "int8", "nf4"]
    assert "CPU" in cpu.note and "bf16" in cpu.note
    assert len({p.model for p in cpu.panes}) == 1 and len({p.key for p in cpu.panes}) == 3
    monkeypatch.setattr(presets, "gpu_available", lambda: True)
    monkeypatch.setattr(presets, "bf16_supported", lambda: True)
    assert [p.quant for p in presets.quantization_abc("qwen2.5-0.5b-instruct").panes] == ["bf16", "int8", "nf4"]
    monkeypatch.setattr(presets, "bf16_supported", lambda: False)
    gpu_old = presets.quantization_abc("qwen2.5-0.5b-instruct")
    assert [p.quant for p in gpu_old.panes] == ["fp16", "int8", "nf4"] and "no bf16" in gpu_old.note
    monkeypatch.setattr(presets, "bitsandbytes_installed", lambda: False)
    no_bnb = presets.quantization_abc("qwen2.5-0.5b-instruct", "cpu")
    assert [p.quant for p in no_bnb.panes] == ["fp32", "bf16"] and "pip install bitsandbytes" in no_bnb.note


def test_quantization_preset_explains_gguf_and_refuses_prequantized(cpu_only):
    """An offline GGUF bundle can be int8/nf4-quantized only after a one-time conversion (the note
    says so); a GPTQ checkpoint cannot change precision, and the hint names its full-precision twin."""
    gguf = presets.quantization_abc("qwen2.5-coder-0.5b-offline", "cpu")
    assert [p.quant for p in gguf.panes] == ["fp32", "int8", "nf4"]
    assert "GGUF" in gguf.note and "conversion" in gguf.note
    with pytest.raises(presets.PresetUnavailableError) as info:
        presets.quantization_abc("qwen2.5-1.5b-instruct-gptq-int4")
    assert "qwen2.5-1.5b-instruct" in info.value.hint


def test_thinking_preset_needs_qwen3(cpu_only):
    """Thinking on vs off is one Qwen3 model (one shared load) with each mode's model-card sampling;
    for a Qwen2.5 model the error says why and names a Qwen3 model."""
    from core.params import recommended_params

    preset = presets.thinking_on_off("qwen3-1.7b", "cpu")
    on, off = preset.panes
    assert (on.thinking, off.thinking) == (True, False) and on.key == off.key
    assert on.params == recommended_params("qwen3", True) and off.params == recommended_params("qwen3", False)
    with pytest.raises(presets.PresetUnavailableError, match="needs a Qwen3 model") as info:
        presets.thinking_on_off("qwen2.5-0.5b-instruct")
    assert "qwen3" in info.value.hint


def test_model_size_preset_pairs_models_of_the_same_line(cpu_only):
    """Offline bundles pair with offline bundles, hub instruct models with hub instruct models, and
    the largest of a line pairs with the next smaller; both panes share quantization and sampling."""
    offline = presets.model_size()
    assert [p.model for p in offline.panes] == ["qwen2.5-coder-0.5b-offline", "qwen2.5-coder-1.5b-offline"]
    assert offline.panes[0].params == offline.panes[1].params
    hub = presets.model_size("qwen2.5-0.5b-instruct")
    assert [p.model for p in hub.panes] == ["qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct"]
    assert [p.label for p in hub.panes] == ["0.5B", "1.5B"]
    assert [p.model for p in presets.model_size("qwen3-8b").panes] == ["qwen3-4b", "qwen3-8b"]
    with pytest.raises(presets.PresetUnavailableError, match="same"):
        presets.model_size("qwen3-0.6b", larger="qwen3-0.6b")


def test_system_prompt_and_sampling_presets(cpu_only):
    """System prompt A vs B differ only in the system prompt; greedy vs creative only in sampling
    (greedy is temperature 0). Both share one loaded model. Identical prompts are refused."""
    sp = presets.system_prompt_ab("qwen2.5-0.5b-instruct", "cpu")
    a, b = sp.panes
    assert a.key == b.key and a.params == b.params and a.system_prompt != b.system_prompt
    with pytest.raises(presets.PresetUnavailableError):
        presets.system_prompt_ab(prompt_a="same", prompt_b=" same ")
    greedy, creative = presets.sampling_greedy_vs_creative("qwen3-0.6b", "cpu").panes
    assert greedy.key == creative.key and greedy.params.greedy and not creative.params.greedy
    assert greedy.thinking is False and creative.thinking is False  # Qwen3 warns against greedy thinking
    for name in presets.PRESETS:
        options = {"collection": "notes"} if name == "rag" else {}
        panes = presets.build_preset(name, device="cpu", **options).panes
        assert 2 <= len(panes) <= 4
    with pytest.raises(presets.PresetUnavailableError, match="Unknown preset"):
        presets.build_preset("nope")


def test_rag_and_guardrails_presets_differ_only_in_their_switch(cpu_only):
    """RAG off vs on: one shared model, the same greedy sampling without repetition penalty (it would penalise
    the words a grounded answer copies), and only pane 2 retrieves, from the collection given; without a
    collection the preset is refused with a hint naming the RAG page's demo. Guardrails off vs on: the same
    configuration but for the switch."""
    off, on = presets.rag_off_on("qwen2.5-0.5b-instruct", "cpu", collection="rag-demo", max_new_tokens=64).panes
    assert off.key == on.key and off.params == on.params and on.params.greedy
    assert on.params.repetition_penalty == 1.0 and on.params.max_new_tokens == 64
    assert (off.rag, on.rag, on.collection) == (False, True, "rag-demo") and off.with_(rag=True, collection="rag-demo",
                                                                                       label=on.label) == on
    with pytest.raises(presets.PresetUnavailableError, match="needs a document collection") as info:
        presets.build_preset("rag", "qwen2.5-0.5b-instruct")
    assert "Load the demo" in info.value.hint
    raw, guarded = presets.guardrails_off_on("qwen3-0.6b", "cpu", system_prompt="Be kind.").panes
    assert raw.with_(guardrails=True, label=guarded.label) == guarded and not raw.guardrails
    assert raw.system_prompt == "Be kind." and raw.thinking is False


def test_quantization_preset_runs_on_the_cpu(tiny_qwen25_dir, cpu_only, monkeypatch):
    """End to end on the CPU: the preset's fp32/int8/nf4 panes load three times through the pool
    (bitsandbytes' CPU kernels), all stream to the end, and the quantized models are smaller."""
    pool, calls = _counting_pool(monkeypatch, max_models=3)
    preset = presets.quantization_abc(str(tiny_qwen25_dir), "cpu", max_new_tokens=8)
    panes = {p.label: p for p in preset.panes}
    states: dict[str, PaneState] = {}
    list(run_comparison(pool, panes, states, PROMPT))
    assert [c[1] for c in calls] == ["fp32", "int8", "nf4"]
    assert {pid: s.status for pid, s in states.items()} == {"fp32": "done", "int8": "done", "nf4": "done"}
    memory = {pid: s.metrics["memory_bytes"] for pid, s in states.items()}
    assert memory["nf4"] < memory["fp32"] and memory["int8"] < memory["fp32"]


# --- command line ------------------------------------------------------------------------------------


def test_pane_specs_on_the_command_line():
    """Only trailing known quantization/device names are split off, so a path with colons survives."""
    from core.compare import parse_pane

    assert parse_pane("qwen3-0.6b:nf4:cpu").key == ("qwen3-0.6b", "nf4", "cpu")
    assert parse_pane("qwen3-0.6b:int8").key == ("qwen3-0.6b", "int8", "auto")
    assert parse_pane("qwen3-0.6b:cpu").key == ("qwen3-0.6b", "auto", "cpu")
    assert parse_pane("C:/models/q:fp32:cuda").key == ("C:/models/q", "fp32", "cuda")
    assert parse_pane("owner/name").key == ("owner/name", "auto", "auto")


def test_cli_prints_the_json_export(tiny_qwen25_dir, capsys):
    """``python -m core.compare --pane ... --json`` runs the panes and prints the JSON export;
    a bad pane count is an error message with exit status 2, not a traceback."""
    from core.compare import main

    model = str(tiny_qwen25_dir)
    argv = ["--prompt", "hi", "--pane", f"{model}:fp32:cpu", "--pane", f"{model}:bf16:cpu", "--max-new-tokens", "4"]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["status"] for p in doc["panes"]] == ["done", "done"]
    assert [p["config"]["quant"] for p in doc["panes"]] == ["fp32", "bf16"]
    assert main(["--prompt", "hi", "--pane", f"{model}:fp32:cpu"]) == 2
    assert "2 to 4 panes" in capsys.readouterr().err
