"""Cut documents into chunks with LangChain's recursive text splitters.

Contract of :func:`split_documents`: chunks are at most ``chunk_size`` long
(characters, or tokens of the options' tokenizer), neighbouring chunks share
up to ``chunk_overlap``; Markdown is cut at headings first. Each chunk keeps
its document's metadata plus ``chunk`` (its 0-based position in the file,
counted across PDF pages) and ``start_index`` (its offset in its page's text).
PDF pages are cut at sentence ends before line ends (their lines are
soft-wrapped). Whitespace-only chunks are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.documents import Document
from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

from rag.options import ChunkingOptions


def make_splitter(options: ChunkingOptions, kind: str = "text") -> RecursiveCharacterTextSplitter:
    """The splitter for one document kind under ``options``."""
    kwargs: dict = {
        "chunk_size": options.chunk_size,
        "chunk_overlap": options.chunk_overlap,
        "add_start_index": True,
        "strip_whitespace": True,
    }
    if kind == "pdf":
        # pypdf ends every printed line with "\n", mid-sentence: prefer sentence ends.
        kwargs["separators"] = ["\n\n", ".\n", ". ", "\n", " ", ""]
        kwargs["keep_separator"] = "end"
    elif kind == "markdown":
        kwargs["separators"] = RecursiveCharacterTextSplitter.get_separators_for_language(Language.MARKDOWN)
        kwargs["is_separator_regex"] = True
    if options.tokenizer is not None:
        return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(options.tokenizer, **kwargs)
    return RecursiveCharacterTextSplitter(**kwargs)


def split_documents(documents: Sequence[Document], options: ChunkingOptions) -> list[Document]:
    """Split the documents of one file into numbered chunks (see the module contract)."""
    chunks: list[Document] = []
    splitters: dict[str, RecursiveCharacterTextSplitter] = {}
    for doc in documents:
        kind = str(doc.metadata.get("kind", "text"))
        splitter = splitters.get(kind) or splitters.setdefault(kind, make_splitter(options, kind))
        for piece in splitter.split_documents([doc]):
            if piece.page_content.strip():
                piece.metadata["chunk"] = len(chunks)
                chunks.append(piece)
    return chunks
