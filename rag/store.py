"""The Chroma vector store: where it lives, collections, documents.

Contract:
- :class:`StoreConfig` says where the store is: an embedded persistent store in
  a directory (default ``PLAYGROUND_HOME/chroma``) or a Chroma server
  (``CHROMA_HOST``/``CHROMA_PORT``). Explicit arguments beat the environment.
- :class:`RagStore` opens collections through ``langchain_chroma.Chroma`` with
  cosine distance, telemetry off and never Chroma's own (downloading)
  embedding function. Each collection records the embedding model that built
  it; a store opened with ``embedding_model=None`` follows that record, one
  opened with an explicit model refuses a collection built with another
  (:class:`EmbeddingMismatchError`): vectors of two models are not comparable.
- Collection names are validated before Chroma sees them
  (:func:`validate_collection_name`).
- Every failure is a :class:`rag.errors.RagError` with a hint.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from rag.embeddings import embedding_id, get_embeddings
from rag.errors import (
    CollectionNotFoundError,
    DocumentNotFoundError,
    EmbeddingMismatchError,
    InvalidCollectionNameError,
    StoreUnavailableError,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$")
META_EMBEDDING = "embedding_model"
DISTANCE_SPACE = "cosine"
_PAGE = 5000  # rows per metadata page when scanning a collection


def default_persist_dir() -> Path:
    """``PLAYGROUND_HOME/chroma`` (``data/chroma`` in the repo by default)."""
    from core.paths import home_dir

    return home_dir() / "chroma"


def validate_collection_name(name: object) -> str:
    """Return ``name`` if Chroma accepts it, else raise InvalidCollectionNameError.

    Chroma's rules: 3-512 characters from ``[A-Za-z0-9._-]``, starting and
    ending with a letter or digit, no ``..``, not an IPv4 address.
    """
    hint = "Use 3-512 letters, digits, '.', '_' or '-', starting and ending with a letter or digit, e.g. 'my-docs'."
    if not isinstance(name, str) or not name:
        raise InvalidCollectionNameError("A collection name is required.", hint)
    if not 3 <= len(name) <= 512:
        raise InvalidCollectionNameError(
            f"Collection name {name[:40]!r} has {len(name)} characters; Chroma needs 3 to 512.", hint
        )
    if not _NAME.match(name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
        what = f"contains {''.join(bad)!r}" if bad else "must start and end with a letter or digit"
        raise InvalidCollectionNameError(f"Collection name {name!r} {what}.", hint)
    if ".." in name:
        raise InvalidCollectionNameError(f"Collection name {name!r} contains '..'.", hint)
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise InvalidCollectionNameError(f"Collection name {name!r} looks like an IP address.", hint)


@dataclass(frozen=True)
class StoreConfig:
    """Where the vector store lives: ``persist_dir`` (embedded) or ``host``/``port`` (server)."""

    persist_dir: Path | None = None
    host: str | None = None
    port: int = 8000

    def __post_init__(self) -> None:
        if self.host is None and self.persist_dir is None:
            object.__setattr__(self, "persist_dir", default_persist_dir())
        if self.host is not None and self.persist_dir is not None:
            raise StoreUnavailableError("Give either a persist directory or a server host, not both.")
        if isinstance(self.persist_dir, str):
            object.__setattr__(self, "persist_dir", Path(self.persist_dir))
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise StoreUnavailableError(f"Chroma port must be 1..65535, got {self.port!r}.")

    @classmethod
    def from_env(
        cls, persist_dir: str | Path | None = None, host: str | None = None, port: int | None = None
    ) -> StoreConfig:
        """Explicit arguments first; then ``CHROMA_HOST``/``CHROMA_PORT``; then the default directory."""
        if persist_dir is not None:
            return cls(persist_dir=Path(persist_dir).expanduser())
        host = host or os.environ.get("CHROMA_HOST", "").strip() or None
        if host is None:
            return cls()
        if port is None:
            raw = os.environ.get("CHROMA_PORT", "").strip() or "8000"
            if not raw.isdigit():
                raise StoreUnavailableError(f"CHROMA_PORT must be a port number, got {raw!r}.")
            port = int(raw)
        return cls(host=host, port=port)

    @property
    def mode(self) -> str:
        """``"server"`` or ``"embedded"``."""
        return "server" if self.host else "embedded"

    def describe(self) -> str:
        if self.host:
            return f"Chroma server at http://{self.host}:{self.port}"
        return f"embedded Chroma store in {self.persist_dir}"


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    documents: int  # distinct sources
    chunks: int
    embedding_model: str | None  # None for collections made outside this package


@dataclass(frozen=True)
class DocumentInfo:
    source: str
    content_hash: str
    kind: str
    chunks: int
    pages: int | None  # highest page number seen (PDFs)


@dataclass(frozen=True)
class ChunkInfo:
    """One stored chunk of a document, as the RAG page shows it."""

    id: str
    text: str
    chunk: int | None  # index in its file
    page: int | None  # 1-based PDF page
    metadata: dict



def _client_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _open_client(config: StoreConfig) -> Any:
    import chromadb

    if config.host:
        try:
            return chromadb.HttpClient(host=config.host, port=config.port, settings=_client_settings())
        except Exception as exc:  # chromadb raises ValueError / httpx errors when unreachable
            raise StoreUnavailableError(
                f"Cannot reach the Chroma server at http://{config.host}:{config.port} ({str(exc)[:160]}).",
                f"Start one with `chroma run --path DIR --port {config.port}`, or unset CHROMA_HOST "
                "to use the embedded store.",
            ) from exc
    assert config.persist_dir is not None
    try:
        config.persist_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(config.persist_dir), settings=_client_settings())
    except Exception as exc:
        raise StoreUnavailableError(
            f"Cannot open the Chroma store in {config.persist_dir} ({type(exc).__name__}: {str(exc)[:160]}).",
            "Check that the directory is writable, or pick another with --persist-dir / PLAYGROUND_HOME.",
        ) from exc


def _is_not_found(exc: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError) or "does not exist" in str(exc)


class RagStore:
    """A Chroma store plus the embedding models of its collections.

    ``embedding_model``: a name for :func:`rag.embeddings.get_embeddings`, or None
    (new collections get the default model; existing ones use the model they
    record). ``embeddings``: an already-built model to use instead, recorded
    under ``embedding_model`` (required then).
    """

    def __init__(
        self,
        config: StoreConfig | None = None,
        *,
        embedding_model: str | None = None,
        embeddings: Embeddings | None = None,
        embedding_device: str = "auto",
        embedding_dtype: str = "auto",
    ) -> None:
        if embeddings is not None and embedding_model is None:
            raise ValueError("embedding_model must name the given embeddings (it is recorded in collections).")
        self.config = config or StoreConfig.from_env()
        self.embedding_model = embedding_model
        self._embeddings = embeddings
        self._device = embedding_device
        self._dtype = embedding_dtype
        self._client: Any = None

    # -- plumbing -----------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The chromadb client, opened on first use."""
        if self._client is None:
            self._client = _open_client(self.config)
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a chromadb call, turning connection failures into StoreUnavailableError."""
        try:
            return fn(*args, **kwargs)
        except (CollectionNotFoundError, EmbeddingMismatchError, DocumentNotFoundError):
            raise
        except Exception as exc:
            if self.config.host and type(exc).__module__.startswith(("httpx", "httpcore")):
                raise StoreUnavailableError(
                    f"Lost the Chroma server at http://{self.config.host}:{self.config.port} while {what}.",
                    "Check that the server is still running.",
                ) from exc
            raise

    def embeddings_for(self, recorded: str | None) -> tuple[Embeddings, str]:
        """The model to use for a collection recording ``recorded`` (None: new or foreign)."""
        if self._embeddings is not None:
            assert self.embedding_model is not None
            return self._embeddings, self.embedding_model
        name = self.embedding_model if self.embedding_model is not None else recorded
        model = get_embeddings(name, device=self._device, dtype=self._dtype)
        return model, embedding_id(name)

    def _wanted_id(self) -> str | None:
        if self._embeddings is not None:
            return self.embedding_model
        return embedding_id(self.embedding_model) if self.embedding_model is not None else None

    def _raw_collection(self, name: str) -> Any | None:
        try:
            return self._call("opening a collection", self.client.get_collection, name=name, embedding_function=None)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise

    def has_collection(self, name: str) -> bool:
        return self._raw_collection(validate_collection_name(name)) is not None

    def collection_names(self) -> list[str]:
        return sorted(c.name for c in self._call("listing collections", self.client.list_collections))

    def vectorstore(self, name: str, *, create: bool = False) -> Any:
        """The ``langchain_chroma.Chroma`` for collection ``name``.

        Raises CollectionNotFoundError when it does not exist and ``create`` is
        False, EmbeddingMismatchError when it was built with another model.
        """
        from langchain_chroma import Chroma

        validate_collection_name(name)
        raw = self._raw_collection(name)
        if raw is None and not create:
            names = self.collection_names()
            raise CollectionNotFoundError(
                f"No collection {name!r} in the {self.config.describe()}.",
                f"Existing: {', '.join(names)}." if names else "Ingest documents first: python -m rag ingest PATH --collection NAME.",
            )
        recorded = (raw.metadata or {}).get(META_EMBEDDING) if raw is not None else None
        wanted = self._wanted_id()
        if raw is not None and recorded and wanted and recorded != wanted:
            raise EmbeddingMismatchError(
                f"Collection {name!r} was built with embeddings {recorded!r}, not {wanted!r}.",
                f"Query it with --embedding-model {recorded}, or ingest into a new collection.",
            )
        embeddings, model_id = self.embeddings_for(recorded)
        metadata = {"hnsw:space": DISTANCE_SPACE, META_EMBEDDING: model_id}
        return self._call(
            "opening a collection",
            Chroma,
            client=self.client,
            collection_name=name,
            embedding_function=embeddings,
            collection_metadata=metadata,
            create_collection_if_not_exists=True,
        )

    # -- collections -----------------------------------------------------------------

    def create_collection(self, name: str) -> CollectionInfo:
        """Create collection ``name`` (no-op if it exists) and describe it."""
        self.vectorstore(name, create=True)
        return self.collection_info(name)

    def _scan(self, collection: Any, where: dict | None = None) -> Iterator[tuple[str, dict]]:
        offset = 0
        while True:
            page = self._call(
                "reading a collection", collection.get, where=where, include=["metadatas"], limit=_PAGE, offset=offset
            )
            ids = page["ids"]
            yield from zip(ids, page["metadatas"] or [{}] * len(ids), strict=False)
            if len(ids) < _PAGE:
                return
            offset += _PAGE

    def collection_info(self, name: str) -> CollectionInfo:
        raw = self._raw_collection(validate_collection_name(name))
        if raw is None:
            raise CollectionNotFoundError(f"No collection {name!r} in the {self.config.describe()}.")
        sources = {(meta or {}).get("source") for _, meta in self._scan(raw)}
        return CollectionInfo(
            name=name,
            documents=len(sources - {None}),
            chunks=self._call("counting", raw.count),
            embedding_model=(raw.metadata or {}).get(META_EMBEDDING),
        )

    def list_collections(self) -> list[CollectionInfo]:
        """Every collection with its document and chunk counts, by name."""
        return [self.collection_info(name) for name in self.collection_names()]

    def delete_collection(self, name: str) -> None:
        validate_collection_name(name)
        try:
            self._call("deleting a collection", self.client.delete_collection, name)
        except Exception as exc:
            if _is_not_found(exc):
                raise CollectionNotFoundError(f"No collection {name!r} to delete.") from exc
            raise

    # -- documents ---------------------------------------------------------------------

    def list_documents(self, name: str) -> list[DocumentInfo]:
        """The documents (sources) of a collection with their chunk counts, by source."""
        raw = self._raw_collection(validate_collection_name(name))
        if raw is None:
            raise CollectionNotFoundError(f"No collection {name!r} in the {self.config.describe()}.")
        found: dict[str, dict] = {}
        for _, meta in self._scan(raw):
            meta = meta or {}
            source = str(meta.get("source", "?"))
            entry = found.setdefault(
                source,
                {"hash": str(meta.get("content_hash", "")), "kind": str(meta.get("kind", "")), "chunks": 0, "pages": None},
            )
            entry["chunks"] += 1
            if isinstance(meta.get("page"), int):
                entry["pages"] = max(entry["pages"] or 0, meta["page"])
        return [
            DocumentInfo(source=s, content_hash=e["hash"], kind=e["kind"], chunks=e["chunks"], pages=e["pages"])
            for s, e in sorted(found.items())
        ]

    def source_ids(self, name: str, source: str) -> list[str]:
        """Ids of the chunks of ``source`` in collection ``name``."""
        raw = self._raw_collection(validate_collection_name(name))
        if raw is None:
            raise CollectionNotFoundError(f"No collection {name!r} in the {self.config.describe()}.")
        return [i for i, _ in self._scan(raw, where={"source": source})]

    def delete_document(self, name: str, source: str) -> int:
        """Delete every chunk of ``source``; return how many were deleted."""
        ids = self.source_ids(name, source)
        if not ids:
            known = [d.source for d in self.list_documents(name)]
            raise DocumentNotFoundError(
                f"No document {source!r} in collection {name!r}.",
                f"Documents: {', '.join(known[:20])}." if known else "The collection is empty.",
            )
        raw = self._raw_collection(name)
        for start in range(0, len(ids), _PAGE):
            self._call("deleting a document", raw.delete, ids=ids[start : start + _PAGE])
        return len(ids)

    def document_chunks(self, name: str, source: str) -> list[ChunkInfo]:
        """The chunks of ``source`` in collection ``name``, in file order (empty if it has none)."""
        raw = self._raw_collection(validate_collection_name(name))
        if raw is None:
            raise CollectionNotFoundError(f"No collection {name!r} in the {self.config.describe()}.")
        chunks: list[ChunkInfo] = []
        offset = 0
        while True:
            page = self._call(
                "reading a document", raw.get, where={"source": source},
                include=["documents", "metadatas"], limit=_PAGE, offset=offset,
            )  # fmt: skip
            for chunk_id, text, meta in zip(page["ids"], page["documents"] or [], page["metadatas"] or [], strict=False):
                meta = dict(meta or {})
                index, number = meta.get("chunk"), meta.get("page")
                chunks.append(
                    ChunkInfo(
                        id=chunk_id,
                        text=text or "",
                        chunk=index if isinstance(index, int) else None,
                        page=number if isinstance(number, int) else None,
                        metadata=meta,
                    )
                )
            if len(page["ids"]) < _PAGE:
                break
            offset += _PAGE
        return sorted(chunks, key=lambda c: (c.chunk if c.chunk is not None else 1 << 30, c.id))
