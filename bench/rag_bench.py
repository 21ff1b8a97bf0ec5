"""RAG quality and speed in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rag_bench.py [--chunks 10000] [--queries 200]
                                                        [--with-llm ALIAS [--k 3] [--max-new-tokens 64]]
                                                        [--json OUT.json]

Measures, with the default embeddings (offline all-MiniLM-L6-v2) and chunking:

1. retrieval recall@5 (plus recall@1 and MRR) over rag/samples/questions.jsonl;
2. ingestion throughput in chunks/s through the whole pipeline (load, split,
   embed, store) on a synthetic corpus of ``--chunks`` chunks;
3. query latency (question embedding + Chroma search) p50/p95 on that corpus;
4. with ``--with-llm ALIAS``: every question answered twice by that model with
   the same greedy parameters, once alone (``rag.prompt.plain_messages``) and
   once with retrieval (``rag.answer.answer``, the page's and the CLI's prompt);
   answer accuracy (all expected keywords in the answer) of both, their
   difference, citation accuracy (the grounded answer cites the file holding
   the answer), per-question results and every miss in full; skipped with a
   message if the engine cannot be imported. ``--chunks 0`` skips 2-3.

Stores go to a temporary directory (or to the Chroma server named by
CHROMA_HOST/CHROMA_PORT, in collections that are deleted afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.demo import (  # noqa: E402
    DEMO_COLLECTION,
    DemoQuestion,
    ingest_samples,
    keywords_found,
    load_questions,
    sample_files,
)
from rag.answer import DEFAULT_BUDGET_TOKENS  # noqa: E402
from rag.ingest import ingest_uploads  # noqa: E402
from rag.loaders import load_bytes  # noqa: E402
from rag.options import (  # noqa: E402
    ANSWER_K,
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    IngestOptions,
    RetrievalOptions,
)
from rag.prompt import plain_messages  # noqa: E402
from rag.retrieval import Retriever  # noqa: E402
from rag.store import RagStore, StoreConfig  # noqa: E402

BENCH_COLLECTION = "rag-bench-synthetic"


def _vocabulary() -> list[str]:
    """Real words from the demo corpus, so synthetic text tokenizes like English prose."""
    words: list[str] = []
    for path in sample_files():
        text = "\n".join(d.page_content for d in load_bytes(path.name, path.read_bytes()).documents)
        words += re.findall(r"[A-Za-z][A-Za-z'-]+|\d+", text)
    return words


def synthetic_documents(n_chunks: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """Plain-text documents (~20 chunks each) that split into at least ``n_chunks`` default chunks."""
    from rag.options import ChunkingOptions
    from rag.splitting import split_documents

    rng = random.Random(seed)
    vocab = _vocabulary()
    options = ChunkingOptions()
    docs, made = [], 0
    while made < n_chunks:
        paragraphs, size = [], 0
        while size < 20 * (DEFAULT_CHUNK_SIZE - DEFAULT_CHUNK_OVERLAP):
            sentences = [
                " ".join(rng.choice(vocab) for _ in range(rng.randint(8, 22))).capitalize() + "."
                for _ in range(rng.randint(2, 6))
            ]
            paragraphs.append(" ".join(sentences))
            size += len(paragraphs[-1]) + 2
        name = f"synthetic-{len(docs):05d}.txt"
        data = ("\n\n".join(paragraphs) + "\n").encode()
        docs.append((name, data))
        made += len(split_documents(load_bytes(name, data).documents, options))
    return docs


def _load_average() -> float | None:
    """1-minute load average: other processes on a small machine skew every timing here."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _config(tmp: Path) -> StoreConfig:
    return StoreConfig.from_env(persist_dir=None if os.environ.get("CHROMA_HOST") else tmp)


def bench_recall(store: RagStore, k: int = 5) -> dict[str, Any]:
    started = time.perf_counter()
    results = ingest_samples(store)
    ingest_s = time.perf_counter() - started
    retriever = Retriever(store, DEMO_COLLECTION, RetrievalOptions(k=k))
    questions = load_questions()
    ranks: list[int | None] = []
    misses = []
    for q in questions:
        sources = [h.source for h in retriever(q.question)]
        rank = sources.index(q.source) + 1 if q.source in sources else None
        ranks.append(rank)
        if rank is None:
            misses.append(q.id)
    n = len(questions)
    return {
        "questions": n,
        "documents": len(results),
        "chunks": sum(r.chunks for r in results),
        "ingest_s": round(ingest_s, 2),
        f"recall@{k}": round(sum(r is not None for r in ranks) / n, 4),
        "recall@1": round(sum(r == 1 for r in ranks) / n, 4),
        f"recall@{ANSWER_K}": round(sum(r is not None and r <= ANSWER_K for r in ranks) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
        "misses": misses,
    }


def bench_ingest_and_query(store: RagStore, n_chunks: int, n_queries: int) -> dict[str, Any]:
    docs = synthetic_documents(n_chunks)
    embeddings, _ = store.embeddings_for(None)
    embeddings.embed_documents(["warm-up"] * 8)  # model load is not ingestion
    # Ingest in ~10 segments and time each: on a shared machine another process
    # can halve the speed for a while; the best segment shows what the pipeline
    # does when it has the CPU, the overall figure what it did this time.
    segments = max(1, min(10, len(docs) // 10))
    size = -(-len(docs) // segments)
    rates, elapsed, chunks = [], 0.0, 0
    for start in range(0, len(docs), size):
        t = time.perf_counter()
        results = ingest_uploads(store, BENCH_COLLECTION, docs[start : start + size], options=IngestOptions())
        seconds = time.perf_counter() - t
        failed = [r for r in results if not r.ok]
        if failed:
            raise SystemExit(f"synthetic ingestion failed: {failed[0].message}")
        made = sum(r.chunks for r in results)
        rates.append(made / seconds)
        elapsed += seconds
        chunks += made
    texts = store.vectorstore(BENCH_COLLECTION).get(include=["documents"], limit=2000)["documents"]

    rng = random.Random(1)
    vocab = _vocabulary()
    questions = [q.question for q in load_questions()]
    questions += [" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 12))) + "?" for _ in range(n_queries)]
    questions = questions[:n_queries]
    retriever = Retriever(store, BENCH_COLLECTION, RetrievalOptions(k=5))
    for q in questions[:5]:
        retriever(q)  # warm-up: first HNSW load, first-call allocations
    latencies = []
    for q in questions:
        t = time.perf_counter()
        retriever(q)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    return {
        "documents": len(docs),
        "chunks": chunks,
        "ingest_s": round(elapsed, 2),
        "chunks_per_s": round(chunks / elapsed, 1),
        "chunks_per_s_best_segment": round(max(rates), 1),
        "chunks_per_s_segments": [round(r) for r in rates],
        "mean_chunk_chars": round(statistics.mean(len(t) for t in texts)),
        "queries": len(latencies),
        "query_ms_p50": round(statistics.median(latencies), 2),
        "query_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
    }


def score_answer(question: DemoQuestion, text: str) -> dict[str, Any]:
    """One answer against one question's keywords: correct means every keyword entry is present."""
    matched, total = keywords_found(text, question.keywords)
    return {"answer": text, "correct": matched == total, "keywords_matched": f"{matched}/{total}"}


def summarise_llm(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracies without and with RAG over the same questions, their difference, citation accuracy,
    and which questions retrieval fixed, broke, or left wrong."""
    n = len(rows)
    if n == 0:
        raise ValueError("no answers to summarise")
    plain = sum(r["without_rag"]["correct"] for r in rows)
    rag = sum(r["with_rag"]["correct"] for r in rows)
    cited = sum(r["with_rag"]["cites_source"] for r in rows)
    return {
        "questions": n,
        "accuracy_without_rag": round(plain / n, 4),
        "accuracy_with_rag": round(rag / n, 4),
        "difference": round((rag - plain) / n, 4),
        "citation_accuracy": round(cited / n, 4),
        "fixed_by_rag": [r["id"] for r in rows if r["with_rag"]["correct"] and not r["without_rag"]["correct"]],
        "broken_by_rag": [r["id"] for r in rows if r["without_rag"]["correct"] and not r["with_rag"]["correct"]],
        "wrong_both": [r["id"] for r in rows if not r["with_rag"]["correct"] and not r["without_rag"]["correct"]],
    }


def _mark(side: dict[str, Any]) -> str:
    return "OK" if side["correct"] else "NO"


def bench_llm(
    store: RagStore,
    alias: str,
    *,
    limit: int | None,
    k: int,
    budget: int,
    max_new_tokens: int,
    system_prompt: str | None,
) -> dict[str, Any]:
    """Answer every demo question twice with one model and one set of parameters (greedy, no
    repetition penalty, as on the RAG page): the question alone, then the grounded prompt."""
    try:
        from core.engine import GenerationParams, complete
        from core.loading import load
    except ImportError as exc:
        return {"skipped": f"the generation engine cannot be imported ({exc})"}
    from rag.answer import answer

    started = time.perf_counter()
    loaded = load(alias, quant="auto", device="auto")
    load_s = time.perf_counter() - started
    params = GenerationParams(temperature=0.0, max_new_tokens=max_new_tokens, repetition_penalty=1.0)
    budget = min(budget, loaded.context_length - max_new_tokens - 64)

    def count_tokens(text: str) -> int:
        return len(loaded.tokenizer.encode(text, add_special_tokens=False))

    def generate(messages: list[dict[str, str]]) -> str:
        return complete(loaded, messages, params).text

    retriever = Retriever(store, DEMO_COLLECTION, RetrievalOptions(k=k))
    questions = load_questions()[:limit] if limit else load_questions()
    rows, seconds = [], {"without_rag": [], "with_rag": []}
    for q in questions:
        t = time.perf_counter()
        plain = score_answer(q, generate(plain_messages(q.question, system_prompt)))
        seconds["without_rag"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = answer(q.question, retriever, generate, count_tokens=count_tokens, budget_tokens=budget,
                        system_prompt=system_prompt)  # fmt: skip
        seconds["with_rag"].append(time.perf_counter() - t)
        grounded = {**score_answer(q, result.text), "cites_source": q.source in {h.source for h in result.cited_hits},
                    "sources": [h.source for h in result.used_hits]}  # fmt: skip
        rows.append({"id": q.id, "question": q.question, "keywords": list(q.keywords), "source": q.source,
                     "without_rag": plain, "with_rag": grounded})  # fmt: skip
        print(f"  {q.id} without {_mark(plain)}  with {_mark(grounded)} {'cited' if grounded['cites_source'] else '-    '}"
              f"  {result.text[:90]!r}", flush=True)  # fmt: skip
    return {
        "model": alias,
        "device": getattr(loaded, "device", "?"),
        "load_s": round(load_s, 1),
        "settings": {"k": k, "budget_tokens": budget, "max_new_tokens": max_new_tokens, "temperature": 0.0,
                     "repetition_penalty": 1.0, "system_prompt": system_prompt},  # fmt: skip
        **summarise_llm(rows),
        "answer_s_mean_without_rag": round(statistics.mean(seconds["without_rag"]), 2),
        "answer_s_mean_with_rag": round(statistics.mean(seconds["with_rag"]), 2),
        "answers": rows,
    }


def print_llm_failures(llm: dict[str, Any]) -> None:
    """Every answer that missed a keyword, in full, with what was expected."""
    for row in llm["answers"]:
        for side in ("without_rag", "with_rag"):
            if not row[side]["correct"]:
                print(f"  {row['id']} {side} ({row[side]['keywords_matched']} of {row['keywords']}): "
                      f"{row[side]['answer']!r}")  # fmt: skip


def print_summary(report: dict[str, Any]) -> None:
    """The result table: every measured figure against its target."""
    recall = report["recall"]
    print("\nresult                          value      target")
    print(f"retrieval recall@5              {recall['recall@5']:<10} >= 0.95")
    print(f"retrieval recall@1 / MRR        {recall['recall@1']} / {recall['mrr']}")
    if f"recall@{ANSWER_K}" in recall:
        print(f"retrieval recall@{ANSWER_K} (answer k)   {recall[f'recall@{ANSWER_K}']}")
    if "speed" in report:
        speed = report["speed"]
        print(f"ingestion chunks/s              {speed['chunks_per_s']:<10} >= 200   (best segment "
              f"{speed['chunks_per_s_best_segment']}, mean chunk {speed['mean_chunk_chars']} chars)")  # fmt: skip
        print(f"query latency p50 (ms, {speed['chunks']} chunks) {speed['query_ms_p50']:<6} <= 30   "
              f"(p95 {speed['query_ms_p95']})")  # fmt: skip
    if "llm" in report:
        llm = report["llm"]
        if "skipped" in llm:
            print(f"answer accuracy                 skipped: {llm['skipped']}")
            return
        print(f"answer accuracy without RAG     {llm['accuracy_without_rag']:<10} ({llm['model']}, {llm['questions']} questions)")
        print(f"answer accuracy with RAG        {llm['accuracy_with_rag']:<10} >= 0.8")
        print(f"difference (with - without)     {llm['difference']:+.4f}   citation accuracy {llm['citation_accuracy']}")
        print(f"fixed by RAG {llm['fixed_by_rag']}; broken by RAG {llm['broken_by_rag']}; wrong both {llm['wrong_both']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000,
                        help="synthetic collection size (default 10000; 0 skips the speed part)")  # fmt: skip
    parser.add_argument("--queries", type=int, default=200, help="timed queries (default 200)")
    parser.add_argument("--with-llm", metavar="ALIAS",
                        help="also answer every question without and with RAG with this model")  # fmt: skip
    parser.add_argument("--llm-questions", type=int, help="answer only the first N questions")
    parser.add_argument("--k", type=int, default=ANSWER_K, help=f"chunks retrieved for --with-llm (default {ANSWER_K})")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET_TOKENS, help="prompt token budget for --with-llm")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="reply length of both answers (default 64)")
    parser.add_argument("--system", help="a system prompt for both answers (the grounding rules follow it with RAG)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    import torch

    from rag.embeddings import resolve_device_dtype

    device, dtype = resolve_device_dtype()
    report: dict[str, Any] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "embedding": f"all-MiniLM-L6-v2 on {device} ({dtype})",
            "load_average_at_start": _load_average(),
        },
        "settings": {"chunk_size": DEFAULT_CHUNK_SIZE, "chunk_overlap": DEFAULT_CHUNK_OVERLAP},
    }
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        store = RagStore(_config(Path(tmp) / "chroma"))
        report["store"] = store.config.describe()
        try:
            print("1. recall on the demo questions ...", flush=True)
            report["recall"] = bench_recall(store)
            print(f"   {report['recall']}", flush=True)
            if args.chunks > 0:
                print(f"2-3. ingesting ~{args.chunks} synthetic chunks, then {args.queries} timed queries ...", flush=True)
                report["speed"] = bench_ingest_and_query(store, args.chunks, args.queries)
                print(f"   {report['speed']}", flush=True)
            if args.with_llm:
                print(f"4. every question without and with RAG, {args.with_llm} ...", flush=True)
                report["llm"] = bench_llm(store, args.with_llm, limit=args.llm_questions, k=args.k, budget=args.budget,
                                          max_new_tokens=args.max_new_tokens, system_prompt=args.system)  # fmt: skip
                if "skipped" not in report["llm"]:
                    print("   answers that missed a keyword:", flush=True)
                    print_llm_failures(report["llm"])
        finally:
            if store.config.mode == "server":
                for name in (DEMO_COLLECTION, BENCH_COLLECTION):
                    if name in store.collection_names():
                        store.delete_collection(name)

    report["machine"]["load_average_at_end"] = _load_average()
    print_summary(report)
    machine = report["machine"]
    print(f"({machine['embedding']}; {machine['cpu_count']} CPUs; load average "
          f"{machine['load_average_at_start']} at start, {machine['load_average_at_end']} at end)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
