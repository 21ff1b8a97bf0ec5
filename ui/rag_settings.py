"""The RAG page's settings: widgets in the sidebar, read into one validated :class:`RagSettings`.

Contract:
- :func:`render_rag_settings` draws chunking, embeddings, retrieval and answer settings
  (keys in :data:`DEFAULTS`, drawn with ``persist_state="session"`` so they survive a
  page switch) and returns :func:`read_settings` of their values.
- :func:`read_settings` builds the options through rag's and core's validated
  dataclasses; a bad combination (overlap not smaller than the chunk size, ...) raises
  their error, which names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.params import GenerationParams
from rag.answer import DEFAULT_BUDGET_TOKENS
from rag.embeddings import DEFAULT_EMBEDDING_MODEL, HASHING, embedding_id
from rag.options import ANSWER_K, ChunkingOptions, IngestOptions, RetrievalOptions
from ui.rag_resources import default_embedding_model

K = "rag.set."  # prefix of every settings widget key
DEFAULTS: dict[str, Any] = {
    "chunk_size": 500,
    "chunk_overlap": 80,
    "max_mb": 20,
    "embedding": None,  # filled from default_embedding_model() on first draw
    "k": ANSWER_K,
    "mmr": False,
    "fetch_k": 20,
    "lambda_mult": 0.5,
    "threshold": 0.0,
    "max_new_tokens": 256,
    "temperature": 0.0,
    "budget": DEFAULT_BUDGET_TOKENS,
}
EMBEDDING_LABELS = {
    DEFAULT_EMBEDDING_MODEL: "all-MiniLM-L6-v2 (offline, 384 dimensions)",
    f"{HASHING}:384": "hashing (no model: shared words only; for tests)",
}


@dataclass(frozen=True)
class RagSettings:
    ingest: IngestOptions
    retrieval: RetrievalOptions
    embedding_model: str  # for new collections; an existing one keeps its own
    params: GenerationParams
    budget_tokens: int  # prompt budget of the retrieval answer, capped by the model's window


def key(name: str) -> str:
    return K + name


def read_settings(values: Mapping[str, Any]) -> RagSettings:
    """Settings from widget values (missing ones take :data:`DEFAULTS`); raises the options' errors."""
    v = {**DEFAULTS, **{name: values[key(name)] for name in DEFAULTS if key(name) in values}}
    threshold = float(v["threshold"])
    return RagSettings(
        ingest=IngestOptions(
            chunking=ChunkingOptions(int(v["chunk_size"]), int(v["chunk_overlap"])),
            max_bytes=int(float(v["max_mb"]) * 1024 * 1024),
        ),
        retrieval=RetrievalOptions(
            k=int(v["k"]),
            mmr=bool(v["mmr"]),
            fetch_k=int(v["fetch_k"]),
            lambda_mult=float(v["lambda_mult"]),
            score_threshold=threshold if threshold > 0 else None,
        ),
        embedding_model=embedding_id(v["embedding"] or default_embedding_model()),
        # No repetition penalty: it also penalises every token of the prompt, i.e. the very words and
        # "[n]" markers a grounded answer should copy from its sources.
        params=GenerationParams(
            temperature=float(v["temperature"]), max_new_tokens=int(v["max_new_tokens"]), repetition_penalty=1.0
        ),
        budget_tokens=int(v["budget"]),
    )


def _embedding_options() -> list[str]:
    options = list(EMBEDDING_LABELS)
    default = default_embedding_model()
    if default not in options:
        options.insert(0, default)
    return options


def render_rag_settings() -> RagSettings:
    """Draw the settings in the sidebar and return them (raises the options' errors, see the module)."""
    st.session_state.setdefault(key("embedding"), default_embedding_model())
    keep = {"persist_state": "session"}
    with st.sidebar:
        st.subheader(":material/tune: RAG settings")
        with st.expander("Documents", icon=":material/description:"):
            st.number_input("Chunk size (characters)", 100, 8000, DEFAULTS["chunk_size"], 50, key=key("chunk_size"),
                            help="Documents are cut into pieces of about this size; each is embedded and retrieved alone.",
                            **keep)  # fmt: skip
            st.number_input("Chunk overlap (characters)", 0, 4000, DEFAULTS["chunk_overlap"], 10, key=key("chunk_overlap"),
                            help="Characters shared by neighbouring chunks, so a sentence cut in two is found whole.",
                            **keep)  # fmt: skip
            st.number_input("Largest file (MB)", 1, 200, DEFAULTS["max_mb"], key=key("max_mb"),
                            help="Bigger files are refused with a message; the others are still added.", **keep)  # fmt: skip
            st.selectbox("Embedding model for new collections", _embedding_options(), key=key("embedding"),
                         format_func=lambda m: EMBEDDING_LABELS.get(m, m),
                         help="A collection keeps the model it was built with: vectors of two models cannot be compared.",
                         **keep)  # fmt: skip
        with st.expander("Retrieval", icon=":material/manage_search:"):
            st.slider("Chunks to retrieve (k)", 1, 20, DEFAULTS["k"], key=key("k"), **keep,
                      help="The best k chunks go into the prompt. Small models answer best from few sources; "
                      "3 already hold the answer to every demo question.")  # fmt: skip
            mmr = st.toggle("Diverse results (MMR)", DEFAULTS["mmr"], key=key("mmr"), **keep,
                            help="Maximal marginal relevance: skip chunks that repeat what a better one already says.")  # fmt: skip
            if mmr:
                st.slider("Candidates for MMR", 2, 100, DEFAULTS["fetch_k"], key=key("fetch_k"), **keep)
                st.slider("Relevance vs diversity", 0.0, 1.0, DEFAULTS["lambda_mult"], 0.05, key=key("lambda_mult"),
                          help="1: pure relevance, 0: pure diversity.", **keep)  # fmt: skip
            st.slider("Minimum score", 0.0, 1.0, DEFAULTS["threshold"], 0.05, key=key("threshold"), **keep,
                      help="Drop chunks whose cosine similarity to the question is below this (0: keep all).")  # fmt: skip
        with st.expander("Answers", icon=":material/edit_note:"):
            st.number_input("Reply length (tokens)", 1, 4096, DEFAULTS["max_new_tokens"], 16, key=key("max_new_tokens"),
                            **keep)  # fmt: skip
            st.slider("Temperature", 0.0, 1.5, DEFAULTS["temperature"], 0.05, key=key("temperature"), **keep,
                      help="0: greedy, so both columns are reproducible.")  # fmt: skip
            st.number_input("Prompt budget (tokens)", 256, 128_000, DEFAULTS["budget"], 256, key=key("budget"), **keep,
                            help="Sources are added best first while the prompt fits this budget "
                            "(and the model's context window, less the reply).")  # fmt: skip
    return read_settings(st.session_state)
