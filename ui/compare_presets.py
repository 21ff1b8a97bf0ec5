"""One-click presets on the Compare page (the presets themselves are core.presets).

Contract: :func:`render_presets` draws a button per :data:`core.presets.PRESETS`.
A click builds the preset for pane 1's model and device (and, where the preset
keeps them equal across panes, its quantization, system prompt and max new
tokens; for RAG off vs on, pane 1's collection, else the demo collection, else
the first one), caps each pane's max new tokens at half its model's window, writes
the configurations into the first panes' settings, sets the pane count, and
shows the preset's note. A preset that cannot be built
(:class:`core.presets.PresetUnavailableError`, or pane 1's settings invalid)
is shown with its hint and changes nothing.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import PlaygroundError
from core.pool import ModelPool
from core.presets import PRESETS, build_preset
from ui import compare_state as cs
from ui.compare_pane import current_config
from ui.compare_switches import default_collection
from ui.errors import show_error

PER_ROW = 4  # preset buttons per row


def preset_options(name: str, base: Any) -> dict[str, Any]:
    """What pane 1 passes on to preset ``name``: only what that preset does not vary itself.

    The thinking preset keeps its own token budgets (thinking needs more room).
    """
    options: dict[str, Any] = {"max_new_tokens": base.params.max_new_tokens}
    if name != "quantization":
        options["quant"] = base.quant
    if name != "system_prompt":
        options["system_prompt"] = base.system_prompt
    if name == "thinking":
        options.pop("max_new_tokens")
    return options


def apply_preset(name: str, pool: ModelPool) -> None:
    """Build preset ``name`` from pane 1 and fill the panes (a button callback)."""
    st.session_state[cs.PRESET_NOTE] = None
    st.session_state[cs.PRESET_ERROR] = None
    base = current_config(cs.PANE_IDS[0], pool)
    try:
        if isinstance(base, PlaygroundError):
            raise PlaygroundError(f"Pane 1's settings are invalid: {base.message}", base.hint)
        options = preset_options(name, base)
        if name == "rag":  # the store is only read for this preset (its error is shown like a preset's)
            options["collection"] = default_collection(st.session_state.get(cs.wkey(cs.PANE_IDS[0], "collection")))
        preset = build_preset(name, base.model, base.device, **options)
    except PlaygroundError as exc:
        st.session_state[cs.PRESET_ERROR] = exc
        return
    for pane, config in zip(cs.PANE_IDS, preset.panes, strict=False):
        cap = cs.max_new_tokens_cap(pool, config.model)  # e.g. the thinking budget on a small-window model
        if config.params.max_new_tokens > cap:
            config = config.with_(params=config.params.with_(max_new_tokens=cap))
        cs.apply_config(pane, config)
    st.session_state[cs.N_PANES] = len(preset.panes)
    st.session_state[cs.PRESET_NOTE] = (PRESETS[name].title, preset.note)


def render_presets(pool: ModelPool) -> None:
    with st.expander("One-click presets", icon=":material/bolt:"):
        st.caption("Each preset is built for pane 1's model and device and fills the panes' settings.")
        items = list(PRESETS.items())
        columns = [c for _ in range(0, len(items), PER_ROW) for c in st.columns(PER_ROW)][: len(items)]
        for column, (name, info) in zip(columns, items, strict=True):
            column.button(info.title, key=f"cmp.preset.{name}", help=info.help, on_click=apply_preset,
                          args=(name, pool), width="stretch")  # fmt: skip
        error = st.session_state.get(cs.PRESET_ERROR)
        note = st.session_state.get(cs.PRESET_NOTE)
        if error is not None:
            show_error(error)
        elif note:
            title, text = note
            st.info(f"**{title}.** {text}", icon=":material/info:")
