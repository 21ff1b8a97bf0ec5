"""Drawing the three columns of a :class:`ui.guardrails_run.Turn`; model text is never raw HTML.

Contract:
- :func:`column_frames` draws the three bordered columns (keyed ``gr-col-raw``,
  ``gr-col-prompt``, ``gr-col-rails``) with their headers and returns a
  :class:`ColumnView` for each, whose body is redrawn live (:meth:`ColumnView.live`,
  at most every ``REDRAW_S`` unless forced) or in full (:meth:`ColumnView.final`).
- A final column shows its outcome, the reply as Markdown (``st.markdown`` without
  ``unsafe_allow_html``: HTML in model output shows as text), what the output rail
  cut or redacted, the engine's metrics and the trace as a table:
  :func:`trace_frame` (rail, verdict, category, rule / score, latency in ms, note),
  whose rows are the rails' own trace entries plus a "safety prompt" row (its cost in
  prompt tokens and first-token time against the raw column) and a "model" row.
  Each column shows the compact trace (rail, verdict, ms, category); all fields of all
  three traces are in :func:`full_trace_frame`, in an expander under the summary.
- :func:`render_summary` is the table of what each layer buys and costs.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from core.guardrails import RAIL_NAMES, TraceEntry
from ui.chat_view import metrics_line
from ui.guardrails_run import (
    COLUMN_TITLES,
    Column,
    Turn,
    cost_summary,
    first_token_s,
    looks_like_refusal,
    outcome_parts,
)

REDRAW_S = 0.1
ICONS = {"raw": ":material/psychology_alt:", "prompt": ":material/description:", "rails": ":material/shield:"}
STATUS_LIVE = {
    "pending": ":material/hourglass_empty: Waiting…",
    "checking": ":material/policy: Checking the prompt with the input rails…",
    "streaming": ":material/edit_note: Writing…",
}
TRACE_COLUMNS = ["rail", "verdict", "category", "rule / score", "latency (ms)", "note"]
COMPACT_COLUMNS = ["rail", "verdict", "latency (ms)", "category"]  # what fits in a column; the rest is below
COMPACT_CONFIG = {"latency (ms)": st.column_config.NumberColumn("ms", format="%.1f", width="small"),
                  "verdict": st.column_config.TextColumn(width="small")}  # fmt: skip
INTERLEAVED_NOTE = (
    ":material/info: The three answers come from the same model, generated in turn a token at a time (each "
    "without the prefix cache). First-token times are each column's own; tokens/s are shared between the columns."
)


def subtitle(kind: str, turn: Turn) -> str:
    if kind == "raw":
        return "No system prompt, no filters: what the model does on its own."
    if kind == "prompt":
        return "The policy as a system prompt, no filters: how much instructions alone buy."
    return f"{turn.rails.describe()}: what real filters add."


def badge(column: Column, label: str) -> str:
    """The outcome's short label as a coloured Markdown badge (a fixed phrase chosen in guardrails_run)."""
    if column.status == "blocked":
        return f":red-badge[:material/block: {label}]"
    if column.status in ("error", "stopped"):
        return f":orange-badge[:material/warning: {label}]"
    if label.startswith("Refused"):
        return f":blue-badge[:material/front_hand: {label}]"
    return f":green-badge[:material/check: {label}]"


def _entry_row(entry: TraceEntry) -> dict[str, Any]:
    detail = entry.rule or ""
    if entry.score is not None and entry.verdict not in ("skipped", "error"):
        score = f"{entry.score:.2f}" if entry.threshold is None else f"{entry.score:+.2f}, threshold {entry.threshold:+.2f}"
        detail = f"{detail} ({score})" if detail else score
    return {"rail": entry.rail, "verdict": entry.verdict, "category": entry.category or "", "rule / score": detail,
            "latency (ms)": round(entry.latency_ms, 3), "note": entry.note}  # fmt: skip


def _model_verdict(column: Column, turn: Turn) -> str:
    if column.status == "blocked" and column.blocked_at == "output":
        return "cut off"
    if column.status in ("stopped", "error"):
        return column.status
    return "refused" if looks_like_refusal(column.text, turn.policy) else "answered"


def trace_frame(column: Column, turn: Turn) -> pd.DataFrame:
    """The column's trace as a table (see the module docstring)."""
    rows = [_entry_row(e) for e in column.trace if e.rail in RAIL_NAMES]
    raw = turn.columns["raw"]
    if column.kind != "raw":
        if column.blocked_at == "input":
            rows.append({"rail": "safety prompt", "verdict": "not used", "note": "blocked before generation"})
        else:
            tokens, base = column.metrics.get("prompt_tokens"), raw.metrics.get("prompt_tokens")
            ttft, base_ttft = first_token_s(column), first_token_s(raw)
            extra = f"+{tokens - base} prompt tokens" if isinstance(tokens, int) and isinstance(base, int) else ""
            cost = round((ttft - base_ttft) * 1000, 1) if ttft is not None and base_ttft is not None else None
            rows.append({"rail": "safety prompt", "verdict": "applied", "rule / score": extra, "latency (ms)": cost,
                         "note": "first-token time against the raw column"})  # fmt: skip
    if column.blocked_at == "input":
        rows.append({"rail": "model", "verdict": "not run", "note": "the input rails blocked the prompt"})
    elif column.generated:
        ttft = first_token_s(column)
        tokens = column.metrics.get("completion_tokens", 0)
        total = column.metrics.get("total_s") or 0.0
        rows.append({"rail": "model", "verdict": _model_verdict(column, turn), "rule / score": f"{tokens} tokens",
                     "latency (ms)": round(ttft * 1000, 1) if ttft is not None else None,
                     "note": f"first token; whole reply {total:.1f} s (interleaved)"})  # fmt: skip
    elif column.error:
        rows.append({"rail": "model", "verdict": "error", "note": column.error})
    rows += [_entry_row(e) for e in column.trace if e.rail not in RAIL_NAMES]
    frame = pd.DataFrame(rows, columns=TRACE_COLUMNS)
    text_columns = [c for c in TRACE_COLUMNS if c != "latency (ms)"]
    frame[text_columns] = frame[text_columns].fillna("")
    return frame


def render_column(column: Column, turn: Turn) -> None:
    """A finished column: outcome, reply, what the rails changed, metrics, trace."""
    label, detail = outcome_parts(column, turn.policy)
    st.markdown(badge(column, label))
    if detail:
        st.caption(detail)
    if column.error:
        st.error(column.error, icon=":material/error:")
    if column.text:
        st.markdown(column.text)
    elif column.status == "complete":
        st.caption("(empty reply)")
    if column.blocked_at == "output":
        if column.cut_chars:
            what = f"replaced the {column.cut_chars} characters shown so far with the refusal"
        else:
            what = "caught the reply before any of it was shown"
        st.caption(f":material/content_cut: The output rail {what}, and stopped generation.")
    if column.redactions:
        found = ", ".join(f"{n} {kind}" for kind, n in column.redactions.items())
        st.caption(f":material/visibility_off: PII redacted before it was shown: {found} (marked as [… REDACTED]).")
    line = metrics_line({**column.metrics, "model": turn.model}) if column.generated else ""
    if line:
        st.caption(line)
    st.dataframe(trace_frame(column, turn)[COMPACT_COLUMNS], hide_index=True, column_config=COMPACT_CONFIG)


class ColumnView:
    """One column's body, redrawn as the turn goes on."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self._drawn = 0.0

    def live(self, column: Column, turn: Turn, force: bool = False) -> None:
        if column.status not in STATUS_LIVE:  # ended (blocked before generation, error): draw it in full
            self.final(column, turn)
            return
        if not force and time.monotonic() - self._drawn < REDRAW_S:
            return
        with self.body.container():
            st.caption(STATUS_LIVE[column.status])
            if column.text:
                st.markdown(column.text + " ▌")
        self._drawn = time.monotonic()

    def final(self, column: Column, turn: Turn) -> None:
        with self.body.container():
            render_column(column, turn)


def column_frames(turn: Turn) -> dict[str, ColumnView]:
    """The three columns' headers; returns their views."""
    views: dict[str, ColumnView] = {}
    for kind, col in zip(turn.columns, st.columns(3, border=True), strict=True):
        box = col.container(key=f"gr-col-{kind}")
        box.markdown(f"#### {ICONS[kind]} {COLUMN_TITLES[kind]}")
        box.caption(subtitle(kind, turn))
        views[kind] = ColumnView(box.empty())
    return views


def full_trace_frame(turn: Turn) -> pd.DataFrame:
    """Every column's trace in one table, with the rule, score and note of each entry."""
    frames = [trace_frame(column, turn).assign(answer=COLUMN_TITLES[kind]) for kind, column in turn.columns.items()]
    return pd.concat(frames, ignore_index=True)[["answer", *TRACE_COLUMNS]]


def render_summary(turn: Turn) -> None:
    """What each layer buys (the outcome) and what it costs (tokens, latency); then the full traces."""
    st.markdown("##### :material/balance: What each layer buys, and what it costs")
    table = cost_summary(turn)
    frame = pd.DataFrame({COLUMN_TITLES[k]: v for k, v in table.items()})
    st.table(frame)  # a static table: its cells wrap, so no outcome is cut
    st.caption(INTERLEAVED_NOTE)
    with st.expander("Full traces: rules, scores and notes", icon=":material/receipt_long:"):
        st.dataframe(full_trace_frame(turn), hide_index=True)
