"""RAG: answers grounded in your documents, with citations. Placeholder for now."""

from ui.placeholder import coming_soon

coming_soon(
    ":material/library_books: RAG",
    "Upload documents (PDF, text, Markdown, web pages), index them in a local Chroma store, and ask questions "
    "answered from them with citations.",
    ["Chunking and embedding settings", "The retrieved passages shown next to the answer", "Everything stays local"],
)
