"""Rendering for the RAG page; document text, file names and model output are never raw HTML.

- :func:`code` puts an untrusted name (a file name, a source) in an inline code span,
  so Markdown in it shows as typed.
- :func:`render_report` shows one message per ingested file under a one-line summary:
  an error box (reason and hint) for each failed file, one line for each of the others.
- :func:`render_side` draws one column of a :class:`ui.rag_state.Turn`: the answer as
  Markdown (no ``unsafe_allow_html``), its status and metrics; the retrieval column adds
  the citations check and :func:`render_sources`, numbered expanders holding each
  source's name, page, score and exact chunk text (``st.text``: no Markdown, no HTML).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from rag.answer import Answer
from rag.ingest import FileResult
from rag.retrieval import Hit
from ui.chat_view import metrics_line
from ui.rag_state import IngestReport, Side, Turn

STATUS_ICONS = {  # Markdown icon of each status but "error" (an error box)
    "added": ":green[:material/check_circle:]",
    "replaced": ":green[:material/published_with_changes:]",
    "unchanged": ":gray[:material/check:]",
    "duplicate": ":orange[:material/content_copy:]",
}
STATUS_WORDS = {"added": "added", "replaced": "replaced", "unchanged": "unchanged", "duplicate": "duplicate",
                "error": "failed"}  # fmt: skip


def code(text: str, limit: int = 120) -> str:
    """``text`` as inline code (backticks swapped for quotes, cut to ``limit`` characters)."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "`" + (text.replace("`", "'") or " ") + "`"


def result_markdown(result: FileResult) -> str:
    note = f" ({result.note})" if result.note else ""
    return f"{code(result.name)}: **{STATUS_WORDS.get(result.status, result.status)}**. {result.message}{note}"


def report_summary(report: IngestReport) -> str:
    counts = report.counts()
    parts = [f"{n} {STATUS_WORDS.get(status, status)}" for status, n in counts.items()]
    chunks = sum(r.chunks for r in report.results if r.status in ("added", "replaced"))
    stored = f"{chunks} new chunk{'s' if chunks != 1 else ''} stored"
    return f"**{report.title} → {code(report.collection)}:** {', '.join(parts)}; {stored}."


def render_report(report: IngestReport) -> None:
    """Summary line; each failed file in its own error box; the others one line each below it."""
    st.markdown(report_summary(report))
    for result in report.results:
        if result.status == "error":
            st.error(result_markdown(result), icon=":material/error:")
    lines = [f"- {STATUS_ICONS.get(r.status, ':material/info:')} {result_markdown(r)}"
             for r in report.results if r.status != "error"]  # fmt: skip
    if lines:
        st.markdown("\n".join(lines))


# --- answers ------------------------------------------------------------------------------------------

SIDE_NOTES = {
    "stopped": ":material/stop_circle: Stopped: the answer was cut short.",
    "streaming": ":material/hourglass_top: Still being written…",
    "pending": ":material/hourglass_empty: Waiting…",
}


def hit_label(number: int, hit: Hit, cited: bool) -> str:
    page = f" · p. {hit.page}" if hit.page else ""
    mark = " · cited" if cited else ""
    return f"\\[{number}\\] {code(hit.source, 60)}{page} · score {hit.score:.3f}{mark}"


def render_sources(answer: Answer) -> None:
    """The prompt's sources as numbered expanders: name, page, chunk, score, exact text."""
    cited = {c.number for c in answer.citations}
    for number, hit in enumerate(answer.used_hits, start=1):
        with st.expander(hit_label(number, hit, number in cited), icon=":material/format_quote:"):
            where = [f"source {code(hit.source)}"]
            if hit.page:
                where.append(f"page {hit.page}")
            if hit.chunk is not None:
                where.append(f"chunk {hit.chunk}")
            where.append(f"cosine similarity {hit.score:.4f}")
            st.caption(" · ".join(where))
            st.text(hit.text)


def citations_markdown(answer: Answer) -> str:
    if not answer.citations:
        return ""
    cited = ", ".join(f"\\[{c.number}\\] {code(c.hit.label, 60)}" for c in answer.citations)
    return f":material/link: Cites {cited}"


def render_citation_checks(answer: Answer) -> None:
    """Which sources the answer cites; out-of-range numbers and an uncited answer are flagged."""
    line = citations_markdown(answer)
    if line:
        st.markdown(line)
    if answer.invalid_citations:
        numbers = ", ".join(f"\\[{n}\\]" for n in answer.invalid_citations)
        have = len(answer.used_hits)
        st.warning(
            f"The answer cites {numbers}, but the prompt had only {have} source{'s' if have != 1 else ''}: "
            "that citation points at nothing and cannot be checked.",
            icon=":material/link_off:",
        )
    if answer.generated and answer.used_hits and not answer.citations:
        st.warning("The answer cites no source: check it against the sources below.", icon=":material/help:")


def prompt_caption(turn: Turn) -> str:
    answer = turn.answer
    if answer is None:
        return ""
    used = len(answer.used_hits)
    left_out = turn.retrieved - used
    text = f"{turn.retrieved} chunk{'s' if turn.retrieved != 1 else ''} retrieved"
    if left_out > 0:
        text += f", {left_out} left out to fit the {turn.budget_tokens:,}-token prompt budget"
    return text + f"; {used} in the prompt."


def side_metrics(side: Side, extra: dict[str, Any] | None = None) -> str:
    return metrics_line({**side.metrics, **(extra or {})}) if side.metrics else ""


def render_side_body(side: Side, model: str, name: str) -> None:
    """Answer text (in a container keyed ``rag-text-<name>``), status and metrics of one column."""
    if side.text:
        st.container(key=f"rag-text-{name}").markdown(side.text)
    elif side.status == "complete":
        st.caption("(empty answer)")
    if side.status == "error":
        st.error(f"Generation failed: {side.error or 'unknown error'}", icon=":material/error:")
    elif side.status in SIDE_NOTES:
        st.caption(SIDE_NOTES[side.status])
    line = side_metrics(side, {"model": model})
    if line:
        st.caption(line)


def render_plain(turn: Turn) -> None:
    render_side_body(turn.plain, turn.model, "plain")


def render_rag(turn: Turn) -> None:
    side, answer = turn.rag, turn.answer
    if side.status == "skipped":
        st.info(side.text, icon=":material/search_off:")
    else:
        render_side_body(side, turn.model, "rag")
    if answer is None:
        return
    if side.status != "skipped":
        render_citation_checks(answer)
    caption = prompt_caption(turn)
    if caption:
        st.caption(caption)
    if answer.used_hits:
        st.markdown("**Sources**")
        render_sources(answer)
