"""The bundled demo: a small corpus about events a 2024 model cannot know, and questions about it.

Contract:
- :data:`SAMPLES_DIR` holds the documents (.md, .txt, .html, .pdf) and
  ``questions.jsonl``; :func:`sample_files` lists the documents.
- :func:`load_questions` returns :class:`DemoQuestion` objects: the question,
  the keywords a correct answer contains (each entry lists alternatives
  separated by ``|``; every entry must match) and the file holding the answer.
- :func:`ingest_samples` loads the corpus into a collection (default ``rag-demo``).
- :func:`keywords_found` scores an answer against a question's keywords.
"""

from __future__ import annotations

import json
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


def keywords_found(answer: str, keywords: tuple[str, ...] | list[str]) -> tuple[int, int]:
    """``(matched, total)``: how many keyword entries have an alternative in ``answer`` (case-insensitive)."""
    text = answer.lower()
    matched = sum(any(alt.strip().lower() in text for alt in entry.split("|")) for entry in keywords)
    return matched, len(keywords)


def ingest_samples(
    store: RagStore,
    collection: str = DEMO_COLLECTION,
    *,
    options: IngestOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[FileResult]:
    """Ingest the demo corpus (re-running it is cheap: unchanged files are skipped)."""
    return ingest_paths(store, collection, sample_files(), options=options, on_progress=on_progress)
