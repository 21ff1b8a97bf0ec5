"""What the Compare page shows of a pane's run: its reply as it streams, its figures, the chart, the exports.

Contract:
- :class:`PaneView` draws a pane's :class:`PaneState` in fixed slots:
  earlier turns folded, status (or load progress, or the error), reasoning
  (folded), the reply as Markdown (never ``unsafe_allow_html``: HTML in model
  output shows as text), and unless ``hidden`` (blind arena before the vote)
  its figures and notices, and what RAG and guardrails did (:func:`details_caption`:
  one line each; the sources with their scores and the rails' trace folded).
  While streaming it redraws at most every ``interval_s`` (the websocket stays
  light); a final draw is immediate.
- :func:`pane_figures` is the pane's figures as short text lines;
  :func:`figures_frame` / :func:`render_figures` draw them across panes (an
  Altair bar chart per figure, then a table); :func:`export_files` is what the
  download buttons offer.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.compare import METRIC_COLUMNS, PaneConfig, PaneState, export_json_text, export_markdown, metrics_table

REDRAW_S = 0.1
NAME_CHARS = 44  # pane names in the chart legend and the table
CHART_COLUMNS = ("ttft_s", "decode_tokens_per_s", "completion_tokens", "total_s", "retrieval_s", "rails_s",
                 "load_seconds", "memory_mb")  # fmt: skip
STATUS_TEXT = {
    "idle": ":material/hourglass_empty: Waiting for a prompt.",
    "loading": ":material/downloading: Loading the model…",
    "streaming": ":material/edit_note: Writing…",
    "stopped": ":material/stop_circle: Stopped: the reply was cut short and kept as it was.",
}
ENDED_TEXT = {
    "done": ":material/check: Finished; the other panes are still writing.",
    "stopped": STATUS_TEXT["stopped"],
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def memory_text(size: int) -> str:
    """Bytes in the unit that reads best: GiB, MiB, or KiB for the test suite's tiny models."""
    if size >= 2**30:
        return f"{size / 2**30:.2f} GiB"
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size / 2**10:,.0f} KiB"


def pane_figures(state: PaneState) -> list[str]:
    """The pane's measured figures as caption lines (empty before its first run)."""
    m = state.metrics
    if not m:
        return []
    speed: list[str] = []
    if isinstance(m.get("completion_tokens"), int):
        speed.append(f"{m['completion_tokens']} tokens")
    if (ttft := _number(m.get("ttft_s"))) is not None:
        speed.append(f"first token {ttft:.2f} s")
    if (rate := _number(m.get("decode_tokens_per_s"))) is not None:
        speed.append(f"{rate:.1f} tokens/s")
    if (total := _number(m.get("total_s"))) is not None:
        speed.append(f"total {total:.2f} s")
    model: list[str] = []
    if (load := _number(m.get("load_seconds"))) is not None:
        model.append(f"load {load:.1f} s" + (" (already in memory)" if m.get("model_reused") else ""))
    if isinstance(m.get("memory_bytes"), int):
        model.append(f"memory {memory_text(m['memory_bytes'])}")
    if m.get("trimmed"):
        dropped = m.get("dropped_turns") or 0
        model.append(f"context trimmed ({dropped} oldest message{'s' if dropped != 1 else ''} left out)")
    elif "trimmed" in m:
        model.append("full context")
    if m.get("quant") and m.get("device"):
        model.append(f"ran as {m['quant']} on {str(m['device']).upper()}")
    outside: list[str] = []  # RAG and guardrails: the pane's own time, not the model's
    if (retrieval := _number(m.get("retrieval_s"))) is not None:
        outside.append(f"retrieval {retrieval:.3f} s")
    if (rails := _number(m.get("rails_s"))) is not None:
        outside.append(f"guardrails {rails * 1000:,.1f} ms")
    if outside and (generation := _number(m.get("generation_s"))) is not None:
        outside.append(f"generation {generation:.2f} s")
    return [" · ".join(line) for line in (speed, model, outside) if line]


def _md(text: Any) -> str:
    """``text`` shown as typed by st.markdown (Markdown punctuation escaped, one line)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$])", r"\\\1", " ".join(str(text).split()))


def rag_caption(rag: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """One line: what was retrieved from which collection, and what the reply cites."""
    line = f":material/library_books: RAG: {rag.get('retrieved', 0)} retrieved from `{_md(rag.get('collection'))}`"
    line += f", {rag.get('used', 0)} in the prompt"
    if (seconds := _number(metrics.get("retrieval_s"))) is not None:
        line += f" ({seconds:.3f} s)"
    if not rag.get("generated"):
        return line + "; the model was not asked."
    cited = rag.get("citations") or []
    line += "; cites " + ", ".join(f"[{n}]" for n in cited) if cited else "; cites no source"
    if rag.get("invalid_citations"):
        line += " (and " + ", ".join(f"[{n}]" for n in rag["invalid_citations"]) + ", matching no source)"
    return line


def guardrails_caption(guard: Mapping[str, Any]) -> str:
    """One line: the verdict, where and by which rail it blocked, what was flagged or redacted."""
    line = ":material/shield: Guardrails: "
    category = _md(guard.get("category") or "unknown category")
    if guard.get("blocked_at") == "input":
        line += f"blocked before generation by {_md(guard.get('rail') or 'the input rails')} ({category})"
    elif guard.get("blocked_at") == "output":
        line += f"reply cut off by the output rail ({category})"
    elif guard.get("verdict") is None:
        line += "checking…"
    else:
        line += "passed" if guard.get("verdict") == "allow" else "passed with a warning"
    if guard.get("warnings"):
        line += "; flagged: " + ", ".join(_md(w) for w in guard["warnings"])
    if guard.get("redactions"):
        line += "; PII redacted: " + ", ".join(f"{n} {_md(k)}" for k, n in guard["redactions"].items())
    return line + f" · {_md(guard.get('rails', ''))}"


def sources_markdown(rag: Mapping[str, Any]) -> str:
    """The sources in the prompt, numbered as the reply cites them, with scores and excerpts."""
    lines = []
    for source in rag.get("sources") or []:
        score = _number(source.get("score"))
        head = f"**[{source['number']}]** {_md(source.get('label') or source.get('source'))}"
        head += f" · score {score:.3f}" if score is not None else ""
        head += " · **cited**" if source.get("cited") else ""
        lines.append(f"{head}  \n{_md(str(source.get('text', ''))[:300])}")
    return "\n\n".join(lines) or "No source fitted in the prompt."


def trace_markdown(guard: Mapping[str, Any]) -> str:
    """The rails' trace as a table: rail, verdict, category, latency, note."""
    rows = ["| Rail | Verdict | Category | Latency | Note |", "|---|---|---|---|---|"]
    for entry in guard.get("trace") or []:
        latency = _number(entry.get("latency_ms"))
        rows.append("| " + " | ".join([
            _md(entry.get("rail")), _md(entry.get("verdict")), _md(entry.get("category") or "–"),
            f"{latency:,.2f} ms" if latency is not None else "–", _md(entry.get("note") or ""),
        ]) + " |")  # fmt: skip
    return "\n".join(rows)


def render_details(state: PaneState) -> None:
    """What RAG and guardrails did in this pane: a line each, the sources and the trace folded."""
    rag, guard = state.details.get("rag"), state.details.get("guardrails")
    if guard:
        st.caption(guardrails_caption(guard))
        if guard.get("trace"):
            with st.expander(f"Guardrails trace ({len(guard['trace'])})", icon=":material/shield:"):
                st.markdown(trace_markdown(guard))
    if rag:
        st.caption(rag_caption(rag, state.metrics))
        if rag.get("sources"):
            with st.expander(f"Sources ({len(rag['sources'])})", icon=":material/library_books:"):
                st.markdown(sources_markdown(rag))


def _details_key(state: PaneState) -> tuple:
    """What the details line depends on: redrawn while streaming only when this changes (expanders stay put)."""
    rag, guard = state.details.get("rag") or {}, state.details.get("guardrails") or {}
    return (rag.get("retrieved"), tuple(rag.get("citations") or ()), guard.get("verdict"), guard.get("blocked_at"),
            len(guard.get("trace") or ()), tuple(guard.get("warnings") or ()), state.status)  # fmt: skip


def earlier_turns(state: PaneState, prompt: str) -> list[dict[str, str]]:
    """The pane's history without the turn shown as the current reply."""
    history = [dict(m) for m in state.history]
    last = [{"role": "user", "content": prompt}, {"role": "assistant", "content": state.reply}]
    return history[:-2] if history[-2:] == last else history


def status_line(state: PaneState, *, live: bool, ended: str | None) -> str | None:
    """The caption above the reply: what the pane is doing (None: nothing to say)."""
    if live and ended in ENDED_TEXT:
        return ENDED_TEXT[ended]
    if state.status in STATUS_TEXT and (live or state.status in ("idle", "stopped")):
        return STATUS_TEXT[state.status]
    return None


class PaneView:
    """One pane's output: fixed slots (earlier turns, status, reasoning, reply, figures), each one element.

    Every slot is an ``st.empty`` holding a single element, so a redraw replaces
    exactly what was there (a container redrawn with fewer elements would leave
    its old tail on screen until the next run). While streaming, redraws are
    throttled to one per ``interval_s``; ``force`` draws at once.
    """

    def __init__(self, container: Any, prompt: str, *, hidden: bool = False, interval_s: float = REDRAW_S) -> None:
        self.prompt = prompt
        self.hidden = hidden
        self.interval_s = interval_s
        self.ended: str | None = None  # "done" / "stopped" once the pane's stream ended, while others still run
        self._drawn_at = -math.inf
        self._earlier: list[dict[str, str]] | None = None
        self._details_drawn: tuple | None = None
        with container:
            self.earlier, self.status, self.reasoning, self.reply, self.details, self.figures = (
                st.empty() for _ in range(6)
            )

    def loading(self, fraction: float, message: str) -> None:
        if time.monotonic() - self._drawn_at >= self.interval_s or fraction >= 1.0:
            self.status.progress(min(max(fraction, 0.0), 1.0), text=message or "Loading the model…")
            self._drawn_at = time.monotonic()

    def show(self, state: PaneState, *, live: bool = True, force: bool = False) -> None:
        """Draw ``state`` (model text as Markdown, never as HTML); figures and notices unless hidden."""
        if not force and time.monotonic() - self._drawn_at < self.interval_s:
            return
        self._drawn_at = time.monotonic()
        earlier = earlier_turns(state, self.prompt) if self.prompt else [dict(m) for m in state.history]
        if earlier == self._earlier:
            pass  # unchanged during a run: leave the expander as the user set it
        elif earlier:
            with self.earlier.expander(f"Earlier turns ({len(earlier) // 2})", icon=":material/history:"):
                st.markdown("\n\n".join(f"**{'You' if m['role'] == 'user' else 'Reply'}:** {m['content']}"
                                         for m in earlier))  # fmt: skip
        else:
            self.earlier.empty()
        self._earlier = earlier
        line = status_line(state, live=live, ended=self.ended)
        if state.status == "error":
            self.status.error(state.error or "This pane failed.", icon=":material/error:")
        elif line:
            self.status.caption(line)
        else:
            self.status.empty()
        if state.reasoning:
            with self.reasoning.expander("Reasoning", expanded=live and not state.reply, icon=":material/psychology:"):
                st.markdown(state.reasoning)
        else:
            self.reasoning.empty()
        if state.reply.strip():
            self.reply.markdown(state.reply)
        elif state.reply:
            self.reply.caption(f"(only whitespace: {len(state.reply)} characters)")
        elif state.status == "done":
            self.reply.caption("(empty reply)")
        else:
            self.reply.empty()
        if state.details and not self.hidden and (not live or self._details_drawn != _details_key(state)):
            self._details_drawn = _details_key(state)
            with self.details.container():
                render_details(state)
        elif not state.details or self.hidden:
            self.details.empty()
            self._details_drawn = None
        lines = [] if self.hidden else pane_figures(state) + [f":material/info: {n}" for n in state.notices]
        if lines:
            self.figures.caption("  \n".join(lines))
        else:
            self.figures.empty()


# --- across panes ----------------------------------------------------------------------------------------


def short_label(label: str, limit: int = NAME_CHARS) -> str:
    """``label`` cut in the middle when too long: its end (quantization, device) is what tells panes apart."""
    if len(label) <= limit:
        return label
    head = limit // 3
    return label[:head] + "…" + label[len(label) - (limit - head - 1) :]


def pane_names(states: Mapping[str, PaneState], numbers: Mapping[str, int]) -> dict[str, str]:
    """'1. qwen2.5-coder-0.5b-offline · fp32 · auto' style names, short enough for a legend."""
    return {pane_id: f"{numbers.get(pane_id, pane_id)}. {short_label(state.label or pane_id)}"
            for pane_id, state in states.items()}  # fmt: skip


def figures_frame(states: Mapping[str, PaneState], names: Mapping[str, str]) -> pd.DataFrame:
    """Long format for the chart: one row per (pane, figure) that was measured."""
    rows = []
    for row in metrics_table(states):
        for column in CHART_COLUMNS:
            value = _number(row.get(column))
            if value is None:
                continue
            label, unit = METRIC_COLUMNS[column]
            rows.append({"pane": names[row["pane"]], "figure": f"{label} ({unit})", "value": value})
    return pd.DataFrame(rows, columns=["pane", "figure", "value"])


def figures_table(states: Mapping[str, PaneState], names: Mapping[str, str]) -> pd.DataFrame:
    """Every figure of every pane, one row per pane, columns named with their units."""
    rows = []
    for row in metrics_table(states):
        out: dict[str, Any] = {"Pane": names[row["pane"]], "Status": row["status"]}
        for column, (label, unit) in METRIC_COLUMNS.items():
            out[f"{label} ({unit})" if unit else label] = row[column]
        rows.append(out)
    return pd.DataFrame(rows)


def render_figures(states: Mapping[str, PaneState], numbers: Mapping[str, int]) -> None:
    """A small bar chart per figure (each with its own scale), then the table of all figures."""
    names = pane_names(states, numbers)
    frame = figures_frame(states, names)
    if frame.empty:
        return
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("pane:N", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("value:Q", title=None),
            color=alt.Color(
                "pane:N", title=None, legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=400)
            ),
            tooltip=["pane:N", "figure:N", alt.Tooltip("value:Q", format=",.3~f")],
        )
        .properties(width=150, height=130)
        .facet(facet=alt.Facet("figure:N", title=None, sort=None), columns=3)
        .resolve_scale(y="independent")
    )
    st.altair_chart(chart, width="content")
    st.dataframe(figures_table(states, names), hide_index=True)
    st.caption(
        "Own time: each pane's tokens/s and total time count only the time spent on its own turns, which is what "
        "the configuration takes alone on this device (the panes take turns on one thread)."
    )


def export_files(prompt: str, panes: Mapping[str, PaneConfig], states: Mapping[str, PaneState]) -> dict[str, bytes]:
    """File name → content of the comparison's exports (Markdown and JSON, from core.compare)."""
    return {
        "comparison.md": export_markdown(prompt, panes, states).encode(),
        "comparison.json": export_json_text(prompt, panes, states).encode(),
    }


def render_exports(prompt: str, panes: Mapping[str, PaneConfig], states: Mapping[str, PaneState]) -> None:
    files = export_files(prompt, panes, states)
    left, right, _ = st.columns([1, 1, 4])
    left.download_button("Markdown", files["comparison.md"], file_name="comparison.md", mime="text/markdown",
                         icon=":material/download:", key="cmp.export.md", on_click="ignore")  # fmt: skip
    right.download_button("JSON", files["comparison.json"], file_name="comparison.json", mime="application/json",
                          icon=":material/download:", key="cmp.export.json", on_click="ignore")  # fmt: skip
