"""Find the chunks that answer a question.

Contract of :meth:`Retriever.retrieve`: at most ``k`` :class:`Hit` objects,
best first, each with ``score`` = cosine similarity between the question and
the chunk (1 = same direction, ~0 = unrelated; computed from Chroma's distance
for the collection's space). With ``mmr``, ``fetch_k`` candidates are
re-ranked by maximal marginal relevance (order = MMR selection order, score
still the similarity). ``score_threshold`` drops hits below it. An empty
collection gives an empty list; a blank question raises InvalidOptionError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.errors import InvalidOptionError
from rag.options import RetrievalOptions
from rag.store import RagStore

MAX_QUESTION_CHARS = 4000


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk."""

    id: str
    text: str
    source: str
    page: int | None
    chunk: int | None
    score: float
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        """``name`` or ``name p. N``: how the chunk is cited to a person."""
        return f"{self.source} p. {self.page}" if self.page else self.source

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the command line: source, page, chunk, score."""
        return {"source": self.source, "page": self.page, "chunk": self.chunk, "score": round(self.score, 4)}


def similarity_from_distance(distance: float, space: str) -> float:
    """Cosine similarity from a Chroma distance (vectors are L2-normalised).

    cosine: d = 1 - cos; ip: d = 1 - dot = 1 - cos; l2: d = |a-b|^2 = 2 - 2 cos.
    """
    if space == "l2":
        return 1.0 - distance / 2.0
    return 1.0 - distance


def _space(collection: Any) -> str:
    config = getattr(collection, "configuration", None) or {}
    hnsw = config.get("hnsw") if isinstance(config, dict) else None
    space = (hnsw or {}).get("space") or (collection.metadata or {}).get("hnsw:space") or "l2"
    return str(space)


def _hit(doc_id: str, text: str, meta: dict | None, score: float) -> Hit:
    meta = dict(meta or {})
    page = meta.get("page")
    chunk = meta.get("chunk")
    return Hit(
        id=doc_id,
        text=text,
        source=str(meta.get("source", "?")),
        page=page if isinstance(page, int) else None,
        chunk=chunk if isinstance(chunk, int) else None,
        score=float(score),
        metadata=meta,
    )


class Retriever:
    """Top-k (or MMR) search over one collection; callable as ``retriever(question)``."""

    def __init__(self, store: RagStore, collection: str, options: RetrievalOptions | None = None) -> None:
        self.store = store
        self.collection = collection
        self.options = options or RetrievalOptions()
        self._vs = store.vectorstore(collection)  # raises CollectionNotFoundError early
        self._space = _space(self._vs._collection)

    def retrieve(self, question: str, options: RetrievalOptions | None = None) -> list[Hit]:
        opts = options or self.options
        if not isinstance(question, str) or not question.strip():
            raise InvalidOptionError("The question is empty.", "Type a question.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidOptionError(f"The question is {len(question)} characters long; at most {MAX_QUESTION_CHARS}.")
        collection = self._vs._collection
        total = self.store._call("counting", collection.count)
        if total == 0:
            return []
        query = self._vs.embeddings.embed_query(question.strip())
        want = min(max(opts.fetch_k, opts.k) if opts.mmr else opts.k, total)
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if opts.mmr else [])
        res = self.store._call(
            "searching", collection.query, query_embeddings=[query], n_results=want, include=include
        )
        ids, docs, metas, dists = res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]
        scores = [similarity_from_distance(d, self._space) for d in dists]
        order = list(range(len(ids)))
        if opts.mmr and ids:
            from langchain_core.vectorstores.utils import maximal_marginal_relevance

            order = maximal_marginal_relevance(
                np.asarray(query, dtype=np.float32),
                np.asarray(res["embeddings"][0], dtype=np.float32),
                lambda_mult=opts.lambda_mult,
                k=min(opts.k, len(ids)),
            )
        hits = [_hit(ids[i], docs[i] or "", metas[i], scores[i]) for i in order[: opts.k]]
        if opts.score_threshold is not None:
            hits = [h for h in hits if h.score >= opts.score_threshold]
        return hits

    __call__ = retrieve
