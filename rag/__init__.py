"""Retrieval-augmented generation over your own documents (Chroma via LangChain).

Plain typed Python, no UI. The main entry points:

- :class:`rag.store.RagStore` / :class:`rag.store.StoreConfig`: the Chroma store
  and its collections (create, list, delete a document or a collection).
- :func:`rag.ingest.ingest_paths`, :func:`rag.ingest.ingest_uploads`,
  :func:`rag.ingest.ingest_text`: load, split, embed and store files.
- :class:`rag.retrieval.Retriever`: top-k / MMR search with cosine scores.
- :func:`rag.prompt.build_messages`: the grounded prompt under a token budget.
- :func:`rag.answer.answer` (or ``prepare`` + ``finish`` around a streaming
  generator): the reply with its citations mapped back to chunks.

Command line: ``python -m rag --help``.
"""
