"""Compare: one prompt to 2–4 configurations side by side, or two of them blind in the arena."""

import streamlit as st

from core.compare import MAX_PROMPT_CHARS, PaneConfig, PaneState, shared_models, validate_prompt
from core.errors import PlaygroundError
from core.pool import ModelPool
from ui import compare_state as cs
from ui.compare_arena import render_arena, render_leaderboard
from ui.compare_pane import current_config, render_pane_settings
from ui.compare_presets import render_presets
from ui.compare_run import ActiveRun, BackgroundLoads, settle, stream_comparison
from ui.compare_view import PaneView, render_exports, render_figures
from ui.errors import guard, show_error
from ui.resources import get_load_jobs, get_pool


def side_by_side(prompt: str | None, pool: ModelPool, loads: BackgroundLoads) -> None:
    """Settings and replies of every pane in columns; a sent prompt streams into all of them."""
    with guard("The presets"):
        render_presets(pool)
    panes = cs.active_panes()
    prompt_slot, stop_slot = st.empty(), st.empty()
    valid = {p: c for p in panes if isinstance(c := current_config(p, pool), PaneConfig)}
    shared = shared_models(valid) if len(valid) >= 2 else {}
    run = cs.last_run()
    shown_prompt = prompt or (run.prompt if run else "")
    configs, views = {}, {}
    for pane, column in zip(panes, st.columns(len(panes), border=True), strict=True):
        with column:
            configs[pane] = render_pane_settings(pane, pool, shared.get(pane, []))
            views[pane] = PaneView(st.container(key=f"cmp-out-{pane}"), shown_prompt)  # keyed: a hook for e2e tests

    states = cs.pane_states()
    if prompt:
        try:
            invalid = [str(cs.pane_number(p)) for p, c in configs.items() if not isinstance(c, PaneConfig)]
            if invalid:
                raise PlaygroundError(f"The prompt was not sent: pane {', '.join(invalid)} has an invalid setting.",
                                      "Fix it (the error is shown at the top of the pane) and send again.")  # fmt: skip
            validate_prompt(prompt)
            run = cs.LastRun(prompt, dict(configs))
            st.session_state[cs.LAST_RUN] = run
            prompt_slot.markdown(f"**Prompt:** {prompt}")
            stop_slot.button("Stop all panes", key="cmp.stop", icon=":material/stop_circle:",
                             help="Stops every pane; the text written so far is kept.")  # fmt: skip
            active = st.session_state[cs.ACTIVE] = ActiveRun()
            stream_comparison(loads, run.panes, states, prompt, views, active)
        except PlaygroundError as exc:
            show_error(exc)
        stop_slot.empty()
    else:
        if run is not None and run.prompt:
            prompt_slot.markdown(f"**Prompt:** {run.prompt}")
        for pane, view in views.items():
            view.show(states.setdefault(pane, PaneState()), live=False, force=True)

    if run is not None and run.panes:
        ran = {p: states[p] for p in run.panes if p in states}
        with guard("The figures"):
            st.subheader(":material/bar_chart: Figures")
            render_figures(ran, {p: cs.pane_number(p) for p in ran})
            render_exports(run.prompt, run.panes, ran)


pool = get_pool()
loads = BackgroundLoads(pool, get_load_jobs())
cs.init_page(pool)

st.title(":material/compare_arrows: Compare")
previous = st.session_state.get(cs.ACTIVE)
if previous is not None and not previous.finished.is_set():  # this run interrupted it (a click, Stop)
    with st.spinner("Stopping the previous run…"):
        settle(previous)
sent = st.chat_input("Send the same prompt to every pane", max_chars=MAX_PROMPT_CHARS, key="cmp.prompt")
sent = sent if sent and sent.strip() else None
mode_col, panes_col, reset_col = st.columns([2, 2, 1], vertical_alignment="bottom")
mode = mode_col.segmented_control("Mode", ["side", "arena"], key=cs.MODE, required=True, persist_state="session",
                                  format_func={"side": "Side by side", "arena": "Blind arena"}.get)  # fmt: skip
panes_col.segmented_control("Panes", [2, 3, 4], key=cs.N_PANES, required=True, persist_state="session")
reset_col.button("New conversation", key="cmp.reset", icon=":material/restart_alt:", on_click=cs.new_conversation,
                 help="Forget every pane's conversation (the settings stay).")  # fmt: skip

if mode == "arena":
    with guard("The arena"):
        render_arena(sent, loads, {p: current_config(p, pool) for p in cs.active_panes()})
    with guard("The leaderboard"):
        render_leaderboard()
else:
    side_by_side(sent, pool, loads)
