"""Rendering of chat messages and their extras; model text is never rendered as raw HTML.

- :func:`render_message` draws one stored message: reasoning folded in an
  expander (with its token count) above the answer, the answer as Markdown
  (``st.markdown`` without ``unsafe_allow_html``: HTML in model output shows
  as text), and under a reply its metrics and status.
- :func:`metrics_line` is the one-line summary under a reply.
- :func:`token_probability_html` / :func:`token_probability_table` show a
  reply's per-token probabilities; the HTML is built here with every token
  ``html.escape``d and goes through ``st.html`` (sanitised again by Streamlit).
- :func:`render_context_meter` shows how the next prompt spends the window.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd
import streamlit as st

from core.context import FitResult
from core.conversations import StoredMessage
from core.errors import PlaygroundError
from ui.errors import show_error

STATUS_NOTES = {
    "stopped": ":material/stop_circle: Stopped: the reply was cut short and kept as it was.",
    "streaming": (
        ":material/warning: Incomplete: this reply was still being written when the app stopped "
        "(or is being written in another tab)."
    ),
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def metrics_line(metrics: dict[str, Any]) -> str:
    """'42 tokens · first token 0.31 s · 12.3 tokens/s · full context' from a reply's metrics."""
    parts: list[str] = []
    tokens = metrics.get("completion_tokens")
    if isinstance(tokens, int):
        parts.append(f"{tokens} tokens")
    ttft = _number(metrics.get("ttft_s"))
    if ttft is not None:
        parts.append(f"first token {ttft:.2f} s")
    speed = _number(metrics.get("decode_tokens_per_s"))
    if speed is not None:
        parts.append(f"{speed:.1f} tokens/s")
    if metrics.get("trimmed"):
        dropped = metrics.get("dropped_turns") or 0
        parts.append(f"context trimmed ({dropped} oldest message{'s' if dropped != 1 else ''} left out)")
    elif metrics:
        parts.append("full context")
    if metrics.get("model"):
        parts.append(str(metrics["model"]))
    return " · ".join(parts)


def reasoning_label(reasoning_tokens: Any) -> str:
    count = f" ({reasoning_tokens} tokens)" if isinstance(reasoning_tokens, int) else ""
    return f"Reasoning{count}"


def render_reasoning(reasoning: str, reasoning_tokens: Any) -> None:
    with st.expander(reasoning_label(reasoning_tokens), expanded=False, icon=":material/psychology:"):
        st.markdown(reasoning)


def render_reply_footer(status: str, metrics: dict[str, Any], error: PlaygroundError | None = None) -> None:
    """Metrics and status under an assistant reply (``error``: the live error, with its hint)."""
    if error is not None:
        show_error(error)
    elif status == "error":
        st.error(f"Generation failed: {metrics.get('error') or 'unknown error'}", icon=":material/error:")
    elif status in STATUS_NOTES:
        st.caption(STATUS_NOTES[status])
    line = metrics_line(metrics)
    if line:
        st.caption(line)


def render_message(message: StoredMessage) -> None:
    """One stored message in a chat bubble."""
    with st.chat_message(message.role):
        if message.role == "assistant" and message.reasoning:
            render_reasoning(message.reasoning, message.metrics.get("reasoning_tokens"))
        if message.content:
            st.markdown(message.content)
        elif message.role == "assistant" and message.status == "complete":
            st.caption("(empty reply)")
        if message.role == "assistant":
            render_reply_footer(message.status, message.metrics)


# --- token probabilities --------------------------------------------------------------------------


def _probability(logprob: Any) -> float:
    value = _number(logprob)
    return math.exp(value) if value is not None else 0.0


def _visible(token: str) -> str:
    """Whitespace made visible: a newline shows as ↵ (then breaks the line), a tab as ⇥."""
    return token.replace("\t", "⇥").replace("\n", "↵\n")


def token_probability_html(logprobs: list[dict[str, Any]]) -> str:
    """Tokens coloured from red (unlikely) to green (likely); hovering shows the top alternatives.

    Every piece of model text (token and alternatives) is ``html.escape``d,
    attributes with ``quote=True``, so the result holds only markup made here.
    """
    spans: list[str] = []
    for entry in logprobs:
        token = str(entry.get("token", ""))
        p = _probability(entry.get("logprob"))
        alternatives = "; ".join(f"{str(t)!r} {_probability(lp):.3f}" for t, lp in entry.get("top") or [])
        title = html.escape(f"p = {p:.3f}; top: {alternatives}", quote=True)
        text = html.escape(_visible(token)).replace("\n", "<br>")
        spans.append(
            f'<span title="{title}" style="background: hsla({120 * p:.0f}, 75%, 50%, 0.35); '
            f'border-radius: 3px; padding: 0 1px;">{text}</span>'
        )
    return '<div style="white-space: pre-wrap; line-height: 1.9; font-family: monospace;">' + "".join(spans) + "</div>"


def token_probability_table(logprobs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per token: the token, its probability, the top alternatives with theirs."""
    rows = []
    for index, entry in enumerate(logprobs):
        top = entry.get("top") or []
        rows.append(
            {
                "#": index,
                "token": repr(str(entry.get("token", ""))),
                "probability": _probability(entry.get("logprob")),
                "top alternatives": ", ".join(f"{str(t)!r} {_probability(lp):.2f}" for t, lp in top),
            }
        )
    return pd.DataFrame(rows, columns=["#", "token", "probability", "top alternatives"])


def render_token_probabilities(logprobs: list[dict[str, Any]]) -> None:
    st.caption("Red: unlikely token, green: likely (the model's own probability). Hover a token for its alternatives.")
    st.html(token_probability_html(logprobs))
    st.dataframe(
        token_probability_table(logprobs),
        hide_index=True,
        column_config={
            "probability": st.column_config.ProgressColumn("probability", min_value=0.0, max_value=1.0, format="%.3f"),
        },
        height=min(400, 36 + 35 * len(logprobs)),
    )


# --- context meter ---------------------------------------------------------------------------------


def context_summary(fit: FitResult) -> str:
    used = fit.prompt_tokens + fit.max_new_tokens
    return (
        f"Context: {used:,} / {fit.context_length:,} tokens · system prompt {fit.system_tokens:,} · "
        f"history {fit.history_tokens:,} · next reply up to {fit.max_new_tokens:,} · free {max(fit.free_tokens, 0):,}"
    )


def render_context_meter(fit: FitResult) -> None:
    """A bar of the window in use and, when the history no longer fits, what the next turn leaves out."""
    used = fit.prompt_tokens + fit.max_new_tokens
    st.progress(min(used / fit.context_length, 1.0), text=context_summary(fit))
    dropped = fit.dropped_indices  # never the system prompt nor the draft: only old history
    if dropped:
        st.warning(
            f"The {len(dropped)} oldest message{'s' if len(dropped) != 1 else ''} no longer fit and will be left "
            f"out of the next prompt ({fit.dropped_tokens:,} tokens).",
            icon=":material/content_cut:",
        )
