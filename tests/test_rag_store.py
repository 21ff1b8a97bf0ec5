"""Collections and ingestion, run against both an embedded store and a real ``chroma run`` server.

The ``rag_store`` fixture (tests/rag_server.py) is parametrized over ``embedded``
and ``server``, so every test here that takes it runs twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.embeddings import HashingEmbeddings
from rag.errors import (
    CollectionNotFoundError,
    DocumentNotFoundError,
    EmbeddingMismatchError,
    InvalidCollectionNameError,
    StoreUnavailableError,
)
from rag.ingest import GROUP_CHUNKS, FileResult, ingest_paths, ingest_text, ingest_uploads
from rag.options import ChunkingOptions, IngestOptions
from rag.pdf_writer import text_pdf
from rag.store import RagStore, StoreConfig, validate_collection_name
from tests.rag_server import chroma_server, free_port, rag_store  # noqa: F401  (fixtures)

SMALL_CHUNKS = IngestOptions(chunking=ChunkingOptions(chunk_size=120, chunk_overlap=20))
LONG_TEXT = " ".join(f"Paragraph {i} mentions fact number {i} about the demo corpus." for i in range(20)).encode()


def _statuses(results: list[FileResult]) -> list[str]:
    return [r.status for r in results]


# -- names and configuration (no store needed) ------------------------------------------


@pytest.mark.parametrize("name", ["abc", "my-docs", "Team_2025.v1", "a" * 512])
def test_valid_collection_names_pass(name: str) -> None:
    assert validate_collection_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "required"),
        ("ab", "3 to 512"),
        ("a" * 513, "3 to 512"),
        ("my docs", "' '"),
        ("-docs", "start and end"),
        ("docs_", "start and end"),
        ("a..b", "'..'"),
        ("192.168.0.1", "IP address"),
        ("café", "'é'"),
    ],
)
def test_invalid_collection_names_are_explained(name: str, fragment: str) -> None:
    """Chroma's own error is a wall of text; ours says which rule broke and how to fix it."""
    with pytest.raises(InvalidCollectionNameError) as info:
        validate_collection_name(name)
    assert fragment in info.value.message
    assert "letters, digits" in info.value.hint


def test_default_store_lives_under_playground_home(_isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest points PLAYGROUND_HOME at a temp dir, so the default store is inside it, never in data/."""
    monkeypatch.delenv("CHROMA_HOST", raising=False)
    config = StoreConfig.from_env()
    assert config.mode == "embedded" and config.persist_dir == _isolated_home / "chroma"


def test_chroma_host_env_selects_server_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHROMA_HOST", "chroma.internal")
    monkeypatch.setenv("CHROMA_PORT", "9001")
    config = StoreConfig.from_env()
    assert (config.mode, config.host, config.port, config.persist_dir) == ("server", "chroma.internal", 9001, None)
    # an explicit directory beats the environment
    assert StoreConfig.from_env(persist_dir=tmp_path).mode == "embedded"
    monkeypatch.setenv("CHROMA_PORT", "http")
    with pytest.raises(StoreUnavailableError):
        StoreConfig.from_env()


def test_unreachable_server_gives_a_hint() -> None:
    store = RagStore(StoreConfig(host="127.0.0.1", port=free_port()), embedding_model="hashing")
    with pytest.raises(StoreUnavailableError) as info:
        store.list_collections()
    assert "chroma run" in info.value.hint


# -- collections ----------------------------------------------------------------------------


def test_create_list_and_delete_collections(rag_store: RagStore) -> None:
    info = rag_store.create_collection("empty-one")
    assert (info.documents, info.chunks, info.embedding_model) == (0, 0, "hashing:384")
    ingest_uploads(rag_store, "docs-two", [("a.txt", b"alpha text"), ("b.txt", b"beta text")])
    listed = {c.name: c for c in rag_store.list_collections()}
    assert {"empty-one", "docs-two"} <= set(listed)
    assert (listed["docs-two"].documents, listed["docs-two"].chunks) == (2, 2)
    rag_store.delete_collection("empty-one")
    assert "empty-one" not in rag_store.collection_names()
    with pytest.raises(CollectionNotFoundError):
        rag_store.delete_collection("empty-one")


def test_collections_use_cosine_distance(rag_store: RagStore) -> None:
    """LangChain's Chroma defaults to L2; scores are only cosine similarities if the space is cosine."""
    vs = rag_store.vectorstore("cosine-check", create=True)
    assert vs._collection.configuration["hnsw"]["space"] == "cosine"


def test_missing_collection_is_reported_with_existing_names(rag_store: RagStore) -> None:
    rag_store.create_collection("present")
    with pytest.raises(CollectionNotFoundError) as info:
        rag_store.vectorstore("absent")
    assert "present" in info.value.hint
    with pytest.raises(CollectionNotFoundError):
        rag_store.list_documents("absent")


# -- ingestion ------------------------------------------------------------------------------


def test_reingest_dedupes_and_replaces(rag_store: RagStore) -> None:
    """Same name + same bytes: nothing written. Same bytes, other name: duplicate. Same name, new
    bytes: the new chunks replace the old ones, so the document count stays 1 for that name."""
    first = ingest_uploads(rag_store, "dedupe", [("doc.txt", LONG_TEXT)], options=SMALL_CHUNKS)[0]
    assert first.status == "added" and first.chunks > 3
    again = ingest_uploads(rag_store, "dedupe", [("doc.txt", LONG_TEXT)], options=SMALL_CHUNKS)[0]
    assert (again.status, again.chunks) == ("unchanged", first.chunks)
    copy = ingest_uploads(rag_store, "dedupe", [("copy.txt", LONG_TEXT)], options=SMALL_CHUNKS)[0]
    assert copy.status == "duplicate" and "doc.txt" in copy.message
    changed = ingest_uploads(rag_store, "dedupe", [("doc.txt", b"A much shorter new version.")], options=SMALL_CHUNKS)[0]
    assert (changed.status, changed.chunks, changed.replaced_chunks) == ("replaced", 1, first.chunks)
    docs = rag_store.list_documents("dedupe")
    assert [(d.source, d.chunks, d.content_hash) for d in docs] == [("doc.txt", 1, changed.content_hash)]


def test_bad_files_do_not_stop_the_batch(rag_store: RagStore) -> None:
    """Every file gets its own result in input order, and progress is reported once per file."""
    uploads = [
        ("good.txt", b"Good text about apples."),
        ("empty.txt", b""),
        ("binary.txt", b"\x00\x01\x02\x03" * 50),
        ("broken.pdf", b"%PDF-1.7\n garbage"),
        ("legacy.txt", "Café déjà vu".encode("cp1252")),
        ("report.pdf", text_pdf(["Page one text.", "Page two text."])),
        ("good-copy.txt", b"Good text about apples."),
        ("big.txt", b"x" * 5000),
        ("sheet.xlsx", b"PK\x03\x04"),
    ]
    progress: list[tuple[int, int, str]] = []
    results = ingest_uploads(
        rag_store,
        "mixed",
        uploads,
        options=IngestOptions(max_bytes=4000),
        on_progress=lambda done, total, r: progress.append((done, total, r.name)),
    )
    assert [r.name for r in results] == [name for name, _ in uploads]
    assert _statuses(results) == ["added", "error", "error", "error", "added", "added", "duplicate", "error", "error"]
    assert [r.code for r in results if r.status == "error"] == ["empty", "binary", "corrupt", "too_large", "unsupported"]
    assert "cp1252" in results[4].note
    assert results[5].pages == 2
    assert progress == [(i + 1, len(uploads), name) for i, (name, _) in enumerate(uploads)]
    assert {d.source for d in rag_store.list_documents("mixed")} == {"good.txt", "legacy.txt", "report.pdf"}


def test_pdf_chunks_keep_their_page(rag_store: RagStore) -> None:
    ingest_uploads(rag_store, "pages", [("r.pdf", text_pdf(["alpha " * 10, "beta " * 10]))])
    got = rag_store.vectorstore("pages").get(include=["metadatas"])
    pages = {m["page"] for m in got["metadatas"]}
    assert pages == {1, 2}


class _FailingEmbeddings(HashingEmbeddings):
    """Hashing embeddings that refuse any batch containing ``poison``, like a model crashing on one file."""

    def __init__(self, poison: str) -> None:
        super().__init__(384)
        self.poison = poison

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if any(self.poison in t for t in texts):
            raise MemoryError("simulated failure while embedding")
        return super().embed_documents(texts)


def test_an_embedding_failure_only_fails_its_own_file(rag_store: RagStore) -> None:
    """Files are embedded together; when that shared call fails, each file is retried alone, so only
    the file that breaks the model fails and its neighbours are stored."""
    failing = RagStore(rag_store.config, embedding_model="hashing:384", embeddings=_FailingEmbeddings("POISON"))
    results = ingest_uploads(failing, "embed-fail", [("a.txt", b"alpha"), ("bad.txt", b"POISON pill"), ("c.txt", b"gamma")])
    assert _statuses(results) == ["added", "error", "added"]
    assert results[1].code == "store_error" and "MemoryError" in results[1].message
    assert [d.source for d in rag_store.list_documents("embed-fail")] == ["a.txt", "c.txt"]


def test_a_failure_mid_file_leaves_nothing_half_written(rag_store: RagStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first version of doc.txt is stored; writing a changed version fails on its second batch
    of chunks. Afterwards the collection holds exactly the first version: the batch that made it in
    was deleted again and the old chunks were never touched; the next file still goes in."""
    from chromadb.api.models.Collection import Collection

    first = ingest_uploads(rag_store, "atomic", [("doc.txt", LONG_TEXT)], options=SMALL_CHUNKS)[0]
    before = set(rag_store.vectorstore("atomic").get(include=[])["ids"])

    real_upsert = Collection.upsert
    written_batches: list[list[str]] = []

    def flaky_upsert(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Fail every write that contains chunk 2 of the new doc.txt: its second batch of two."""
        if any(m.get("source") == "doc.txt" and m.get("chunk") == 2 for m in kwargs["metadatas"]):
            raise ConnectionError("simulated store failure on the second batch")
        written_batches.append(list(kwargs["ids"]))
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", flaky_upsert)
    monkeypatch.setattr(rag_store.client, "get_max_batch_size", lambda: 2)
    changed = LONG_TEXT.replace(b"fact", b"claim")
    results = ingest_uploads(rag_store, "atomic", [("doc.txt", changed), ("other.txt", b"Other file text.")], options=SMALL_CHUNKS)
    assert written_batches  # the first batch really was written before the failure (then removed)
    assert results[0].status == "error" and results[0].code == "store_error"
    assert "nothing was kept" in results[0].message and "ConnectionError" in results[0].message
    assert results[1].status == "added"

    docs = {d.source: d for d in rag_store.list_documents("atomic")}
    assert docs["doc.txt"].content_hash == first.content_hash
    assert docs["doc.txt"].chunks == first.chunks
    after = set(rag_store.vectorstore("atomic").get(include=[])["ids"])
    assert before <= after and len(after) == len(before) + 1  # + other.txt's single chunk


def test_same_name_twice_in_one_batch_keeps_only_the_last_version(rag_store: RagStore) -> None:
    """Two versions of one file in the same call (embedded in the same group otherwise) must not
    both end up stored: the second replaces the first."""
    results = ingest_uploads(rag_store, "twice", [("n.txt", b"version one"), ("n.txt", b"version two"), ("m.txt", b"version two")])
    assert _statuses(results) == ["added", "replaced", "duplicate"]
    docs = rag_store.list_documents("twice")
    assert [(d.source, d.chunks, d.content_hash) for d in docs] == [("n.txt", 1, results[1].content_hash)]


def test_many_small_files_are_stored_each_with_its_own_chunks(rag_store: RagStore) -> None:
    """More files than one embedding group: every file's chunks land under its own name."""
    uploads = [(f"f{i:03d}.txt", f"File {i} says {i * 7}. ".encode() * 60) for i in range(40)]
    results = ingest_uploads(rag_store, "grouped", uploads, options=SMALL_CHUNKS)
    assert all(r.status == "added" for r in results)
    assert sum(r.chunks for r in results) > GROUP_CHUNKS
    stored = rag_store.vectorstore("grouped").get(include=["documents", "metadatas"])
    assert len(stored["ids"]) == sum(r.chunks for r in results)
    for text, meta in zip(stored["documents"], stored["metadatas"], strict=True):
        i = int(meta["source"][1:4])
        assert f"File {i} says {i * 7}." in text


def test_delete_document_removes_only_its_chunks(rag_store: RagStore) -> None:
    ingest_uploads(rag_store, "deleting", [("a.txt", LONG_TEXT), ("b.txt", b"Keep me.")], options=SMALL_CHUNKS)
    removed = rag_store.delete_document("deleting", "a.txt")
    assert removed > 3
    assert [d.source for d in rag_store.list_documents("deleting")] == ["b.txt"]
    with pytest.raises(DocumentNotFoundError) as info:
        rag_store.delete_document("deleting", "a.txt")
    assert "b.txt" in info.value.hint


def test_collections_remember_their_embedding_model(rag_store: RagStore) -> None:
    """Vectors of two models are not comparable: an explicit other model is refused; a store
    opened without a model follows the one the collection records."""
    ingest_uploads(rag_store, "model-lock", [("a.txt", b"alpha")])
    other = RagStore(rag_store.config, embedding_model="hashing:64")
    with pytest.raises(EmbeddingMismatchError) as info:
        other.vectorstore("model-lock")
    assert "hashing:384" in info.value.message and "--embedding-model hashing:384" in info.value.hint
    follower = RagStore(rag_store.config)  # no model given
    vs = follower.vectorstore("model-lock")
    assert isinstance(vs.embeddings, HashingEmbeddings) and vs.embeddings.dim == 384


def test_ingest_text_names_pasted_text_by_its_hash(rag_store: RagStore) -> None:
    """Two different pastes must not replace each other, so the default name comes from the content."""
    a = ingest_text(rag_store, "pasted", "First pasted note.")
    b = ingest_text(rag_store, "pasted", "Second pasted note.")
    assert a.name.startswith("pasted-") and a.name.endswith(".txt") and a.name != b.name
    assert ingest_text(rag_store, "pasted", "First pasted note.").status == "unchanged"
    assert ingest_text(rag_store, "pasted", "Named", name="meeting").name == "meeting.txt"


def test_upload_names_lose_their_directories(rag_store: RagStore) -> None:
    results = ingest_uploads(rag_store, "names", [("../../etc/x.txt", b"one"), ("C:\\Users\\me\\y.txt", b"two"), ("", b"three")])
    assert [r.name for r in results[:2]] == ["x.txt", "y.txt"]
    assert results[2].status == "error"


def test_ingest_paths_walks_folders(rag_store: RagStore, tmp_path: Path) -> None:
    """Folder files are named relative to the folder; unsupported and hidden files in a folder are
    ignored, but an explicitly named bad path gets its own error."""
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# A\n\nalpha")
    (root / "sub" / "b.txt").write_text("beta")
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / ".hidden.txt").write_text("secret")
    lone = tmp_path / "lone.html"
    lone.write_text("<p>gamma</p>")
    odd = tmp_path / "data.csv"
    odd.write_text("a,b")
    results = ingest_paths(rag_store, "folders", [root, lone, tmp_path / "missing.txt", odd])
    assert [(r.name, r.status, r.code) for r in results] == [
        ("a.md", "added", None),
        ("sub/b.txt", "added", None),
        ("lone.html", "added", None),
        (str(tmp_path / "missing.txt"), "error", "not_found"),
        ("data.csv", "error", "unsupported"),
    ]


def test_oversized_file_on_disk_is_refused(rag_store: RagStore, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 1000)
    result = ingest_paths(rag_store, "limits", [big], options=IngestOptions(max_bytes=1000))[0]
    assert result.code == "too_large" and "limit" in result.message


def test_invalid_collection_name_fails_before_any_file(rag_store: RagStore) -> None:
    with pytest.raises(InvalidCollectionNameError):
        ingest_uploads(rag_store, "x", [("a.txt", b"alpha")])
