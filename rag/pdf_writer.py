"""Write small text-only PDFs with pypdf (no extra dependency).

Used to build the bundled sample PDF and test fixtures. Contract of
:func:`text_pdf`: one page per string in ``pages``, Helvetica 11 pt, lines
wrapped at ``width`` characters, text limited to the WinAnsi (cp1252)
repertoire (other characters become "?"); pypdf reads the text back.
"""

from __future__ import annotations

import io
import textwrap

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US letter, points
_LEADING = 14
_MAX_LINES = (PAGE_HEIGHT - 2 * 72) // _LEADING


def _escape(line: str) -> str:
    line = line.encode("cp1252", errors="replace").decode("cp1252")
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(text: str, width: int) -> bytes:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, width) or [""])
    if len(lines) > _MAX_LINES:
        raise ValueError(f"Page text needs {len(lines)} lines; at most {_MAX_LINES} fit on a page.")
    ops = ["BT", "/F1 11 Tf", f"{_LEADING} TL", f"72 {PAGE_HEIGHT - 72} Td"]
    ops += [f"({_escape(line)}) Tj T*" for line in lines]
    ops.append("ET")
    return "\n".join(ops).encode("cp1252")


def text_pdf(pages: list[str], *, title: str | None = None, width: int = 90) -> bytes:
    """Return the bytes of a PDF whose pages hold ``pages`` as plain text."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    font_ref = writer._add_object(font)
    for text in pages:
        page = writer.add_blank_page(PAGE_WIDTH, PAGE_HEIGHT)
        stream = DecodedStreamObject()
        stream.set_data(_content(text, width))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
    if title:
        writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
