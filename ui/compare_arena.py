"""The blind arena on the Compare page: two panes answer as "A" and "B", the user votes, then sees who was who.

Contract:
- A :class:`Battle` is one prompt to two panes behind a :class:`core.arena.BlindPair`
  (shuffled afresh for every prompt), with its own pane states: a battle is
  one turn and never touches the side-by-side conversations.
- :func:`render_arena` draws the contestant picker, runs a battle when a
  prompt is sent, shows the replies as A and B without their configurations
  or figures, offers the four votes (``core.arena.OUTCOME_LABELS``) once both
  replies are in, records the vote in the :func:`core.arena.default_store`
  (SQLite under ``PLAYGROUND_HOME``, or ``DATABASE_URL``) and then reveals the configurations and
  their figures.
- :func:`render_leaderboard` ranks every configuration voted on (Bradley-Terry
  or Elo, with bootstrap confidence intervals) and offers it as CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from core.arena import (
    OUTCOME_LABELS,
    ArenaStore,
    BlindPair,
    config_key,
    default_store,
    leaderboard,
    leaderboard_csv,
    store_at,
)
from core.compare import PaneConfig, PaneState
from core.errors import PlaygroundError
from ui import compare_state as cs
from ui.compare_run import ActiveRun, BackgroundLoads, stream_comparison
from ui.compare_view import PaneView
from ui.errors import show_error

METHODS = {"bt": "Bradley-Terry", "elo": "Elo"}
BOOTSTRAP_ROUNDS = 1000


@dataclass
class Battle:
    """One blind comparison: the pair, the prompt, the two configurations and states, the vote."""

    pair: BlindPair
    prompt: str
    panes: dict[str, PaneConfig]  # pane id -> configuration, slot A first
    states: dict[str, PaneState] = field(default_factory=dict)
    outcome: str | None = None
    vote_error: PlaygroundError | None = None

    @property
    def finished(self) -> bool:
        """Both replies are in (complete or stopped, with text): a vote is meaningful."""
        return all(
            self.states.get(p) is not None and self.states[p].status in ("done", "stopped") and self.states[p].reply
            for p in (self.pair.a, self.pair.b)
        )


def start_battle(contestants: list[str], configs: Mapping[str, PaneConfig], prompt: str,
                 seed: int | None = None) -> Battle:  # fmt: skip
    pair = BlindPair.shuffle(contestants, seed=seed)
    return Battle(pair, prompt, {pair.a: configs[pair.a], pair.b: configs[pair.b]})


def vote(battle: Battle, outcome: str, store: ArenaStore | None = None) -> None:
    """Record the vote (once) and reveal; a refused vote is kept on the battle to be shown."""
    try:
        battle.pair.record(store or default_store(), battle.panes,
                           {p: s.reply for p, s in battle.states.items()}, outcome, battle.prompt)  # fmt: skip
        battle.outcome = outcome
        battle.vote_error = None
    except PlaygroundError as exc:
        battle.vote_error = exc


def _vote_clicked(outcome: str) -> None:
    battle = st.session_state.get(cs.BATTLE)
    if battle is not None and not battle.pair.voted:
        vote(battle, outcome)


# --- drawing -----------------------------------------------------------------------------------------


def _contestants(panes: tuple[str, ...]) -> list[str]:
    """The two panes that compete: chosen when there are more than two."""
    if len(panes) == 2:
        return list(panes)
    chosen = [p for p in st.session_state.get(cs.ARENA_PANES) or [] if p in panes]
    st.session_state[cs.ARENA_PANES] = chosen if chosen else list(panes[:2])
    picked = st.multiselect("Contestants", panes, key=cs.ARENA_PANES, max_selections=2,
                            format_func=lambda p: f"Pane {cs.pane_number(p)}",
                            persist_state="session",
                            help="Which two panes compete. Their order is shuffled for every prompt.")  # fmt: skip
    return list(picked)


def _slot_header(battle: Battle, slot: str) -> None:
    st.markdown(f"### {slot}")
    if battle.pair.revealed:
        pane = battle.pair.pane_of(slot)
        st.caption(f"**Pane {cs.pane_number(pane)}:** {battle.panes[pane].describe()}")


def _draw_battle(battle: Battle, pool: Any, run: bool) -> None:
    st.markdown(f"**Prompt:** {battle.prompt}")
    stop_slot = st.empty()
    columns = st.columns(2, border=True)
    views = {}
    for slot, column in zip("AB", columns, strict=True):
        pane = battle.pair.pane_of(slot)
        with column:
            _slot_header(battle, slot)
            output = st.container(key=f"cmp-out-{slot}")  # keyed: a stable hook for browser tests
            views[pane] = PaneView(output, battle.prompt, hidden=not battle.pair.revealed)
    if run:
        stop_slot.button("Stop both", key="cmp.arena.stop", icon=":material/stop_circle:",
                         help="Stops both replies; the text written so far is kept.")  # fmt: skip
        active = st.session_state[cs.ACTIVE] = ActiveRun()
        stream_comparison(pool, battle.panes, battle.states, battle.prompt, views, active)
        stop_slot.empty()
    else:
        for pane, view in views.items():
            view.show(battle.states.get(pane, PaneState()), live=False, force=True)


def _vote_buttons(battle: Battle) -> None:
    if battle.pair.voted:
        st.success(f"Vote recorded: **{OUTCOME_LABELS[battle.outcome or '']}**. The configurations are shown "
                   "above. Send another prompt for a new round.", icon=":material/how_to_vote:")  # fmt: skip
        return
    if not battle.finished:
        if any(s.status == "error" for s in battle.states.values()):
            st.warning("A pane failed, so this round cannot be voted on. Fix it and send the prompt again.",
                       icon=":material/warning:")  # fmt: skip
        return
    st.markdown("**Which reply is better?**")
    columns = st.columns(len(OUTCOME_LABELS))
    for column, (outcome, label) in zip(columns, OUTCOME_LABELS.items(), strict=True):
        column.button(label, key=f"cmp.vote.{outcome}", on_click=_vote_clicked, args=(outcome,), width="stretch",
                      type="primary" if outcome in ("a", "b") else "secondary")  # fmt: skip
    if battle.vote_error is not None:
        show_error(battle.vote_error)


def render_arena(prompt: str | None, pool: BackgroundLoads, configs: Mapping[str, PaneConfig | PlaygroundError]
                 ) -> None:  # fmt: skip
    """The arena: contestants, a new battle when ``prompt`` is sent, the current battle, the vote."""
    st.caption(
        "Two panes answer the same prompt as **A** and **B**, in a random order, with their configurations and "
        "figures hidden. Vote, then see who was who. Set the panes up in **Side by side** mode. Each prompt is "
        "a new single-turn round."
    )
    contestants = _contestants(tuple(configs))
    ready = len(contestants) == 2
    if not ready:
        st.info("Pick two panes to compete.", icon=":material/info:")
    invalid = [p for p in contestants if not isinstance(configs[p], PaneConfig)]
    for pane in invalid:
        error = configs[pane]
        st.error(f"**Pane {cs.pane_number(pane)}:** {error}", icon=":material/error:")
    same = (
        ready
        and not invalid
        and config_key(configs[contestants[0]].to_dict()) == config_key(configs[contestants[1]].to_dict())
    )
    if same:
        st.warning("The two contestants have the same configuration: a vote between them would say nothing. "
                   "Change one of them (or apply a preset) first.", icon=":material/warning:")  # fmt: skip
    battle: Battle | None = st.session_state.get(cs.BATTLE)
    run = False
    if prompt and ready and not invalid and not same:
        battle = start_battle(contestants, configs, prompt)  # type: ignore[arg-type]
        st.session_state[cs.BATTLE] = battle
        run = True
    elif prompt:
        st.error("The prompt was not sent: fix the contestants first.", icon=":material/error:")
    if battle is not None:
        try:
            _draw_battle(battle, pool, run)
        except PlaygroundError as exc:
            show_error(exc)
        _vote_buttons(battle)
    elif ready:
        st.caption("Type a prompt below to start a round.")


@st.cache_data(max_entries=16, show_spinner="Ranking…")
def _ranked(url: str, count: int, last_id: int, method: str) -> list[dict[str, Any]]:
    """The leaderboard rows; cached per (database, votes so far, method), since the bootstrap takes a moment."""
    del count, last_id  # part of the cache key only
    rows = leaderboard(store_at(url).votes(), method, rounds=BOOTSTRAP_ROUNDS)  # type: ignore[arg-type]
    return [row.to_dict() for row in rows]


def leaderboard_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame[["rank", "config", "rating", "ci_low", "ci_high", "games", "wins", "losses", "ties", "both_bad",
                  "config_id"]]  # fmt: skip


def render_leaderboard(store: ArenaStore | None = None) -> None:
    """Configurations ranked by the votes so far, with 95 % bootstrap intervals; CSV download."""
    st.subheader(":material/leaderboard: Leaderboard")
    store = store or default_store()
    votes = store.votes()
    if not votes:
        st.caption("No votes yet.")
        return
    st.session_state.setdefault(cs.ARENA_METHOD, "bt")
    method = st.segmented_control("Rating", list(METHODS), format_func=METHODS.get, key=cs.ARENA_METHOD,
                                  required=True, persist_state="session")  # fmt: skip
    rows = _ranked(store.url, len(votes), votes[-1].id, method or "bt")
    st.dataframe(
        leaderboard_frame(rows),
        hide_index=True,
        column_config={
            "rating": st.column_config.NumberColumn("rating", format="%.1f"),
            "ci_low": st.column_config.NumberColumn("95% CI low", format="%.1f"),
            "ci_high": st.column_config.NumberColumn("95% CI high", format="%.1f"),
            "both_bad": st.column_config.NumberColumn("both bad"),
        },
    )
    st.caption(
        f"{len(votes)} vote{'s' if len(votes) != 1 else ''}. Ratings on the Elo scale (400 points = 10:1 odds); "
        "'both bad' counts as a tie. Bradley-Terry fits all votes at once; Elo depends on their order. "
        f"Intervals: {BOOTSTRAP_ROUNDS} bootstrap resamples of the votes."
    )
    st.download_button("Leaderboard CSV", leaderboard_csv(rows), file_name=f"arena-leaderboard-{method}.csv",
                       mime="text/csv", icon=":material/download:", key="cmp.arena.csv", on_click="ignore")  # fmt: skip
