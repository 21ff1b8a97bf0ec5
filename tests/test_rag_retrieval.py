"""Retrieval: cosine scores, ordering, k, threshold, MMR, and bad questions (embedded and server)."""

from __future__ import annotations

import pytest

from rag.errors import CollectionNotFoundError, InvalidOptionError
from rag.ingest import ingest_uploads
from rag.options import RetrievalOptions
from rag.retrieval import Hit, Retriever, similarity_from_distance
from rag.store import RagStore
from tests.rag_server import chroma_server, rag_store  # noqa: F401  (fixtures)

CORPUS = [
    ("a1.txt", b"qwen3 thinking mode release april"),
    ("a2.txt", b"qwen3 thinking mode release april 2025"),
    ("a3.txt", b"qwen3 thinking mode release in april"),
    ("b.txt", b"qwen3 license is apache open weights"),
    ("c.txt", b"gemma three google"),
]
QUESTION = "qwen3 thinking mode release license"


@pytest.fixture
def corpus(rag_store: RagStore) -> RagStore:
    results = ingest_uploads(rag_store, "retrieval", CORPUS)
    assert all(r.status == "added" for r in results)
    return rag_store


def test_hits_are_scored_by_cosine_similarity_best_first(corpus: RagStore) -> None:
    """Hashing vectors make the expected order computable by hand: a1 shares 4 of the question's
    5 words, the a2/a3 variants 4 plus noise, b 2 words, c none."""
    hits = Retriever(corpus, "retrieval", RetrievalOptions(k=5))(QUESTION)
    assert [h.source for h in hits][0] == "a1.txt"
    assert [h.source for h in hits][3:] == ["b.txt", "c.txt"]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-0.01 <= s <= 1.0001 for s in scores)
    assert scores[0] > 0.7 and scores[-1] < 0.3
    top = hits[0]
    assert top.to_dict() == {"source": "a1.txt", "page": None, "chunk": 0, "score": round(top.score, 4)}
    assert top.text == "qwen3 thinking mode release april" and top.metadata["kind"] == "text"


def test_k_limits_and_threshold_filters(corpus: RagStore) -> None:
    assert len(Retriever(corpus, "retrieval", RetrievalOptions(k=2))(QUESTION)) == 2
    kept = Retriever(corpus, "retrieval", RetrievalOptions(k=5, score_threshold=0.5))(QUESTION)
    assert {h.source for h in kept} == {"a1.txt", "a2.txt", "a3.txt"}
    assert all(h.score >= 0.5 for h in kept)
    assert Retriever(corpus, "retrieval", RetrievalOptions(score_threshold=0.99))(QUESTION) == []


def test_mmr_trades_near_duplicates_for_diversity(corpus: RagStore) -> None:
    """Plain top-2 returns two near-identical 'a' chunks; MMR keeps the best one and then prefers
    the different but still relevant b.txt over another copy."""
    plain = Retriever(corpus, "retrieval", RetrievalOptions(k=2))(QUESTION)
    assert {h.source for h in plain} <= {"a1.txt", "a2.txt", "a3.txt"}
    diverse = Retriever(corpus, "retrieval", RetrievalOptions(k=2, mmr=True, fetch_k=5, lambda_mult=0.5))(QUESTION)
    assert [h.source for h in diverse] == ["a1.txt", "b.txt"]
    assert diverse[1].score == pytest.approx(next(h.score for h in plain + diverse if h.source == "b.txt"))


def test_empty_collection_returns_no_hits(rag_store: RagStore) -> None:
    rag_store.create_collection("nothing-here")
    assert Retriever(rag_store, "nothing-here")("anything?") == []


def test_bad_questions_and_missing_collections(corpus: RagStore) -> None:
    retriever = Retriever(corpus, "retrieval")
    for bad in ("", "   ", "x" * 5000):
        with pytest.raises(InvalidOptionError):
            retriever(bad)
    with pytest.raises(CollectionNotFoundError):
        Retriever(corpus, "no-such-collection")


def test_similarity_from_distance_per_space() -> None:
    """Chroma's distances for unit vectors at cosine similarity c: cosine 1-c, ip 1-c, l2 2-2c."""
    for c in (1.0, 0.5, 0.0, -0.25):
        assert similarity_from_distance(1 - c, "cosine") == pytest.approx(c)
        assert similarity_from_distance(1 - c, "ip") == pytest.approx(c)
        assert similarity_from_distance(2 - 2 * c, "l2") == pytest.approx(c)


def test_hit_label_names_the_page() -> None:
    assert Hit("i", "t", "r.pdf", 3, 0, 0.5).label == "r.pdf p. 3"
    assert Hit("i", "t", "a.md", None, 0, 0.5).label == "a.md"
