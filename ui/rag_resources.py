"""The RAG page's shared heavy objects: embedding models and vector stores, one per process.

Contract:
- :func:`embedding_model` loads an embedding model once per process (``st.cache_resource``)
  and every session shares it; sentence-transformers models are read-only at inference,
  so concurrent ``embed_*`` calls are safe.
- :func:`catalog` is the store for the current ``PLAYGROUND_HOME`` (or ``CHROMA_HOST``)
  used to list, browse and delete; it never embeds anything.
- :func:`store_for` is the store that embeds with one given model (ingest, retrieval);
  :func:`store_for_collection` picks the model a collection was built with, so a
  collection is always queried with its own model, and a new one gets ``default_model``.
- :func:`default_embedding_model` is the model for new collections before the user picks
  one: ``PLAYGROUND_RAG_EMBEDDINGS`` when set (tests set ``hashing``), else MiniLM.

Stores are cached per location, so a test that points ``PLAYGROUND_HOME`` elsewhere gets
its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st
from langchain_core.embeddings import Embeddings

from rag.embeddings import DEFAULT_EMBEDDING_MODEL, embedding_id, get_embeddings
from rag.store import CollectionInfo, RagStore, StoreConfig

EMBEDDINGS_ENV = "PLAYGROUND_RAG_EMBEDDINGS"


def default_embedding_model() -> str:
    """``PLAYGROUND_RAG_EMBEDDINGS`` (as its recorded id) or all-MiniLM-L6-v2."""
    return embedding_id(os.environ.get(EMBEDDINGS_ENV, "").strip() or DEFAULT_EMBEDDING_MODEL)


@st.cache_resource(show_spinner="Loading the embedding model…")
def embedding_model(model_id: str) -> Embeddings:
    """The embedding model ``model_id`` (see rag.embeddings.get_embeddings), loaded once per process."""
    return get_embeddings(model_id)


def _config() -> StoreConfig:
    return StoreConfig.from_env()


@st.cache_resource(show_spinner=False)
def _store(persist_dir: str | None, host: str | None, port: int, model_id: str | None) -> RagStore:
    config = StoreConfig(host=host, port=port) if host else StoreConfig(persist_dir=Path(str(persist_dir)))
    if model_id is None:
        return RagStore(config)
    return RagStore(config, embedding_model=model_id, embeddings=embedding_model(model_id))


def _cached(model_id: str | None) -> RagStore:
    config = _config()
    persist = str(config.persist_dir) if config.persist_dir is not None else None
    return _store(persist, config.host, config.port, model_id)


def catalog() -> RagStore:
    """The store for listing, browsing and deleting (no embedding model attached)."""
    return _cached(None)


def store_for(model_id: str) -> RagStore:
    """The store that embeds with ``model_id`` (an id from :func:`rag.embeddings.embedding_id`)."""
    return _cached(embedding_id(model_id))


def collection_model(info: CollectionInfo | None, default_model: str) -> str:
    """The model to embed with for a collection: the one it records, else ``default_model``."""
    if info is not None and info.embedding_model:
        return info.embedding_model
    return embedding_id(default_model)


def store_for_collection(name: str, default_model: str) -> RagStore:
    """The store for ingesting into or querying collection ``name`` (existing or new)."""
    info = catalog().collection_info(name) if catalog().has_collection(name) else None
    return store_for(collection_model(info, default_model))
