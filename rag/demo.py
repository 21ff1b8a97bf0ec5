"""The bundled demo: a small corpus about events a 2024 model cannot know, and questions about it.

Contract:
- :data:`SAMPLES_DIR` holds the documents (.md, .txt, .html, .pdf) and
  ``questions.jsonl``; :func:`sample_files` lists the documents.
- :func:`load_questions` returns :class:`DemoQuestion` objects: the question,
  the keywords a correct answer contains (each entry lists alternatives
  separated by ``|``; every entry must match) and the file holding the answer.
- :func:`ingest_samples` loads the corpus into a collection (default ``rag-demo``).
- :func:`keywords_found` scores an answer against a question's keywords: each
  alternative must appear as a whole term (case, diacritics, dash style and
  thousands separators ignored; see :func:`keyword_present`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.ingest import FileResult, ProgressCallback, ingest_paths
from rag.loaders import SUFFIX_KINDS
from rag.options import IngestOptions
from rag.store import RagStore

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
QUESTIONS_FILE = SAMPLES_DIR / "questions.jsonl"
DEMO_COLLECTION = "rag-demo"


@dataclass(frozen=True)
class DemoQuestion:
    id: str
    question: str
    keywords: tuple[str, ...]
    source: str


def sample_files() -> list[Path]:
    """The demo documents, sorted by name."""
    return sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix.lower() in SUFFIX_KINDS)


def load_questions(path: Path = QUESTIONS_FILE) -> list[DemoQuestion]:
    """Parse a questions file (JSON lines with id, question, keywords, source)."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            questions.append(DemoQuestion(row["id"], row["question"], tuple(row["keywords"]), row["source"]))
        except KeyError as exc:
            raise ValueError(f"{path.name} line {number}: missing field {exc}") from exc
    return questions


_UNIFY = str.maketrans({
    **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-"),  # hyphens, dashes, minus
    **dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u202f"), " "),  # no-break and thin spaces
    **dict.fromkeys(map(ord, "\u2018\u2019"), "'"),
    **dict.fromkeys(map(ord, "\u201c\u201d"), '"'),
})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # "1,000,000" -> "1000000"
_LETTER = r"[^\W\d_]"


def normalise_for_match(text: str) -> str:
    """Lower case without diacritics, ASCII dashes/quotes/spaces, no thousands separators, single spaces.

    Canonical decomposition (NFD) only, so ``10²⁵`` stays distinct from ``1025``.
    """
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    text = _THOUSANDS.sub("", text.translate(_UNIFY).lower())
    return re.sub(r"\s+", " ", text)


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """``keyword`` as a whole term: a letter edge may not touch another letter (a plural "s" is
    allowed), a digit edge may not touch another digit or a decimal part, so "US" is not found in
    "focus", "MIT" not in "submitted" and "17" not in "2017" or "17.5"."""
    body = re.escape(keyword)
    if re.match(_LETTER, keyword[0]):
        body = rf"(?<!{_LETTER}){body}"
    elif keyword[0].isdigit():
        body = rf"(?<!\d)(?<!\d[.,]){body}"
    if re.match(_LETTER, keyword[-1]):
        body = rf"{body}s?(?!{_LETTER})"
    elif keyword[-1].isdigit():
        body = rf"{body}(?![.,]?\d)"
    return re.compile(body)


def keyword_present(answer: str, entry: str) -> bool:
    """Whether one keyword entry (alternatives separated by ``|``) is in ``answer`` as a whole term,
    both sides normalised by :func:`normalise_for_match`."""
    text = normalise_for_match(answer)
    alternatives = (normalise_for_match(alt).strip() for alt in entry.split("|"))
    return any(_keyword_pattern(alt).search(text) for alt in alternatives if alt)


def keywords_found(answer: str, keywords: tuple[str, ...] | list[str]) -> tuple[int, int]:
    """``(matched, total)``: how many keyword entries :func:`keyword_present` finds in ``answer``."""
    return sum(keyword_present(answer, entry) for entry in keywords), len(keywords)


def ingest_samples(
    store: RagStore,
    collection: str = DEMO_COLLECTION,
    *,
    options: IngestOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[FileResult]:
    """Ingest the demo corpus (re-running it is cheap: unchanged files are skipped)."""
    return ingest_paths(store, collection, sample_files(), options=options, on_progress=on_progress)
