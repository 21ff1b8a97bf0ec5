"""The shared model sidebar (drawn by app.py on every page) and loading with a progress bar.

Contract:
- :func:`render_model_sidebar` draws the picker (registry aliases with their
  offline availability, or a free hub id / local path), quantization and
  device, Load / Unload, and for a loaded model its measured load time,
  memory and the loader's notices. Nothing here raises: a failed load shows
  core's message and hint.
- :func:`ensure_loaded` returns the selected model from the one shared
  :class:`core.pool.ModelPool`, loading it first (with ``st.progress`` fed by
  the loader's progress callback) if needed; None after showing the error.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import hub
from core.fetch import is_fetched
from core.loading import LoadedModel
from core.registry import DEVICES, QUANTS, REGISTRY, ModelSpec, find_spec
from ui import remote_picker, state
from ui.errors import guard, show_error
from ui.resources import get_load_jobs, get_pool
from ui.state import CUSTOM_OPTION, ModelChoice

POLL_S = 0.1
LOADING_KEY = "model.loading"  # the pool key this session asked to load with the Load button


@st.cache_data(ttl=30, show_spinner=False)
def availability(alias: str) -> str:
    """Availability: "✓ offline" for a fetched bundle, "✓ cached" for a hub model in the local cache,
    else what it still needs."""
    spec = REGISTRY[alias]
    if spec.gguf is not None:
        return "✓ offline" if is_fetched(spec.gguf) else "not fetched"
    try:
        cached = hub.is_cached(spec.hub_id)
    except Exception:  # noqa: BLE001 - a broken HF cache must not break the picker
        cached = False
    if spec.prequantized:
        return "✓ cached, needs CUDA" if cached else "needs hub + CUDA"
    return "✓ cached" if cached else "needs hub"


def option_label(option: str) -> str:
    if option == CUSTOM_OPTION:
        return "Other: hub id or local path…"
    if remote_picker.is_remote(option):
        return remote_picker.option_label(option)
    return f"{option} · {availability(option)}"


def format_bytes(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"


def selected_spec(choice: ModelChoice) -> ModelSpec | None:
    return find_spec(choice.name) if choice.name else None


def load_with_progress(choice: ModelChoice, container: Any) -> LoadedModel | None:
    """Load ``choice`` (or wait for a load already running), drawing a progress bar in ``container``."""
    job = get_load_jobs().start(*choice.key)
    if not job.done.is_set():
        bar = container.progress(job.fraction, text=f"Loading {choice.name}…")
        while not job.wait(POLL_S):
            bar.progress(job.fraction, text=job.message)
        bar.empty()
    if job.failure is not None:
        show_error(job.failure, container)
        return None
    return job.result


def ensure_loaded(choice: ModelChoice, container: Any = None) -> LoadedModel | None:
    """The selected model from the pool, loading it now if needed; None (error shown) on failure."""
    where = container if container is not None else st
    if not choice.name:
        where.warning("No model selected: pick one in the sidebar (or type a hub id / local path).")
        return None
    loaded = get_pool().peek(*choice.key)
    if loaded is not None:
        return loaded
    return load_with_progress(choice, where)


def _on_pick_change() -> None:
    spec = find_spec(st.session_state.get(state.MODEL_PICK, ""))
    if spec is not None and st.session_state.get(state.MODEL_QUANT) not in spec.quants:
        st.session_state[state.MODEL_QUANT] = "auto"


def _picker() -> ModelChoice:
    options = [*REGISTRY, *remote_picker.remote_names(), CUSTOM_OPTION]
    if st.session_state.get(state.MODEL_PICK) not in options:
        st.session_state[state.MODEL_PICK] = options[0]
    st.selectbox("Model", options, key=state.MODEL_PICK, format_func=option_label, on_change=_on_pick_change)
    if st.session_state[state.MODEL_PICK] == CUSTOM_OPTION:
        st.session_state.setdefault(state.MODEL_CUSTOM, "")
        st.text_input(
            "Hub id or local path",
            key=state.MODEL_CUSTOM,
            placeholder="Qwen/Qwen2.5-0.5B-Instruct or /path/to/model",
            help="A directory saved with save_pretrained (safetensors), a .gguf file, or a hub id (owner/name).",
        )
    choice = state.current_choice()
    remote_picker.show_config_problem()
    if remote_picker.is_remote(choice.name):  # the server has its own quantization and device
        st.caption(remote_picker.remote_caption(choice.name))
        return choice
    spec = selected_spec(choice)
    quants = spec.quants if spec is not None else QUANTS
    if st.session_state.get(state.MODEL_QUANT) not in quants:
        st.session_state[state.MODEL_QUANT] = quants[0]
    left, right = st.columns(2)
    quant_help = "auto: bf16 on a GPU, fp32 on the CPU; a GGUF model on the CPU runs in llama.cpp (gguf) if installed."
    left.selectbox("Quantization", quants, key=state.MODEL_QUANT, help=quant_help)
    right.selectbox("Device", DEVICES, key=state.MODEL_DEVICE, help="auto: the GPU when there is one.")
    if spec is not None:
        st.caption(" · ".join(part for part in (availability(spec.alias), spec.notes) if part))
    return state.current_choice()


def _loaded_panel(loaded: LoadedModel, choice: ModelChoice) -> None:
    if loaded.engine == "remote":
        st.success(f"Connected in {loaded.load_seconds:.2f} s; context {loaded.context_length:,} tokens.",
                   icon=":material/cloud_done:")  # fmt: skip
    else:
        _local_success(loaded)
    for notice in loaded.notices:
        st.caption(f":material/info: {notice}")
    if st.button("Unload", key="model.unload", width="stretch"):
        get_pool().unload(*choice.key)
        st.rerun()


def _local_success(loaded: LoadedModel) -> None:
    st.success(
        f"Loaded: {loaded.quant} ({loaded.engine}) on {loaded.device.upper()} in {loaded.load_seconds:.1f} s, "
        f"{format_bytes(loaded.memory_bytes)}; context {loaded.context_length:,} tokens.",
        icon=":material/check_circle:",
    )


def _pool_caption() -> None:
    pool = get_pool()
    entries = pool.entries()
    if entries:
        names = ", ".join(f"{e.key[0]} ({e.loaded.quant})" for e in entries)
        st.caption(f"In memory ({len(entries)}/{pool.max_models}, shared by all sessions): {names}")


def render_model_sidebar() -> None:
    """Draw the model section of the sidebar; never raises."""
    with st.sidebar:
        st.subheader(":material/memory: Model")
        with guard("The model picker"):
            state.init_model_state()
            choice = _picker()
            loaded = get_pool().peek(*choice.key) if choice.name else None
            running = get_load_jobs().running(*choice.key) if choice.name else None
            if loaded is not None:
                _loaded_panel(loaded, choice)
            else:
                st.caption("Not loaded yet: it loads on your first message, or now with Load.")
                clicked = st.button("Load", key="model.load", type="primary", width="stretch", disabled=not choice.name)
                if clicked:
                    state.put(LOADING_KEY, choice.key)
                mine = state.get(LOADING_KEY) == choice.key
                if clicked or (running is not None and mine):
                    # Polls until done; if a rerun interrupts the poll, the load goes on and the next run resumes it.
                    loaded = load_with_progress(choice, st.container())
                    state.put(LOADING_KEY, None)
                    if loaded is not None:
                        st.rerun()
                elif running is not None:
                    st.caption(f"Another session is loading this model ({running.fraction:.0%}).")
            _pool_caption()
