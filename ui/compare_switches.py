"""A Compare pane's RAG and guardrails switches, and the session settings behind them.

Contract:
- :func:`render_switches` draws the pane's two toggles (``cmp.<pane>.rag`` /
  ``cmp.<pane>.guardrails``). With RAG on it draws the collection picker
  (``cmp.<pane>.collection``) over the store's collections: a new choice prefers
  the demo collection; a collection deleted since it was picked stays selected,
  marked missing, so the pane fails with the store's message instead of silently
  answering from another one; with no collection at all it says how to make one and
  links to the RAG page. With guardrails on it says which policy and rails apply
  (those of the Guardrails page).
- :func:`rag_setup` / :func:`guard_setup` build a pane's
  :class:`core.compare_pipeline.RagSetup` / :class:`~core.compare_pipeline.GuardSetup`
  when it runs: the RAG page's retrieval settings and prompt budget, the collection
  queried with the embedding model it was built with; the Guardrails page's policy in
  force and its rail choice (by default rules, output rail and PII redaction;
  self-check uses the pane's own model). Both raise the store's or the settings'
  typed errors, which :func:`core.compare.run_comparison` shows in that pane.
- :func:`default_collection` is the collection a preset uses when pane 1 has none.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.compare import PaneConfig
from core.compare_pipeline import GuardSetup, RagSetup
from core.errors import PlaygroundError
from core.guardrails import DEFAULT_GUARD_MODEL
from core.loading import LoadedModel
from rag.demo import DEMO_COLLECTION
from rag.retrieval import Retriever
from ui import guardrails_state as gs
from ui.compare_state import wkey
from ui.errors import show_error
from ui.guardrails_rails import build_pipeline
from ui.guardrails_run import RailChoice
from ui.rag_resources import catalog, store_for_collection
from ui.rag_settings import read_settings

KEEP = "session"  # persist_state, as for the pane's other settings
RAG_PAGE = "app_pages/rag.py"
GUARDRAILS_PAGE = "app_pages/guardrails.py"
MISSING = " (missing)"


def collection_names() -> list[str]:
    """The store's collections, by name (raises the store's error when it cannot be read)."""
    return catalog().collection_names()


def default_collection(preferred: str | None = None) -> str | None:
    """``preferred`` if it exists, else the demo collection, else the first one; None when there is none."""
    names = collection_names()
    for name in (preferred, DEMO_COLLECTION):
        if name and name in names:
            return name
    return names[0] if names else None


def rail_choice() -> RailChoice:
    """The Guardrails page's rail choice from the session (its defaults when the page was never opened)."""
    state = st.session_state
    guard = (state.get(gs.GUARD_MODEL) or DEFAULT_GUARD_MODEL) if state.get(gs.GUARD) else None
    return RailChoice(rules=bool(state.get(gs.RULES, True)),
                      semantic=bool(state.get(gs.SEMANTIC, gs.SEMANTIC_DEFAULT)),
                      probe=bool(state.get(gs.PROBE, gs.PROBE_DEFAULT)),
                      self_check=bool(state.get(gs.SELF_CHECK, False)),
                      guard_model=guard, output=bool(state.get(gs.OUTPUT, True)),
                      redact=bool(state.get(gs.REDACT, True)))  # fmt: skip


def _collection_picker(pane: str) -> None:
    key = wkey(pane, "collection")
    try:
        names = collection_names()
    except PlaygroundError as exc:
        show_error(exc)
        return
    current = st.session_state.get(key) or ""
    if not names and not current:
        st.info("No document collection yet. Open the RAG page and press **Load the demo** (or add your own "
                "files), then pick it here.", icon=":material/library_books:")  # fmt: skip
        st.page_link(RAG_PAGE, label="Open the RAG page", icon=":material/library_books:")
        return
    if not current:
        st.session_state[key] = default_collection()
    options = names if st.session_state[key] in names else [*names, st.session_state[key]]
    st.selectbox("Collection", options, key=key, persist_state=KEEP,
                 format_func=lambda n: n if n in names else n + MISSING,
                 help="The documents this pane answers from. Retrieval settings (k, MMR, minimum score, prompt "
                 "budget) are the RAG page's.")  # fmt: skip
    if st.session_state[key] not in names:
        st.warning(f"Collection `{st.session_state[key]}` no longer exists: this pane will fail until you pick "
                   "another one.", icon=":material/warning:")  # fmt: skip


def render_switches(pane: str) -> None:
    """The pane's RAG and guardrails toggles with what each needs (see the module contract)."""
    left, right = st.columns(2)
    left.toggle("RAG", key=wkey(pane, "rag"), persist_state=KEEP,
                help="Answer from a document collection: the best chunks go into the prompt as numbered sources "
                "and the reply cites them.")  # fmt: skip
    right.toggle("Guardrails", key=wkey(pane, "guardrails"), persist_state=KEEP,
                 help="Input rails on the prompt, the safety prompt, the output rail and PII redaction on the "
                 "reply, with the policy of the Guardrails page.")  # fmt: skip
    if st.session_state.get(wkey(pane, "rag")):
        _collection_picker(pane)
    if st.session_state.get(wkey(pane, "guardrails")):
        st.caption(f":material/shield: Policy: {gs.policy_label()} · rails: {rail_choice().describe()}. "
                   "Change them on the Guardrails page.")  # fmt: skip


# --- what a pane runs with -------------------------------------------------------------------------------------


def rag_setup(config: PaneConfig, loaded: LoadedModel) -> RagSetup:
    """The pane's collection with the RAG page's retrieval settings (raises the store's errors)."""
    settings = read_settings(st.session_state)
    store = store_for_collection(config.collection, settings.embedding_model)
    retriever = Retriever(store, config.collection, settings.retrieval)  # a deleted collection fails here
    options = settings.retrieval
    shown: dict[str, Any] = {"k": options.k, "mmr": options.mmr}
    if options.mmr:
        shown.update(fetch_k=options.fetch_k, lambda_mult=options.lambda_mult)
    shown.update(score_threshold=options.score_threshold, embedding_model=store.embedding_model,
                 budget_tokens=settings.budget_tokens)  # fmt: skip
    return RagSetup(config.collection, retriever.retrieve, settings.budget_tokens, shown)


def guard_setup(config: PaneConfig, loaded: LoadedModel) -> GuardSetup:
    """The Guardrails page's policy and rails for this pane (self-check asks the pane's own model)."""
    choice = rail_choice()
    notices: list[str] = []
    policy = gs.policy()
    pipeline = build_pipeline(policy, choice.input_rails, loaded, choice.guard_model, notices)
    return GuardSetup(policy, pipeline, output=choice.output, redact=choice.redact, policy_label=gs.policy_label(),
                      notices=tuple(notices))  # fmt: skip
