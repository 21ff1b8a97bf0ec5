"""Turn file bytes into LangChain documents.

Contract of :func:`load_bytes`:
- ``name`` picks the kind by its suffix (.txt, .md/.markdown, .pdf, .html/.htm);
  ``kind`` overrides it (``"text"`` is used for pasted text).
- The result holds one :class:`~langchain_core.documents.Document` per PDF page
  with text, or one for the whole file otherwise. Every document's metadata
  has ``source`` (the name), ``kind``, ``content_hash`` (sha256 of the bytes)
  and, for PDFs, ``page`` (1-based).
- Bad input raises :class:`rag.errors.LoadError` with a ``code`` and a message a
  person can act on: empty, binary, corrupt or encrypted PDF, no extractable
  text, unsupported type. Text that is not UTF-8 is decoded anyway (cp1252 or
  a detected encoding) and the result carries a ``note`` saying so.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from langchain_core.documents import Document
from langchain_core.documents.base import Blob

from rag.errors import LoadError

SUFFIX_KINDS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}
KINDS = ("text", "markdown", "pdf", "html")

# Elements whose text is never shown to a reader: their content would only add
# noise (scripts, styles) or hide instructions from a human reviewer.
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
_BLOCK_TAGS = (
    "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "section", "article",
    "header", "footer", "main", "nav", "aside", "blockquote", "pre", "figure", "figcaption",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr",
)  # fmt: skip
_BREAK = "\ue000"  # private-use sentinel, survives whitespace collapsing
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class LoadedFile:
    """A file turned into documents, ready for splitting."""

    name: str
    kind: str
    content_hash: str
    documents: list[Document]
    note: str = ""  # e.g. how non-UTF-8 text was decoded
    pages: int | None = None  # PDFs: pages in the file (with or without text)
    metadata: dict[str, str] = field(default_factory=dict)


def content_hash(data: bytes) -> str:
    """The sha256 hex digest identifying a file's content."""
    return hashlib.sha256(data).hexdigest()


def kind_for(name: str) -> str | None:
    """The document kind for a file name, or None when the suffix is unsupported."""
    return SUFFIX_KINDS.get(PurePath(name).suffix.lower())


def looks_binary(data: bytes) -> bool:
    """True when bytes are not text: NUL bytes, or many control characters.

    Only the first 8 KiB are inspected; UTF-16/32 text (which has NULs) must be
    recognised by its byte-order mark before calling this.
    """
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    controls = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
    return controls / len(head) > 0.05


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode text bytes; return ``(text, note)`` where note is "" for clean UTF-8.

    Order: a byte-order mark; strict UTF-8; a multi-byte encoding detected by
    charset-normalizer (CJK text); strict cp1252 (the usual Windows export);
    whatever charset-normalizer found; latin-1, which never fails.
    Raises LoadError("binary") for bytes that are not text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), ""
            except UnicodeDecodeError:
                break
    if looks_binary(data):
        raise LoadError(
            "binary",
            "The file looks binary, not text (it contains NUL or control bytes).",
            "Upload the original .txt/.md/.pdf/.html file; other formats are not supported.",
        )
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        bad_at = exc.start

    from charset_normalizer import from_bytes
    from charset_normalizer.utils import is_multi_byte_encoding

    best = from_bytes(data).best()
    if best is not None and is_multi_byte_encoding(best.encoding):
        return str(best), f"Not valid UTF-8 (byte {bad_at}); decoded as {best.encoding} (detected)."
    try:
        return data.decode("cp1252"), f"Not valid UTF-8 (byte {bad_at}); decoded as cp1252."
    except UnicodeDecodeError:
        pass
    if best is not None:
        return str(best), f"Not valid UTF-8 (byte {bad_at}); decoded as {best.encoding} (detected)."
    return data.decode("latin-1"), f"Not valid UTF-8 (byte {bad_at}); decoded as latin-1, some characters may be wrong."


def _tidy(text: str) -> str:
    """Normalise line ends, strip trailing spaces and collapse runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\f\v]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _meta(name: str, kind: str, digest: str, **extra: object) -> dict:
    return {"source": name, "kind": kind, "content_hash": digest, **extra}


def _load_text(name: str, kind: str, data: bytes, digest: str) -> LoadedFile:
    text, note = decode_text(data)
    text = _tidy(text)
    if not text:
        raise LoadError("no_text", "The file contains only whitespace.", "Nothing to index.")
    return LoadedFile(name, kind, digest, [Document(page_content=text, metadata=_meta(name, kind, digest))], note)


def _load_html(name: str, data: bytes, digest: str) -> LoadedFile:
    # BeautifulSoup directly rather than langchain's BS4HTMLParser: that one keeps
    # the text of <script>/<style> and of hidden elements, which is noise at best
    # and a hiding place for injected instructions at worst.
    from bs4 import BeautifulSoup, Tag

    if looks_binary(data) and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LoadError("binary", "The file looks binary, not HTML.", "Upload the original .html file.")
    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup.find_all(_INVISIBLE_TAGS):
        tag.decompose()
    for tag in soup.find_all(True):
        if not isinstance(tag, Tag) or tag.decomposed:
            continue
        attrs = tag.attrs or {}
        if (
            "hidden" in attrs
            or str(attrs.get("aria-hidden", "")).lower() == "true"
            or _HIDDEN_STYLE.search(str(attrs.get("style", "")))
        ):
            tag.decompose()
    body = soup.body or soup
    # HTML whitespace is one space wherever it is; only block elements break lines.
    for tag in body.find_all(_BLOCK_TAGS):
        tag.insert_before(_BREAK)
        tag.insert_after(_BREAK)
    text = re.sub(r"\s+", " ", body.get_text("")).replace(_BREAK, "\n")
    text = _tidy(re.sub(r" *\n *", "\n", text))
    if not text:
        raise LoadError("no_text", "The HTML page has no visible text.", "Nothing to index.")
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    meta = _meta(name, "html", digest, **({"title": title} if title else {}))
    note = ""
    encoding = getattr(soup, "original_encoding", None)
    if encoding and encoding.lower().replace("-", "") not in ("utf8", "ascii"):
        note = f"Decoded as {encoding}."
    return LoadedFile(name, "html", digest, [Document(page_content=text, metadata=meta)], note)


def _load_pdf(name: str, data: bytes, digest: str) -> LoadedFile:
    from langchain_community.document_loaders.parsers.pdf import PyPDFParser
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

    if b"%PDF-" not in data[:1024]:
        raise LoadError(
            "corrupt",
            "Not a PDF: the file has no %PDF header.",
            "Check that the file is really a PDF and was fully uploaded.",
        )
    pdf_log = logging.getLogger("pypdf")
    level = pdf_log.level
    pdf_log.setLevel(logging.ERROR)  # pypdf warns at length about every repair it attempts
    try:
        # pypdf tries the empty user password itself, so owner-only protection reads fine.
        parsed = list(PyPDFParser(mode="page").lazy_parse(Blob.from_data(data, path=name)))
    except (FileNotDecryptedError, DependencyError) as exc:
        raise LoadError(
            "encrypted", "The PDF is password-protected.", "Remove the password and upload it again."
        ) from exc
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, RecursionError, OSError, ZeroDivisionError) as exc:  # fmt: skip
        raise LoadError(
            "corrupt",
            f"The PDF cannot be read ({type(exc).__name__}: {str(exc)[:120]}).",
            "Re-export the PDF or upload its text instead.",
        ) from exc
    finally:
        pdf_log.setLevel(level)
    total_pages = len(parsed)

    documents = []
    for doc in parsed:
        text = _tidy(doc.page_content)
        if not text:
            continue
        page = int(doc.metadata.get("page", 0)) + 1
        documents.append(Document(page_content=text, metadata=_meta(name, "pdf", digest, page=page)))
    if not documents:
        raise LoadError(
            "no_text",
            f"The PDF has {total_pages} page(s) but no extractable text (scanned images?).",
            "OCR is not supported: upload a PDF with a text layer, or its text.",
        )
    return LoadedFile(name, "pdf", digest, documents, pages=total_pages)


def load_bytes(name: str, data: bytes, *, kind: str | None = None) -> LoadedFile:
    """Load one file's bytes into documents (see the module contract)."""
    if kind is None:
        kind = kind_for(name)
        if kind is None:
            supported = ", ".join(sorted(SUFFIX_KINDS))
            raise LoadError(
                "unsupported",
                f"Unsupported file type {PurePath(name).suffix or '(no suffix)'!r}.",
                f"Supported: {supported}.",
            )
    elif kind not in KINDS:
        raise LoadError("unsupported", f"Unknown document kind {kind!r}.", f"Use one of {', '.join(KINDS)}.")
    if not data:
        raise LoadError("empty", "The file is empty (0 bytes).", "Nothing to index.")
    digest = content_hash(data)
    if kind == "pdf":
        return _load_pdf(name, data, digest)
    if kind == "html":
        return _load_html(name, data, digest)
    return _load_text(name, kind, data, digest)
