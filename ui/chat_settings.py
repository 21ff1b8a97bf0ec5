"""The Chat page's settings panel: system prompt (presets + free text), thinking, sampling.

Contract of :func:`render_chat_settings`: draws the widgets and returns a
:class:`ChatSettings` read from them. Sampling widgets start at
``recommended_params(family, thinking, generation_defaults)`` (max_new_tokens
capped at half the model's window) and follow that recommendation when it
changes (another model family, thinking switched, a checkpoint with its own
defaults), except for values the user changed. Invalid values do not raise:
``params`` is None and ``params_error`` holds core's InvalidParameterError,
which the panel shows. Settings are read when a message is sent, so a change
applies to the next turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.errors import InvalidParameterError, PlaygroundError
from core.params import MAX_NEW_TOKENS_LIMIT, GenerationParams, recommended_params
from ui import presets, state
from ui.state import PARAM_PREFIX


@dataclass(frozen=True)
class ModelTraits:
    """What the settings depend on, known from the registry before loading and exactly after."""

    family: str = "qwen2.5"
    supports_thinking: bool = False
    context_length: int = 32768
    generation_defaults: tuple[tuple[str, Any], ...] = ()
    assumed: bool = False  # an unknown model not loaded yet: Qwen2.5 values until it is


@dataclass(frozen=True)
class ChatSettings:
    system_prompt: str
    thinking: bool | None  # None: the model has no thinking switch
    params: GenerationParams | None
    params_error: PlaygroundError | None = None

    def to_store(self, model: str, quant: str, device: str) -> dict[str, Any]:
        """The conversation settings saved with each turn (see core.conversations.normalize_settings)."""
        return {
            "system_prompt": self.system_prompt,
            "thinking": self.thinking,
            "params": self.params,
            "model": model,
            "quant": quant,
            "device": device,
        }


def default_params(traits: ModelTraits, thinking: bool) -> GenerationParams:
    """Qwen's recommendation, with max_new_tokens capped at half the window to leave room for the prompt."""
    params = recommended_params(traits.family, thinking, dict(traits.generation_defaults))
    return params.with_(max_new_tokens=max(1, min(params.max_new_tokens, traits.context_length // 2)))


def parse_seed(text: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterError(f"seed must be a whole number, got {text!r}.", "Leave it blank for a random seed.")


def parse_stop(text: str) -> tuple[str, ...]:
    """One stop string per non-empty line; ``\\n`` and ``\\t`` stand for a newline and a tab."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return tuple(line.replace("\\n", "\n").replace("\\t", "\t") for line in lines)


def params_from_state() -> GenerationParams:
    """Build GenerationParams from the widgets; raises InvalidParameterError with core's message."""
    value = st.session_state.get
    return GenerationParams(
        temperature=float(value(PARAM_PREFIX + "temperature")),
        top_p=float(value(PARAM_PREFIX + "top_p")),
        top_k=int(value(PARAM_PREFIX + "top_k")),
        repetition_penalty=float(value(PARAM_PREFIX + "repetition_penalty")),
        max_new_tokens=int(value(PARAM_PREFIX + "max_new_tokens")),
        seed=parse_seed(value(PARAM_PREFIX + "seed", "")),
        stop=parse_stop(value(PARAM_PREFIX + "stop", "")),
        logprobs=bool(value(PARAM_PREFIX + "logprobs", False)),
    )


def restore_settings(settings: dict[str, Any]) -> None:
    """Put a saved conversation's system prompt, thinking and sampling back into the widgets."""
    prompt = settings.get("system_prompt")
    if isinstance(prompt, str):
        preset, language = presets.matching_preset(prompt)
        st.session_state[state.CHAT_SYSTEM] = prompt
        st.session_state[state.CHAT_PRESET] = preset
        st.session_state[state.CHAT_LANGUAGE] = language
    if isinstance(settings.get("thinking"), bool):
        st.session_state[state.CHAT_THINKING] = settings["thinking"]
    if isinstance(settings.get("params"), dict):
        try:
            apply_params(GenerationParams.from_dict(settings["params"]))
        except (PlaygroundError, TypeError):
            pass  # an old or hand-edited file: keep the current sampling


# --- system prompt -------------------------------------------------------------------------------


def _on_preset_change() -> None:
    name = st.session_state[state.CHAT_PRESET]
    if name != presets.CUSTOM:
        st.session_state[state.CHAT_SYSTEM] = presets.preset_text(name, st.session_state[state.CHAT_LANGUAGE])


def _on_system_edit() -> None:
    name, language = presets.matching_preset(st.session_state[state.CHAT_SYSTEM])
    st.session_state[state.CHAT_PRESET] = name
    if name == presets.LANGUAGE_PRESET:
        st.session_state[state.CHAT_LANGUAGE] = language


def _system_prompt_widgets() -> str:
    st.session_state.setdefault(state.CHAT_PRESET, presets.DEFAULT_PRESET)
    st.session_state.setdefault(state.CHAT_LANGUAGE, presets.LANGUAGES[0])
    st.session_state.setdefault(state.CHAT_SYSTEM, presets.preset_text(presets.DEFAULT_PRESET))
    left, right = st.columns([2, 1])
    left.selectbox("Preset", list(presets.PRESETS), key=state.CHAT_PRESET, on_change=_on_preset_change)
    if st.session_state[state.CHAT_PRESET] == presets.LANGUAGE_PRESET:
        right.selectbox("Language", presets.LANGUAGES, key=state.CHAT_LANGUAGE, on_change=_on_preset_change)
    st.text_area(
        "System prompt",
        key=state.CHAT_SYSTEM,
        height=100,
        on_change=_on_system_edit,
        help="Sent before the conversation on the next turn. Empty: the model's own default.",
    )
    return st.session_state[state.CHAT_SYSTEM]


# --- sampling ------------------------------------------------------------------------------------


def widget_values(params: GenerationParams) -> dict[str, Any]:
    """The sampling widgets' state for ``params`` (seed and stop strings as the text the user types)."""
    return {
        PARAM_PREFIX + "temperature": float(params.temperature),
        PARAM_PREFIX + "top_p": float(params.top_p),
        PARAM_PREFIX + "top_k": int(params.top_k),
        PARAM_PREFIX + "repetition_penalty": float(params.repetition_penalty),
        PARAM_PREFIX + "max_new_tokens": int(params.max_new_tokens),
        PARAM_PREFIX + "seed": "" if params.seed is None else str(params.seed),
        PARAM_PREFIX + "stop": "\n".join(s.replace("\n", "\\n").replace("\t", "\\t") for s in params.stop),
        PARAM_PREFIX + "logprobs": bool(params.logprobs),
    }


def apply_params(params: GenerationParams) -> None:
    """Put ``params`` into the sampling widgets' state (before they are drawn)."""
    st.session_state.update(widget_values(params))


def sync_defaults(traits: ModelTraits, thinking: bool) -> GenerationParams:
    """Follow the recommended values of the current model and mode, keeping the ones the user changed.

    A widget still at the previous recommendation takes the new one; a widget
    the user moved (or a reopened chat set) keeps its value.
    """
    recommended = default_params(traits, thinking)
    new = widget_values(recommended)
    old = st.session_state.get(state.PARAMS_RECOMMENDED) or {}
    for key, value in new.items():
        if key not in st.session_state or (key in old and st.session_state[key] == old[key]):
            st.session_state[key] = value
    st.session_state[state.PARAMS_RECOMMENDED] = new
    return recommended


def _sampling_widgets(traits: ModelTraits, thinking: bool) -> None:
    recommended = sync_defaults(traits, thinking)
    mode = f"{traits.family}{' thinking' if thinking else ''}"
    st.caption(
        f"Defaults: Qwen's recommendation for {mode} (temperature {recommended.temperature:g}, "
        f"top_p {recommended.top_p:g}, top_k {recommended.top_k}, repetition penalty {recommended.repetition_penalty:g})."
        + (" This model is not loaded yet: its own values apply once it is." if traits.assumed else "")
    )
    p = PARAM_PREFIX
    left, right = st.columns(2)
    left.slider("Temperature", 0.0, 2.0, step=0.05, key=p + "temperature", help="0 = greedy decoding.")
    right.slider("top_p", 0.0, 1.0, step=0.01, key=p + "top_p", help="Nucleus sampling; must be above 0.")
    left.number_input("top_k", 0, 10_000, step=1, key=p + "top_k", help="0 disables top-k.")
    right.slider("Repetition penalty", 0.5, 2.0, step=0.01, key=p + "repetition_penalty")
    left.number_input(
        "Max new tokens", 1, MAX_NEW_TOKENS_LIMIT, step=64, key=p + "max_new_tokens",
        help=f"The model's window is {traits.context_length:,} tokens (prompt + reply).",
    )
    right.text_input("Seed", key=p + "seed", placeholder="blank = random", help="A whole number makes sampling repeatable.")
    st.text_area(
        "Stop strings (one per line; \\n for a newline)", key=p + "stop", height=68,
        help="Generation stops before the first occurrence of any of them (at most 8).",
    )
    st.toggle("Record token probabilities", key=p + "logprobs", help="Needed for the token-probability view.")
    st.button("Reset to recommended", key="params.reset", on_click=apply_params, args=(recommended,))


def render_chat_settings(traits: ModelTraits) -> ChatSettings:
    """Draw the settings expander and return the settings it holds now."""
    thinking: bool | None = None
    with st.expander("System prompt, thinking and sampling", expanded=False, icon=":material/tune:"):
        system_tab, sampling_tab = st.tabs(["System prompt", "Sampling"])
        with system_tab:
            system_prompt = _system_prompt_widgets()
            if traits.supports_thinking:
                st.session_state.setdefault(state.CHAT_THINKING, True)
                st.toggle(
                    "Thinking (Qwen3)", key=state.CHAT_THINKING,
                    help="The model reasons first; the reasoning is shown folded above the answer.",
                )
                thinking = bool(st.session_state[state.CHAT_THINKING])
        with sampling_tab:
            _sampling_widgets(traits, bool(thinking))
        try:
            params, error = params_from_state(), None
        except PlaygroundError as exc:
            params, error = None, exc
    if error is not None:
        st.error(f"**{error.message}** {error.hint}".strip(), icon=":material/error:")
    return ChatSettings(system_prompt=system_prompt, thinking=thinking, params=params, params_error=error)
