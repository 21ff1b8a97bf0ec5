"""One pane's settings on the Compare page: model, quantization, device, system prompt, thinking, sampling.

Contract of :func:`render_pane_settings`: draws the pane's header (its number,
its configuration in one line, the panes it shares a model with) and a
"Settings" expander with the widgets, all keyed ``cmp.<pane>.<name>`` and kept
for the session (``persist_state="session"``). It returns the pane's
:class:`PaneConfig`, or core's error explaining what is wrong (shown in the
header too). :func:`current_config` gives the same result without drawing
anything (the arena, where settings stay hidden). The thinking switch is
shown for Qwen3 models and for models not loaded yet (their template is
unknown); the RAG and guardrails switches are :func:`ui.compare_switches.render_switches`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.compare import PaneConfig
from core.endpoints import is_remote
from core.errors import PlaygroundError
from core.params import MAX_NEW_TOKENS_LIMIT
from core.pool import ModelPool
from core.registry import DEVICES, REGISTRY
from ui import compare_state as cs
from ui import presets
from ui.compare_state import wkey
from ui.compare_switches import render_switches
from ui.model_sidebar import option_label
from ui.remote_picker import remote_names
from ui.state import CUSTOM_OPTION

KEEP = "session"  # persist_state: settings survive page switches and arena mode


def current_config(pane: str, pool: ModelPool) -> PaneConfig | PlaygroundError:
    """The pane's configuration from its settings, or the error that makes it invalid."""
    values = cs.pane_values(pane)
    try:
        return cs.config_from_values(values, cs.thinking_support(pool, cs.model_of(values)) is not False)
    except PlaygroundError as exc:
        return exc


# --- callbacks (run before the script, so widgets can still be changed) -------------------------------


def _on_model_change(pane: str, pool: ModelPool) -> None:
    cs.follow_recommendation(pane, pool)


def _on_preset_change(pane: str) -> None:
    name = st.session_state[wkey(pane, "sys_preset")]
    if name != presets.CUSTOM:
        st.session_state[wkey(pane, "system")] = presets.preset_text(name, st.session_state[wkey(pane, "sys_language")])


def _on_system_edit(pane: str) -> None:
    name, language = presets.matching_preset(st.session_state[wkey(pane, "system")])
    st.session_state[wkey(pane, "sys_preset")] = name
    if name == presets.LANGUAGE_PRESET:
        st.session_state[wkey(pane, "sys_language")] = language


# --- widgets ---------------------------------------------------------------------------------------------


def _valid_choice(key: str, options: list[Any]) -> None:
    """A stored value no longer offered (e.g. another model's quantization) falls back to the first option."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]


def _model_widgets(pane: str, pool: ModelPool) -> None:
    options = [*REGISTRY, *remote_names(), CUSTOM_OPTION]
    _valid_choice(wkey(pane, "pick"), options)
    args = (pane, pool)
    st.selectbox("Model", options, key=wkey(pane, "pick"), format_func=option_label, on_change=_on_model_change,
                 args=args, persist_state=KEEP)  # fmt: skip
    if st.session_state[wkey(pane, "pick")] == CUSTOM_OPTION:
        st.text_input(
            "Hub id or local path", key=wkey(pane, "custom"), on_change=_on_model_change, args=args,
            placeholder="Qwen/Qwen2.5-0.5B-Instruct or /path/to/model", persist_state=KEEP,
        )  # fmt: skip
    model = cs.model_of(cs.pane_values(pane))
    quants = cs.quant_options(model, st.session_state.get(wkey(pane, "quant")))
    _valid_choice(wkey(pane, "quant"), quants)
    left, right = st.columns(2)
    left.selectbox("Quantization", quants, key=wkey(pane, "quant"), persist_state=KEEP,
                   help="auto: bf16 on a GPU, fp32 on the CPU. Panes with the same model, quantization and "
                   "device share one loaded copy.")  # fmt: skip
    _valid_choice(wkey(pane, "device"), list(DEVICES))
    remote = is_remote(model)
    right.selectbox("Device", DEVICES, key=wkey(pane, "device"), persist_state=KEEP, disabled=remote,
                    help="The server's own." if remote else "auto: the GPU when there is one.")  # fmt: skip
    st.text_input("Label (optional)", key=wkey(pane, "label"), max_chars=60, persist_state=KEEP,
                  placeholder="e.g. int8", help="Shown in the figures, the exports and the leaderboard.")  # fmt: skip


def _prompt_widgets(pane: str, pool: ModelPool) -> None:
    _valid_choice(wkey(pane, "sys_preset"), list(presets.PRESETS))
    _valid_choice(wkey(pane, "sys_language"), list(presets.LANGUAGES))
    st.selectbox("System prompt preset", list(presets.PRESETS), key=wkey(pane, "sys_preset"),
                 on_change=_on_preset_change, args=(pane,), persist_state=KEEP)  # fmt: skip
    if st.session_state[wkey(pane, "sys_preset")] == presets.LANGUAGE_PRESET:
        st.selectbox("Language", presets.LANGUAGES, key=wkey(pane, "sys_language"), on_change=_on_preset_change,
                     args=(pane,), persist_state=KEEP)  # fmt: skip
    st.text_area("System prompt", key=wkey(pane, "system"), height=90, on_change=_on_system_edit, args=(pane,),
                 persist_state=KEEP, help="Empty: the model's own default.")  # fmt: skip
    support = cs.thinking_support(pool, cs.model_of(cs.pane_values(pane)))
    if support is not False:  # a Qwen3 model, or one not loaded yet whose template is unknown
        st.toggle(
            "Thinking", key=wkey(pane, "thinking"), on_change=_on_model_change, args=(pane, pool), persist_state=KEEP,
            help="Qwen3 reasons first (shown folded above the answer)."
            + ("" if support else " This model is not loaded yet: ignored if it has no thinking mode."),
        )  # fmt: skip
    render_switches(pane)


def _sampling_widgets(pane: str) -> None:
    left, right = st.columns(2)
    left.slider("Temperature", 0.0, 2.0, step=0.05, key=wkey(pane, "temperature"), persist_state=KEEP,
                help="0 = greedy decoding.")  # fmt: skip
    right.slider("top_p", 0.0, 1.0, step=0.01, key=wkey(pane, "top_p"), persist_state=KEEP)
    left.number_input("top_k", 0, 10_000, step=1, key=wkey(pane, "top_k"), persist_state=KEEP, help="0 disables top-k.")
    right.slider("Repetition penalty", 0.5, 2.0, step=0.01, key=wkey(pane, "repetition_penalty"), persist_state=KEEP)
    left.number_input("Max new tokens", 1, MAX_NEW_TOKENS_LIMIT, step=32, key=wkey(pane, "max_new_tokens"),
                      persist_state=KEEP)  # fmt: skip
    right.text_input("Seed", key=wkey(pane, "seed"), placeholder="blank = random", persist_state=KEEP,
                     help="A whole number makes sampling repeatable.")  # fmt: skip


def render_pane_settings(pane: str, pool: ModelPool, shared_with: list[str]) -> PaneConfig | PlaygroundError:
    """Header and settings of one pane; returns its configuration or the error that makes it invalid."""
    header = st.container()  # filled last, from the values the widgets hold after this run's corrections
    with st.expander("Settings", icon=":material/tune:"):
        model_tab, prompt_tab, sampling_tab = st.tabs(["Model", "Prompt", "Sampling"])
        with model_tab:
            _model_widgets(pane, pool)
        with prompt_tab:
            _prompt_widgets(pane, pool)
        with sampling_tab:
            _sampling_widgets(pane)
    config = current_config(pane, pool)
    label = config.label if isinstance(config, PaneConfig) else ""
    header.markdown(f"**Pane {cs.pane_number(pane)}**" + (f" · {label}" if label else ""))
    if isinstance(config, PaneConfig):
        header.caption(config.describe())
        if shared_with:
            others = ", ".join(str(cs.pane_number(p)) for p in shared_with)
            header.caption(f":material/link: Same model as pane {others}: loaded once, shared.")
    else:
        text = f"**Pane {cs.pane_number(pane)}:** {config.message} {config.hint}".strip()
        header.error(text, icon=":material/error:")
    return config
