"""The Compare page's session state: pane settings as widget values, and what the last run produced.

Contract:
- Pane ``p1`` … ``p4`` keeps its settings in widgets keyed ``cmp.<pane>.<name>``
  (:func:`wkey`; names in :data:`SETTINGS`), drawn with
  ``persist_state="session"`` so they survive page switches and arena mode,
  where they are not drawn. :func:`init_pane` gives a new pane the sidebar's
  model with Qwen's recommended sampling.
- :func:`values_for` / :func:`config_from_values` convert between those widget
  values and a :class:`core.compare.PaneConfig` (the latter raises core's
  :class:`InvalidParameterError` for a bad value, naming the field);
  :func:`apply_config` writes a configuration into the widgets (presets), and
  must run before they are drawn (in a callback).
- :func:`follow_recommendation` moves a pane's sampling to the new model's
  recommendation when its model or thinking mode changes, keeping the values
  the user changed (the Chat page's rule).
- :class:`LastRun` (prompt and the configurations it ran with) and the
  :class:`PaneState` of every pane live in the session; the arena keeps its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core.compare import PaneConfig, PaneState
from core.errors import InvalidParameterError
from core.params import GenerationParams
from core.pool import ModelPool
from core.endpoints import is_remote
from core.registry import QUANTS, REGISTRY, find_spec
from ui import presets
from ui import state as app_state
from ui.chat_page import model_traits
from ui.chat_settings import ModelTraits, default_params, parse_seed
from ui.state import CUSTOM_OPTION, ModelChoice

PANE_IDS: tuple[str, ...] = ("p1", "p2", "p3", "p4")
DEFAULT_PANES = 2

N_PANES = "cmp.n_panes"
MODE = "cmp.mode"  # "side" | "arena"
STATES = "cmp.states"  # pane id -> PaneState (side by side; each pane's own conversation)
LAST_RUN = "cmp.last_run"  # LastRun of the side-by-side view
PRESET_NOTE = "cmp.preset_note"  # (title, note) of the preset last applied
PRESET_ERROR = "cmp.preset_error"  # PlaygroundError of a preset that could not be built
BATTLE = "cmp.arena.battle"  # ui.compare_arena.Battle in progress or last voted
ARENA_PANES = "cmp.arena.panes"  # the two panes that compete
ARENA_METHOD = "cmp.arena.method"  # "bt" | "elo"
ACTIVE = "cmp.active"  # ui.compare_run.ActiveRun of the comparison started last (side by side or arena)

SAMPLING = ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "seed")
SETTINGS: tuple[str, ...] = (
    "label", "pick", "custom", "quant", "device", "sys_preset", "sys_language", "system", "thinking",
    *SAMPLING, "rag", "guardrails", "collection",
)  # fmt: skip
RECOMMENDED = "recommended"  # not a widget: the sampling values last recommended for the pane


def wkey(pane: str, name: str) -> str:
    """The widget key of a pane setting, e.g. ``cmp.p2.temperature``."""
    return f"cmp.{pane}.{name}"


def pane_number(pane: str) -> int:
    return PANE_IDS.index(pane) + 1


@dataclass
class LastRun:
    """The prompt last sent and the configurations that answered it (exports use these, not the widgets)."""

    prompt: str
    panes: dict[str, PaneConfig] = field(default_factory=dict)


# --- widget values <-> configuration ---------------------------------------------------------------


def sampling_values(params: GenerationParams) -> dict[str, Any]:
    """The sampling widgets' values for ``params`` (the seed as the text typed)."""
    return {
        "temperature": float(params.temperature),
        "top_p": float(params.top_p),
        "top_k": int(params.top_k),
        "repetition_penalty": float(params.repetition_penalty),
        "max_new_tokens": int(params.max_new_tokens),
        "seed": "" if params.seed is None else str(params.seed),
    }


def values_for(config: PaneConfig) -> dict[str, Any]:
    """Every setting's widget value for ``config``."""
    in_registry = config.model in REGISTRY or is_remote(config.model)  # both are picker entries
    preset, language = presets.matching_preset(config.system_prompt)
    return {
        "label": config.label,
        "pick": config.model if in_registry else CUSTOM_OPTION,
        "custom": "" if in_registry else config.model,
        "quant": config.quant,
        "device": config.device,
        "sys_preset": preset,
        "sys_language": language,
        "system": config.system_prompt,
        "thinking": config.thinking,
        **sampling_values(config.params),
        "rag": config.rag,
        "guardrails": config.guardrails,
        "collection": config.collection,
    }


def model_of(values: dict[str, Any]) -> str:
    return str(values.get("custom") or "") if values.get("pick") == CUSTOM_OPTION else str(values.get("pick") or "")


def config_from_values(values: dict[str, Any], thinking_shown: bool = True) -> PaneConfig:
    """The configuration the widgets hold; raises InvalidParameterError naming the bad field.

    ``thinking_shown`` is False when the model has no thinking mode (the toggle is hidden, so it is off).
    """
    try:
        params = GenerationParams(
            temperature=float(values["temperature"]),
            top_p=float(values["top_p"]),
            top_k=int(values["top_k"]),
            repetition_penalty=float(values["repetition_penalty"]),
            max_new_tokens=int(values["max_new_tokens"]),
            seed=parse_seed(str(values.get("seed") or "")),
        )
    except (TypeError, ValueError) as exc:  # a widget value of the wrong type (hand-edited state)
        raise InvalidParameterError(f"Invalid sampling setting: {exc}.") from exc
    return PaneConfig(
        model=model_of(values),
        quant=values["quant"],
        device=values["device"],
        system_prompt=str(values.get("system") or ""),
        params=params,
        thinking=bool(values.get("thinking")) and thinking_shown,
        rag=bool(values.get("rag")),
        guardrails=bool(values.get("guardrails")),
        collection=str(values.get("collection") or ""),
        label=str(values.get("label") or ""),
    )


# --- what a model supports ---------------------------------------------------------------------------


def loaded_any(pool: ModelPool, model: str) -> Any:
    """A loaded model with this name (any quantization or device), or None: its traits are the model's."""
    name = model.strip()
    return next((e.loaded for e in pool.entries() if e.key[0] == name), None)


def thinking_support(pool: ModelPool, model: str) -> bool | None:
    """True / False when known (loaded, or in the registry); None for a model not loaded yet."""
    loaded = loaded_any(pool, model) if model else None
    if loaded is not None:
        return bool(loaded.supports_thinking)
    spec = find_spec(model) if model else None
    return spec.thinking if spec is not None else None


def _traits(pool: ModelPool, model: str) -> ModelTraits:
    """Family, window and sampling defaults: from the loaded model if any, else from the registry."""
    return model_traits(ModelChoice(model.strip()), loaded_any(pool, model) if model else None)


def recommended_sampling(pool: ModelPool, model: str, thinking: bool) -> dict[str, Any]:
    """Qwen's recommended sampling for the model's family and mode, as widget values."""
    return sampling_values(default_params(_traits(pool, model), thinking))


def max_new_tokens_cap(pool: ModelPool, model: str) -> int:
    """Half the model's window (as known before loading, exactly after): room left for the prompt."""
    return max(1, _traits(pool, model).context_length // 2)


def quant_options(model: str, current: Any) -> list[str]:
    """The model's quantizations (all of them for a model outside the registry), plus the current one
    when a preset chose another (e.g. int8 of an offline bundle, converted on first load)."""
    if is_remote(model):
        return ["auto"]  # the server's own
    spec = find_spec(model) if model else None
    options = list(spec.quants) if spec is not None else list(QUANTS)
    if current in QUANTS and current not in options:
        options.append(current)
    return options


# --- session state -------------------------------------------------------------------------------------


def pane_values(pane: str) -> dict[str, Any]:
    return {name: st.session_state.get(wkey(pane, name)) for name in SETTINGS}


def default_values(pool: ModelPool) -> dict[str, Any]:
    """A new pane: the sidebar's model, quantization and device, the default system prompt, recommended sampling."""
    choice = app_state.current_choice()
    in_registry = choice.name in REGISTRY or is_remote(choice.name)
    thinking = thinking_support(pool, choice.name) is True
    return {
        "label": "",
        "pick": choice.name if in_registry else CUSTOM_OPTION,
        "custom": "" if in_registry else choice.name,
        "quant": choice.quant,
        "device": choice.device,
        "sys_preset": presets.DEFAULT_PRESET,
        "sys_language": presets.LANGUAGES[0],
        "system": presets.preset_text(presets.DEFAULT_PRESET),
        "thinking": thinking,
        **recommended_sampling(pool, choice.name, thinking),
        "rag": False,
        "guardrails": False,
        "collection": "",
    }


def init_pane(pane: str, pool: ModelPool) -> None:
    """Fill the settings a pane does not have yet (all of them on first use)."""
    if all(wkey(pane, name) in st.session_state for name in SETTINGS):
        return
    defaults = default_values(pool)
    for name, value in defaults.items():
        st.session_state.setdefault(wkey(pane, name), value)
    st.session_state.setdefault(wkey(pane, RECOMMENDED), {k: defaults[k] for k in SAMPLING})


def init_page(pool: ModelPool) -> None:
    st.session_state.setdefault(N_PANES, DEFAULT_PANES)
    st.session_state.setdefault(MODE, "side")
    st.session_state.setdefault(STATES, {})
    for pane in PANE_IDS:
        init_pane(pane, pool)


def apply_config(pane: str, config: PaneConfig) -> None:
    """Put ``config`` into the pane's widgets (call from a callback, before they are drawn)."""
    for name, value in values_for(config).items():
        st.session_state[wkey(pane, name)] = value


def follow_recommendation(pane: str, pool: ModelPool) -> None:
    """After a model or thinking change: sampling values still at the old recommendation take the new one;
    a quantization the new model does not offer goes back to auto."""
    values = pane_values(pane)
    model = model_of(values)
    if values["quant"] not in quant_options(model, None):
        st.session_state[wkey(pane, "quant")] = "auto"
    support = thinking_support(pool, model)
    thinking = bool(values["thinking"]) and support is not False
    new = recommended_sampling(pool, model, thinking)
    old = st.session_state.get(wkey(pane, RECOMMENDED)) or {}
    for name, value in new.items():
        if name not in old or st.session_state.get(wkey(pane, name)) == old[name]:
            st.session_state[wkey(pane, name)] = value
    st.session_state[wkey(pane, RECOMMENDED)] = new


def active_panes() -> tuple[str, ...]:
    n = st.session_state.get(N_PANES) or DEFAULT_PANES
    return PANE_IDS[: max(2, min(int(n), len(PANE_IDS)))]


def pane_states() -> dict[str, PaneState]:
    return st.session_state.setdefault(STATES, {})


def last_run() -> LastRun | None:
    return st.session_state.get(LAST_RUN)


def new_conversation() -> None:
    """Forget every pane's conversation and the last run (settings stay); a comparison still running stops first."""
    from ui.compare_run import settle

    settle(st.session_state.get(ACTIVE))
    for pane_state in pane_states().values():
        pane_state.reset()
    st.session_state[LAST_RUN] = None
