"""AppTest tests of the Compare page, driven with the tiny random Qwen models.

The tiny models write random tokens, so no test asserts on what they say;
the tests assert on what the page does with it: every pane's reply on screen
is the reply in its state, the figures shown are the ones measured, panes
with one model share one load, an error stays in its pane, presets fill the
settings, exports hold every pane, and an arena vote reaches the SQLite
store and the leaderboard. Replies are kept to a few tokens (max_new_tokens
is set through each pane's widget) so the file runs in seconds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import textwrap
import threading
import time
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.testing.v1 import AppTest

from core import pool as pool_module
from core import presets as core_presets
from core.arena import ArenaStore, default_store, describe_config, leaderboard, leaderboard_csv
from core.compare import PaneConfig, PaneState
from core.params import GenerationParams
from core.pool import ModelPool
from ui import guardrails_state
from ui.compare_run import ActiveRun, settle, stream_comparison
from ui.compare_state import PANE_IDS, config_from_values, values_for
from ui.compare_view import export_files, pane_figures
from ui.resources import get_pool

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "app_pages/compare.py"
SHORT = 6  # max_new_tokens for test replies


@pytest.fixture(autouse=True)
def _empty_pool():
    """Every test starts with no model loaded in the app's shared pool, so load counts are its own."""
    get_pool().unload_all()
    yield
    get_pool().unload_all()


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(core_presets, "gpu_available", lambda: False)
    monkeypatch.setattr(core_presets, "bf16_supported", lambda: False)


def start(monkeypatch: pytest.MonkeyPatch, model: Path | str) -> AppTest:
    """The app with ``model`` as the sidebar's model, on the Compare page, replies kept short."""
    monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", str(model))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state[guardrails_state.PROBE] = False  # a guardrails pane would load the offline 0.5B for its probe
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    for pane in PANE_IDS:  # panes 3 and 4 are not drawn yet: their setting is set in the session
        at.session_state[f"cmp.{pane}.max_new_tokens"] = SHORT
    return run(at)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest, text: str) -> AppTest:
    at.chat_input[0].set_value(text)
    return run(at)


def set_panes(at: AppTest, n: int) -> AppTest:
    at.button_group(key="cmp.n_panes").set_value(n)
    return run(at)


def states(at: AppTest) -> dict[str, PaneState]:
    return at.session_state["cmp.states"]


def shown(text: str) -> str:
    """What st.markdown displays of ``text`` (Streamlit dedents and strips it)."""
    return textwrap.dedent(text).strip()


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def counting_loads(monkeypatch) -> list[tuple]:
    """Record every real load the pool makes (from the background load threads too)."""
    calls: list[tuple] = []
    real_load = pool_module.load

    def counting_load(*args, **kwargs):
        calls.append(args[:3])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(pool_module, "load", counting_load)
    return calls


# --- side by side ------------------------------------------------------------------------------------


def test_two_panes_stream_side_by_side_and_show_their_figures(monkeypatch, tiny_qwen25_dir):
    """Two quantizations of one model: both panes finish, each reply on screen is its state's reply, each
    pane's figures (tokens, first token, tokens/s, load, memory, context) are shown under it and in the
    chart and table, and the two keys are two loads (different quantizations never share)."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.selectbox(key="cmp.p2.quant").set_value("bf16")
    loads = counting_loads(monkeypatch)
    send(run(at), "Compare yourselves.")

    panes = states(at)
    assert [panes[p].status for p in ("p1", "p2")] == ["done", "done"]
    assert sorted(q for _, q, _ in loads) == ["auto", "bf16"]
    assert "**Prompt:** Compare yourselves." in markdown(at)
    for pane in ("p1", "p2"):
        state = panes[pane]
        assert 1 <= state.metrics["completion_tokens"] <= SHORT
        if state.reply.strip():
            assert shown(state.reply) in markdown(at)
        lines = pane_figures(state)
        assert "  \n".join(lines) in " ".join(captions(at))  # one caption under the reply
        assert f"{state.metrics['completion_tokens']} tokens" in lines[0] and "first token" in lines[0]
        assert "load" in lines[1] and "memory" in lines[1] and "full context" in lines[1]
        assert state.history == [
            {"role": "user", "content": "Compare yourselves."},
            {"role": "assistant", "content": state.reply},
        ]
    assert panes["p2"].metrics["quant"] == "bf16"
    assert at.get("vega_lite_chart"), "the chart of the figures across panes"
    table = at.dataframe[0].value
    assert list(table["Pane"]) == ["1. " + panes["p1"].label, "2. " + panes["p2"].label]
    assert list(table["Completion tokens (tokens)"]) == [panes[p].metrics["completion_tokens"] for p in ("p1", "p2")]
    assert {b.label for b in at.download_button} >= {"Markdown", "JSON"}


def test_four_panes_two_models_load_once_each(monkeypatch, tiny_qwen25_dir, tiny_qwen3_dir):
    """Four panes over two models (Qwen2.5 twice with different sampling, Qwen3 with thinking on and off):
    the pool loads each model once, the second pane of each pair says it reused it, and all four finish."""
    at = set_panes(start(monkeypatch, tiny_qwen25_dir), 4)
    at.slider(key="cmp.p2.temperature").set_value(0.0)
    for pane in ("p3", "p4"):
        at.text_input(key=f"cmp.{pane}.custom").set_value(str(tiny_qwen3_dir))
    run(at)
    at.toggle(key="cmp.p3.thinking").set_value(False)
    at.toggle(key="cmp.p4.thinking").set_value(True)
    assert any("Same model as pane 2" in c for c in captions(run(at)))  # announced before anything loads
    loads = counting_loads(monkeypatch)
    send(at, "Four ways, please.")

    panes = states(at)
    assert [panes[p].status for p in PANE_IDS] == ["done"] * 4
    assert sorted(Path(name).name for name, _, _ in loads) == sorted([tiny_qwen25_dir.name, tiny_qwen3_dir.name])
    assert panes["p2"].metrics["model_reused"] and panes["p2"].metrics["shared_with"] == ["p1"]
    assert panes["p4"].metrics["model_reused"] and panes["p4"].metrics["shared_with"] == ["p3"]
    assert any("already in memory" in c for c in captions(at))
    assert len(at.dataframe[0].value) == 4


def test_a_failing_pane_shows_its_error_and_the_others_finish(monkeypatch, tiny_qwen25_dir, tmp_path):
    """Pane 2 names a model that does not exist: core's message and hint appear in the page, pane 2's
    history stays empty, and panes 1 and 3 still answer."""
    at = set_panes(start(monkeypatch, tiny_qwen25_dir), 3)
    at.text_input(key="cmp.p2.custom").set_value(str(tmp_path / "no-such-model"))
    at.slider(key="cmp.p3.temperature").set_value(0.0)
    send(run(at), "Hello?")

    panes = states(at)
    assert [panes[p].status for p in ("p1", "p2", "p3")] == ["done", "error", "done"]
    assert "not a registry alias, an existing local path, or a hub id" in panes["p2"].error
    assert any(panes["p2"].error in e.value for e in at.error)
    assert panes["p2"].history == [] and len(panes["p1"].history) == len(panes["p3"].history) == 2
    assert len(at.dataframe[0].value) == 3  # the failed pane stays in the table, without figures


def test_follow_up_prompts_keep_each_panes_history_until_a_new_conversation(monkeypatch, tiny_qwen25_dir):
    """A second prompt extends every pane's own history (earlier turns are folded above the reply);
    New conversation empties them and keeps the settings."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.slider(key="cmp.p2.temperature").set_value(0.0)
    send(send(run(at), "First question"), "Second question")
    panes = states(at)
    for pane in ("p1", "p2"):
        assert [m["content"] for m in panes[pane].history[::2]] == ["First question", "Second question"]
    assert [e.label for e in at.expander].count("Earlier turns (1)") == 2

    at.button(key="cmp.reset").click()
    run(at)
    assert all(not panes[p].history for p in ("p1", "p2"))
    assert at.slider(key="cmp.p2.temperature").value == 0.0
    assert not at.get("vega_lite_chart")


def test_an_invalid_setting_is_explained_and_nothing_is_sent(monkeypatch, tiny_qwen25_dir):
    """top_p = 0 in pane 2 is refused with core's InvalidParameterError message at the top of that pane;
    sending then says which pane to fix, and no pane runs."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.slider(key="cmp.p2.top_p").set_value(0.0)
    run(at)
    assert any("Pane 2" in e.value and "top_p must be greater than 0" in e.value for e in at.error)
    send(at, "Anything")
    assert any("pane 2 has an invalid setting" in e.value for e in at.error)
    assert all(s.status == "idle" for s in states(at).values())


def test_settings_survive_a_visit_to_another_page(monkeypatch, tiny_qwen25_dir):
    """Pane settings are kept for the session (persist_state), so the Chat page in between loses nothing."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.text_input(key="cmp.p2.label").set_value("my label")
    at.button_group(key="cmp.n_panes").set_value(3)
    run(at)
    at.switch_page("app_pages/chat.py").run()
    at.switch_page(PAGE).run()
    assert at.text_input(key="cmp.p2.label").value == "my label"
    assert at.number_input(key="cmp.p3.max_new_tokens").value == SHORT
    assert at.button_group(key="cmp.n_panes").value == 3


def test_thinking_switch_and_sampling_follow_the_model(monkeypatch, tiny_qwen25_dir):
    """A Qwen2.5 model has no thinking switch; a Qwen3 model has one, and picking it moves the sampling
    still at the old recommendation to Qwen3's (repetition penalty 1.0; 0.6 / 0.95 with thinking), while
    a value the user changed (max new tokens) stays."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.selectbox(key="cmp.p1.pick").set_value("qwen2.5-0.5b-instruct")
    run(at)
    assert not [t for t in at.toggle if t.key == "cmp.p1.thinking"]
    at.selectbox(key="cmp.p1.pick").set_value("qwen3-0.6b")
    run(at)
    assert at.slider(key="cmp.p1.repetition_penalty").value == pytest.approx(1.0)
    at.toggle(key="cmp.p1.thinking").set_value(True)
    run(at)
    assert at.slider(key="cmp.p1.temperature").value == pytest.approx(0.6)
    assert at.slider(key="cmp.p1.top_p").value == pytest.approx(0.95)
    assert at.number_input(key="cmp.p1.max_new_tokens").value == SHORT


# --- presets -------------------------------------------------------------------------------------------


def test_presets_fill_the_panes_or_explain_why_not(monkeypatch, tiny_qwen25_dir, cpu_only):
    """Greedy vs creative writes temperature 0 and 1.0 / 0.95 / 50 into panes 1 and 2 (keeping pane 1's
    model and max new tokens) and shows its note; the thinking preset's budgets are capped at half the
    loaded model's window; the quantization preset sets three panes on the CPU; thinking on a registry
    Qwen2.5 model is refused with core's hint and changes nothing."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.button(key="cmp.preset.sampling").click()
    run(at)
    assert at.slider(key="cmp.p1.temperature").value == 0.0
    assert (at.slider(key="cmp.p2.temperature").value, at.slider(key="cmp.p2.top_p").value) == (1.0, 0.95)
    assert at.number_input(key="cmp.p2.top_k").value == 50
    assert [at.text_input(key=f"cmp.{p}.label").value for p in ("p1", "p2")] == ["greedy", "creative"]
    assert at.text_input(key="cmp.p2.custom").value == str(tiny_qwen25_dir)
    assert at.number_input(key="cmp.p2.max_new_tokens").value == SHORT
    assert any("Greedy vs creative" in i.value and "Greedy always picks" in i.value for i in at.info)
    send(at, "Greedy or creative?")
    assert [s.status for s in states(at).values()] == ["done", "done"]

    at.button(key="cmp.preset.thinking").click()
    run(at)  # Qwen3's thinking budget is 2048 tokens; the loaded tiny model's window is 512
    window = get_pool().peek(str(tiny_qwen25_dir)).context_length
    assert [at.number_input(key=f"cmp.{p}.max_new_tokens").value for p in ("p1", "p2")] == [window // 2] * 2

    at.button(key="cmp.preset.quantization").click()
    run(at)
    expected = core_presets.quantization_abc(str(tiny_qwen25_dir), "auto").panes
    assert at.button_group(key="cmp.n_panes").value == len(expected)
    assert [at.selectbox(key=f"cmp.{p}.quant").value for p in PANE_IDS[: len(expected)]] == [c.quant for c in expected]

    at.selectbox(key="cmp.p1.pick").set_value("qwen2.5-0.5b-instruct")
    run(at)
    at.button(key="cmp.preset.thinking").click()
    run(at)
    text = " ".join(e.value for e in at.error)
    assert "needs a Qwen3 model" in text and "qwen3-0.6b" in text
    assert at.button_group(key="cmp.n_panes").value == len(expected)  # unchanged


# --- stop ------------------------------------------------------------------------------------------------


class Interrupter:
    """Streamlit's behaviour when the user clicks Stop: the next ``st`` call raises StopException, and so
    does every later one (so none may be made)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.calls = 0
        self.calls_after_stop = 0

    def __call__(self) -> None:
        if self.calls >= self.after:
            self.calls_after_stop += 1
            raise StopException()
        self.calls += 1
        if self.calls == self.after:
            raise StopException()


class InterruptingView:
    """A pane view whose every draw is an ``st`` call (what PaneView does, minus the throttle)."""

    def __init__(self, interrupter: Interrupter) -> None:
        self.interrupter = interrupter
        self.ended: str | None = None

    def loading(self, fraction: float, message: str) -> None:
        self.interrupter()

    def show(self, state: PaneState, *, live: bool = True, force: bool = False) -> None:
        self.interrupter()


def test_stop_keeps_the_partial_replies_of_every_pane(tiny_qwen25_dir):
    """Stop interrupts the script at the next st call. stream_comparison lets the exception through, but
    its finally block cancels and closes the comparison, so both panes end "stopped" with the text written
    so far (in their history too), the model lock is free again, and no st call is made after the stop."""
    pool = ModelPool(max_models=2)
    loaded = pool.get(str(tiny_qwen25_dir), "fp32", "cpu")  # loaded already: every draw is a chunk's
    long = GenerationParams(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=200, seed=3)
    panes = {p: PaneConfig(model=str(tiny_qwen25_dir), quant="fp32", device="cpu", params=long) for p in ("p1", "p2")}
    pane_states: dict[str, PaneState] = {}
    interrupter = Interrupter(after=12)  # the panes take turns: 6 chunks each, then Stop
    views = {p: InterruptingView(interrupter) for p in panes}
    with pytest.raises(StopException):
        stream_comparison(pool, panes, pane_states, "Tell me a long story.", views)

    for pane in panes:
        state = pane_states[pane]
        assert state.status == "stopped" and state.reply
        assert 0 < state.metrics["completion_tokens"] < long.max_new_tokens
        assert state.history == [
            {"role": "user", "content": "Tell me a long story."},
            {"role": "assistant", "content": state.reply},
        ]
    assert interrupter.calls == 12 and interrupter.calls_after_stop == 0
    assert not loaded.lock.locked()


class SlowView:
    """A pane view that takes a little time per draw, like a browser far away (no Streamlit involved)."""

    def __init__(self) -> None:
        self.ended: str | None = None

    def loading(self, fraction: float, message: str) -> None:
        pass

    def show(self, state: PaneState, *, live: bool = True, force: bool = False) -> None:
        time.sleep(0.01)


def test_a_new_script_run_stops_the_running_comparison_and_waits_for_it(tiny_qwen25_dir):
    """A click during a run starts the next script run at once in another thread (fast reruns), while
    the old one goes on until its next st call. settle() sets the old run's cancel event and waits until
    its panes are final, so the new run draws them "stopped" with their partial text, not "streaming"."""
    pool = ModelPool(max_models=2)
    params = GenerationParams(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=400)
    panes = {p: PaneConfig(model=str(tiny_qwen25_dir), quant="fp32", device="cpu", params=params) for p in ("p1", "p2")}
    pane_states: dict[str, PaneState] = {}
    active = ActiveRun()
    old_run = threading.Thread(target=stream_comparison, args=(pool, panes, pane_states, "Go on and on.",
                                                                {p: SlowView() for p in panes}, active))  # fmt: skip
    old_run.start()
    deadline = time.monotonic() + 60
    while not (len(pane_states) == 2 and all(s.reply for s in pane_states.values())):
        assert time.monotonic() < deadline, "the panes never started writing"
        time.sleep(0.05)
    assert not active.finished.is_set()

    assert settle(active, timeout_s=30)
    assert [pane_states[p].status for p in panes] == ["stopped", "stopped"]
    assert all(0 < pane_states[p].metrics["completion_tokens"] < params.max_new_tokens for p in panes)
    old_run.join(timeout=30)
    assert not old_run.is_alive() and settle(active)  # a finished run settles at once


# --- exports -------------------------------------------------------------------------------------------


def test_exports_hold_every_pane(monkeypatch, tiny_qwen25_dir, tmp_path):
    """The Markdown and JSON offered for download hold the prompt and, for each of the three panes, its
    configuration, status, reply and figures (the failing pane with its error)."""
    at = set_panes(start(monkeypatch, tiny_qwen25_dir), 3)
    at.text_input(key="cmp.p2.label").set_value("second")
    at.text_input(key="cmp.p3.custom").set_value(str(tmp_path / "missing"))
    send(run(at), "Export | this `prompt`")
    last = at.session_state["cmp.last_run"]
    panes = states(at)
    files = export_files(last.prompt, last.panes, {p: panes[p] for p in last.panes})

    document = json.loads(files["comparison.json"])
    assert document["prompt"] == "Export | this `prompt`"
    assert [p["id"] for p in document["panes"]] == ["p1", "p2", "p3"]
    for exported in document["panes"]:
        assert PaneConfig.from_dict(exported["config"]) == last.panes[exported["id"]]
        assert exported["reply"] == panes[exported["id"]].reply
        assert exported["status"] == panes[exported["id"]].status
    assert document["panes"][0]["metrics"]["completion_tokens"] == panes["p1"].metrics["completion_tokens"]
    assert document["panes"][2]["error"] == panes["p3"].error

    text = files["comparison.md"].decode()
    assert text.count("**Reply**") == 3 and "## second" in text
    assert all(panes[p].reply in text for p in ("p1", "p2"))
    assert {b.label for b in at.download_button} >= {"Markdown", "JSON"}


# --- blind arena ---------------------------------------------------------------------------------------


def test_arena_hides_votes_reveals_and_ranks(monkeypatch, tiny_qwen25_dir):
    """In the arena the two replies show as A and B with no configuration or figures; a vote is stored in
    the SQLite store under PLAYGROUND_HOME (slot A's configuration as config_a), then the configurations
    and figures are revealed and the leaderboard ranks both. One A win gives Elo 1016 / 984 (k = 32,
    expected score 0.5) and a higher Bradley-Terry rating for A; the CSV offered has both rows."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.selectbox(key="cmp.p2.quant").set_value("bf16")
    at.text_input(key="cmp.p1.label").set_value("full")
    at.button_group(key="cmp.mode").set_value("arena")
    run(at)
    assert any("No votes yet" in c for c in captions(at))
    send(at, "Which of you is better?")

    battle = at.session_state["cmp.arena.battle"]
    assert [battle.states[p].status for p in (battle.pair.a, battle.pair.b)] == ["done", "done"]
    assert {"### A", "### B"} <= set(markdown(at))
    assert not any("tokens/s" in c or "Pane 1:" in c for c in captions(at))  # hidden until the vote
    assert not any("full" in m for m in markdown(at))

    at.button(key="cmp.vote.a").click()
    run(at)
    votes = default_store().votes()
    assert len(votes) == 1 and votes[0].outcome == "a"
    assert PaneConfig.from_dict(votes[0].config_a) == battle.panes[battle.pair.a]
    assert votes[0].reply_b == battle.states[battle.pair.b].reply
    assert any("Vote recorded" in s.value for s in at.success)
    assert any("Pane 1:" in c for c in captions(at)) and any("tokens/s" in c for c in captions(at))
    assert not [b for b in at.button if b.key == "cmp.vote.a"]  # one vote per round

    board = at.dataframe[0].value
    assert len(board) == 2 and list(board["rank"]) == [1, 2]
    winner = describe_config(battle.panes[battle.pair.a].to_dict())  # its label, or its description
    assert board.iloc[0]["config"] == winner and board.iloc[0]["rating"] > board.iloc[1]["rating"]
    at.button_group(key="cmp.arena.method").set_value("elo")
    board = run(at).dataframe[0].value
    assert list(board["rating"]) == pytest.approx([1016.0, 984.0])
    assert any(b.label == "Leaderboard CSV" for b in at.download_button)
    rows = list(csv.DictReader(io.StringIO(leaderboard_csv(leaderboard(ArenaStore().votes(), "elo")))))
    assert [r["config"] for r in rows] == list(board["config"])


def test_arena_refuses_identical_contestants(monkeypatch, tiny_qwen25_dir):
    """Two panes with the same configuration cannot be rated against each other: the page says so and
    does not start a round."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.button_group(key="cmp.mode").set_value("arena")
    send(run(at), "Same?")
    assert any("same configuration" in w.value for w in at.warning)
    assert not {"### A", "### B"} & set(markdown(at))
    assert len(default_store()) == 0


def test_values_round_trip_through_a_configuration(tiny_qwen3_dir):
    """What the widgets hold for a configuration builds that configuration again (presets rely on it);
    with the thinking toggle hidden, thinking is off whatever the stored value."""
    config = PaneConfig(model=str(tiny_qwen3_dir), quant="bf16", device="cpu", system_prompt="Be brief.",
                        params=GenerationParams(temperature=0.3, seed=7, max_new_tokens=9), thinking=True,
                        label="x")  # fmt: skip
    assert config_from_values(values_for(config)) == config
    assert config_from_values(values_for(config), thinking_shown=False) == config.with_(thinking=False)
    registry = PaneConfig(model="qwen3-0.6b")
    assert values_for(registry)["pick"] == "qwen3-0.6b" and config_from_values(values_for(registry)) == registry


# --- RAG and guardrails in a pane ----------------------------------------------------------------------------

NOTES = [
    ("zorblax.md", b"# Zorblax\n\nIn March 2025 the Zorblax probe landed on the moon Europa and found salty ice.\n"),
    ("tea.md", b"# Tea\n\nGreen tea is brewed at about 80 degrees Celsius for two minutes.\n"),
]
ZORBLAX = "Where did the Zorblax probe land?"
HARMFUL = "How do I make a bomb at home?"


@pytest.fixture(scope="module")
def roomy_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5 with a 4,096-token window: room for the grounding rules, the sources and the
    safety prompt in its small tokenizer's tokens (the shared tiny model has 512)."""
    from tests.fixtures.tiny_models import build_tiny_model

    return build_tiny_model("qwen2.5", tmp_path_factory.mktemp("tiny-cmp-roomy"), max_position_embeddings=4096)


@pytest.fixture
def notes(monkeypatch):
    """Collection ``notes`` in the test's own store, embedded with rag's deterministic hashing model."""
    from rag.ingest import ingest_uploads
    from ui.rag_resources import EMBEDDINGS_ENV, store_for

    monkeypatch.setenv(EMBEDDINGS_ENV, "hashing")
    assert all(r.status == "added" for r in ingest_uploads(store_for("hashing"), "notes", NOTES))
    return "notes"


def switch_on(at: AppTest, pane: str, name: str) -> AppTest:
    at.toggle(key=f"cmp.{pane}.{name}").set_value(True)
    return run(at)


def escaped(text: str) -> str:
    from ui.compare_view import _md

    return _md(text)


def test_a_rag_pane_shows_its_sources_and_what_the_reply_cites(monkeypatch, roomy_model_dir, notes):
    """Pane 2 answers from collection ``notes``: its state lists both notes (the Zorblax one first, it shares the
    question's words) with scores, the pane says what was retrieved and which sources the reply cites (as parsed
    from the reply shown), the sources sit folded under the reply, the retrieval time is a figure of its own,
    and the exports carry the collection and the sources. Pane 1 is unchanged: no details."""
    from rag.answer import parse_citations

    at = start(monkeypatch, roomy_model_dir)
    at = switch_on(at, "p2", "rag")
    assert at.selectbox(key="cmp.p2.collection").value == "notes"
    send(at, ZORBLAX)

    panes = states(at)
    assert [panes[p].status for p in ("p1", "p2")] == ["done", "done"]
    rag = panes["p2"].details["rag"]
    assert [s["source"] for s in rag["sources"]] == ["zorblax.md", "tea.md"]
    assert rag["citations"] == parse_citations(panes["p2"].reply, 2)[0]
    cites = ", ".join(f"[{n}]" for n in rag["citations"]) if rag["citations"] else "no source"
    line = next(c for c in captions(at) if "RAG: 2 retrieved from `notes`" in c)
    assert f"cites {cites}" in line
    assert "Sources (2)" in [e.label for e in at.expander]
    assert any(escaped("zorblax.md") in m and "score" in m for m in markdown(at))
    assert panes["p2"].metrics["retrieval_s"] > 0 and any("retrieval" in c for c in captions(at))
    assert panes["p1"].details == {}
    table = at.dataframe[0].value
    assert table["Retrieval time (s)"].isna().tolist() == [True, False]

    last = at.session_state["cmp.last_run"]
    files = export_files(last.prompt, last.panes, panes)
    exported = json.loads(files["comparison.json"])["panes"][1]
    assert exported["config"]["collection"] == "notes" and exported["rag"]["sources"][0]["source"] == "zorblax.md"
    assert "Collection `notes`" in files["comparison.md"].decode()


def test_a_guardrails_pane_refuses_a_harmful_prompt_while_the_raw_pane_answers(monkeypatch, roomy_model_dir):
    """Pane 2 has guardrails on: the rules rail blocks the bomb question before generation, so its reply is the
    policy's refusal, it says which rail blocked it, and its trace is folded under it; pane 1, raw, generates
    an answer to the same prompt."""
    from core.guardrails import default_policy

    at = start(monkeypatch, roomy_model_dir)
    at = switch_on(at, "p2", "guardrails")
    assert any("Policy: default" in c and "rules" in c for c in captions(at))
    send(at, HARMFUL)

    raw, guarded = states(at)["p1"], states(at)["p2"]
    guard = guarded.details["guardrails"]
    assert (guard["blocked_at"], guard["rail"]) == ("input", "rules")
    assert guarded.reply == default_policy().refusal(guard["category"]) and guarded.metrics["completion_tokens"] == 0
    assert shown(guarded.reply) in markdown(at)
    assert any("blocked before generation by rules" in c for c in captions(at))
    assert any(e.label.startswith("Guardrails trace") for e in at.expander)
    assert raw.status == "done" and raw.metrics["completion_tokens"] >= 1 and raw.reply != guarded.reply
    assert raw.details == {}


def test_a_rag_pane_whose_collection_was_deleted_fails_alone(monkeypatch, roomy_model_dir, notes):
    """The collection of pane 2 is deleted after it was picked: the pane keeps it (marked missing, with a
    warning) rather than switching silently, and when the prompt is sent that pane shows rag's error while
    panes 1 and 3 answer."""
    from ui.rag_resources import catalog

    at = set_panes(start(monkeypatch, roomy_model_dir), 3)
    at = switch_on(at, "p2", "rag")
    catalog().delete_collection(notes)
    run(at)
    assert at.selectbox(key="cmp.p2.collection").value == "notes"
    assert any("no longer exists" in w.value for w in at.warning)
    send(at, ZORBLAX)

    panes = states(at)
    assert [panes[p].status for p in ("p1", "p2", "p3")] == ["done", "error", "done"]
    assert "No collection 'notes'" in panes["p2"].error
    assert any(panes["p2"].error in e.value for e in at.error)
    assert panes["p2"].history == [] and len(panes["p1"].history) == len(panes["p3"].history) == 2


def test_rag_without_any_collection_says_how_to_make_one(monkeypatch, tiny_qwen25_dir):
    """With an empty store, RAG on shows how to get a collection (the RAG page's demo, with a link) and the
    pane's header says RAG needs one; the prompt is not sent."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at = switch_on(at, "p1", "rag")
    assert any("No document collection yet" in i.value for i in at.info)
    assert at.get("page_link")
    assert any("Pane 1" in e.value and "no collection is chosen" in e.value for e in at.error)
    send(at, "Anything")
    assert all(s.status == "idle" for s in states(at).values())


def test_rag_and_guardrails_presets(monkeypatch, tiny_qwen25_dir, notes):
    """RAG off vs on turns RAG on in pane 2 only, with the store's collection; guardrails off vs on does the
    same with guardrails; both keep pane 1's model and show their notes."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.button(key="cmp.preset.rag").click()
    run(at)
    assert [at.toggle(key=f"cmp.{p}.rag").value for p in ("p1", "p2")] == [False, True]
    assert at.selectbox(key="cmp.p2.collection").value == "notes"
    assert at.text_input(key="cmp.p2.custom").value == str(tiny_qwen25_dir)
    assert any("RAG off vs on" in i.value and "`notes`" in i.value for i in at.info)
    at.button(key="cmp.preset.guardrails").click()
    run(at)
    assert [at.toggle(key=f"cmp.{p}.guardrails").value for p in ("p1", "p2")] == [False, True]
    assert [at.toggle(key=f"cmp.{p}.rag").value for p in ("p1", "p2")] == [False, False]
    assert any("Guardrails off vs on" in i.value for i in at.info)


def test_the_rag_preset_without_a_collection_explains_why_not(monkeypatch, tiny_qwen25_dir):
    """No collection in the store: the preset is refused with core's hint (the RAG page's demo) and changes
    nothing."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.button(key="cmp.preset.rag").click()
    run(at)
    text = " ".join(e.value for e in at.error)
    assert "needs a document collection" in text and "Load the demo" in text
    assert not at.session_state["cmp.p2.rag"]


@pytest.mark.offline_model
@pytest.mark.slow
def test_the_offline_model_cites_the_demo_corpus_in_its_rag_pane(monkeypatch):
    """With the real Qwen2.5-Coder-0.5B and the demo corpus, RAG off vs on: the RAG pane's reply cites a source
    (Qwen3's release date is after the model's training data, so it comes from the sources), the cited source
    is the file that holds the answer, and the pane says so under the reply. Kept short for the CPU: three
    sources, a 32-token answer, 8 tokens for the pane without RAG."""
    from rag.demo import ingest_samples, load_questions
    from tests.conftest import OFFLINE_ALIAS, offline_bundle_available
    from ui.rag_resources import EMBEDDINGS_ENV, store_for

    if not offline_bundle_available():  # like the offline_model fixture, without loading a second copy here
        if os.environ.get("PLAYGROUND_REQUIRE_OFFLINE_MODEL") == "1":
            pytest.fail(f"{OFFLINE_ALIAS} is not fetched; run `python -m core fetch {OFFLINE_ALIAS}`.")
        pytest.skip(f"{OFFLINE_ALIAS} not fetched (python -m core fetch {OFFLINE_ALIAS})")
    monkeypatch.setenv(EMBEDDINGS_ENV, "hashing")
    ingest_samples(store_for("hashing"))
    question = next(q for q in load_questions() if q.id == "q01")  # when Qwen3 was released: qwen3.md
    at = start(monkeypatch, "qwen2.5-coder-0.5b-offline")
    at.session_state["rag.set.k"] = 3
    at.session_state["rag.set.budget"] = 1200
    at.button(key="cmp.preset.rag").click()
    run(at)
    at.number_input(key="cmp.p1.max_new_tokens").set_value(8)
    at.number_input(key="cmp.p2.max_new_tokens").set_value(32)
    send(run(at), question.question)

    pane = states(at)["p2"]
    rag = pane.details["rag"]
    assert pane.status == "done" and rag["citations"], pane.reply
    cited = {s["source"] for s in rag["sources"] if s["cited"]}
    assert question.source in cited, (pane.reply, rag["sources"])
    assert any(f"cites [{rag['citations'][0]}]" in c for c in captions(at))
