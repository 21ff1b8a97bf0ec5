"""bench/rag_bench.py stays runnable: a tiny run end to end, a clean skip without the engine, and the
without-RAG / with-RAG accuracy arithmetic."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "rag_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("rag_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_synthetic_documents_split_into_about_the_requested_chunks(bench) -> None:
    from rag.loaders import load_bytes
    from rag.options import ChunkingOptions
    from rag.splitting import split_documents

    docs = bench.synthetic_documents(100)
    chunks = sum(len(split_documents(load_bytes(n, b).documents, ChunkingOptions())) for n, b in docs)
    assert 100 <= chunks <= 150  # documents come in ~20-chunk units
    assert docs == bench.synthetic_documents(100)  # seeded: every run measures the same corpus


def test_tiny_run_reports_every_metric(bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A miniature run (40 chunks, 5 queries) goes through all steps and writes the JSON report; the
    LLM step is skipped cleanly when the engine cannot be imported."""
    monkeypatch.setitem(sys.modules, "core.engine", None)  # makes `import core.engine` raise ImportError
    out = tmp_path / "report.json"
    assert bench.main(["--chunks", "40", "--queries", "5", "--with-llm", "any-model", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["recall"]["questions"] >= 25 and 0.0 <= report["recall"]["recall@5"] <= 1.0
    assert report["speed"]["chunks"] >= 40 and report["speed"]["chunks_per_s"] > 0 and report["speed"]["queries"] == 5
    assert report["speed"]["query_ms_p50"] > 0
    assert "cannot be imported" in report["llm"]["skipped"]
    printed = capsys.readouterr().out
    assert "retrieval recall@5" in printed and "answer accuracy                 skipped" in printed


def _row(qid: str, plain: bool, rag: bool, cites: bool) -> dict:
    return {"id": qid, "without_rag": {"correct": plain}, "with_rag": {"correct": rag, "cites_source": cites}}


def test_summary_compares_both_answers_of_every_question(bench) -> None:
    """Four questions, one of each kind: RAG fixes q1, breaks q2, both right on q3, both wrong on q4.
    So 2 of 4 are right each way (difference 0), 3 of 4 cite their file, and each id is in its list."""
    rows = [_row("q1", False, True, True), _row("q2", True, False, True), _row("q3", True, True, True),
            _row("q4", False, False, False)]  # fmt: skip
    summary = bench.summarise_llm(rows)
    assert summary["questions"] == 4
    assert summary["accuracy_without_rag"] == 0.5 and summary["accuracy_with_rag"] == 0.5
    assert summary["difference"] == 0.0 and summary["citation_accuracy"] == 0.75
    assert summary["fixed_by_rag"] == ["q1"] and summary["broken_by_rag"] == ["q2"] and summary["wrong_both"] == ["q4"]


def test_difference_is_with_minus_without(bench) -> None:
    """Two of three right with RAG, none without: the difference is +2/3, rounded to 4 places."""
    rows = [_row("a", False, True, True), _row("b", False, True, False), _row("c", False, False, False)]
    summary = bench.summarise_llm(rows)
    assert summary["accuracy_without_rag"] == 0.0 and summary["accuracy_with_rag"] == 0.6667
    assert summary["difference"] == 0.6667 and summary["fixed_by_rag"] == ["a", "b"]
    with pytest.raises(ValueError):
        bench.summarise_llm([])


def test_score_answer_needs_every_keyword_entry(bench) -> None:
    """q26 expects both laureates: naming one is wrong, naming both (any case) is right."""
    from rag.demo import load_questions

    q26 = next(q for q in load_questions() if q.id == "q26")
    assert bench.score_answer(q26, "John Hopfield won it.")["correct"] is False
    assert bench.score_answer(q26, "John Hopfield won it.")["keywords_matched"] == "1/2"
    assert bench.score_answer(q26, "HOPFIELD and hinton [1].")["correct"] is True


def test_summary_table_prints_both_accuracies_and_the_difference(bench, capsys) -> None:
    """The printed table shows the without-RAG and with-RAG accuracy and their signed difference, from
    one report, so both figures always come from the same run."""
    rows = [_row("q1", False, True, True), _row("q2", False, True, True)]
    report = {"recall": {"recall@5": 1.0, "recall@1": 1.0, "mrr": 1.0},
              "llm": {"model": "m", **bench.summarise_llm(rows)}}  # fmt: skip
    bench.print_summary(report)
    out = capsys.readouterr().out
    assert "answer accuracy without RAG     0.0" in out and "answer accuracy with RAG        1.0" in out
    assert "difference (with - without)     +1.0000" in out and "fixed by RAG ['q1', 'q2']" in out
    assert "ingestion" not in out  # no speed part in this report, so no speed line
