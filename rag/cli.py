"""Command line: ``python -m rag {ingest,query,ask,collections,documents,delete}``.

Every command takes ``--persist-dir DIR`` (default ``PLAYGROUND_HOME/chroma``;
``CHROMA_HOST``/``CHROMA_PORT`` select a server instead, or ``--host``/``--port``).
Errors print ``error: <message>`` and a hint on stderr and exit 2; ``ingest``
exits 1 when some file failed (the others are still ingested).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from core.errors import PlaygroundError
from rag.errors import RagError
from rag.options import ANSWER_K

DEFAULT_MODEL = "qwen2.5-coder-0.5b-offline"
DEFAULT_ASK_BUDGET = 3000
DEFAULT_MAX_NEW_TOKENS = 384


def _store(args: argparse.Namespace) -> Any:
    from rag.store import RagStore, StoreConfig

    config = StoreConfig.from_env(args.persist_dir, args.host, args.port)
    return RagStore(config, embedding_model=args.embedding_model)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _load_tokenizer(name: str) -> Any:
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    except Exception as exc:
        raise RagError(
            f"Cannot load tokenizer {name!r} ({type(exc).__name__}).",
            "Give a local model directory or a model already in the Hugging Face cache (the hub is offline).",
        ) from exc


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.ingest import ingest_paths
    from rag.options import ChunkingOptions, IngestOptions

    tokenizer = _load_tokenizer(args.tokenizer) if args.tokenizer else None
    options = IngestOptions(
        chunking=ChunkingOptions(args.chunk_size, args.chunk_overlap, tokenizer=tokenizer),
        max_bytes=int(args.max_mb * 1024 * 1024),
    )
    store = _store(args)
    started = time.perf_counter()

    def progress(done: int, total: int, result: Any) -> None:
        if args.json:
            return
        note = f" ({result.note})" if result.note else ""
        print(f"[{done}/{total}] {result.status:<9} {result.name}: {result.message}{note}", flush=True)

    results = ingest_paths(store, args.collection, args.paths, options=options, on_progress=progress)
    elapsed = time.perf_counter() - started
    if args.json:
        _print_json([r.to_dict() for r in results])
    else:
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        new_chunks = sum(r.chunks for r in results if r.status in ("added", "replaced"))
        summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing to do"
        print(f"{len(results)} file(s): {summary}. {new_chunks} new chunks in {elapsed:.1f} s "
              f"into collection {args.collection!r} ({store.config.describe()}).")  # fmt: skip
    return 0 if results and all(r.ok for r in results) else 1


def _retrieval_options(args: argparse.Namespace) -> Any:
    from rag.options import RetrievalOptions

    return RetrievalOptions(
        k=args.k, mmr=args.mmr, fetch_k=max(args.fetch_k, args.k), lambda_mult=args.lambda_mult,
        score_threshold=args.threshold,
    )  # fmt: skip


def cmd_query(args: argparse.Namespace) -> int:
    from rag.retrieval import Retriever

    retriever = Retriever(_store(args), args.collection, _retrieval_options(args))
    hits = retriever(args.question)
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    if not hits:
        print("No matching chunks.")
    for rank, hit in enumerate(hits, start=1):
        snippet = " ".join(hit.text.split())[:160]
        print(f"{rank}. {hit.score:.3f}  {hit.label} #{hit.chunk}\n   {snippet}")
    return 0


def _engine(model: str, quant: str, device: str, max_new_tokens: int, temperature: float) -> tuple[Any, Any, dict]:
    """Load the lead's engine lazily; return (generate, count_tokens, metrics) plus the context length."""
    try:
        from core.engine import GenerationParams, complete
        from core.loading import load
    except ImportError as exc:
        raise RagError(
            f"The generation engine is not available ({exc}).",
            "`python -m rag query` still works: it retrieves without a model.",
        ) from exc
    loaded = load(model, quant=quant, device=device)
    # No repetition penalty (as on the page): it would also penalise the source words and "[n]" a grounded answer copies.
    params = GenerationParams(temperature=temperature, max_new_tokens=max_new_tokens, repetition_penalty=1.0)
    metrics: dict[str, Any] = {}

    def generate(messages: list[dict]) -> str:
        reply = complete(loaded, messages, params)
        m = reply.metrics
        metrics.update(dataclasses.asdict(m) if dataclasses.is_dataclass(m) else dict(m or {}))
        return reply.text

    def count_tokens(text: str) -> int:
        return len(loaded.tokenizer.encode(text, add_special_tokens=False))

    return generate, count_tokens, {"metrics": metrics, "context_length": int(loaded.context_length)}


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answer import answer
    from rag.retrieval import Retriever

    retriever = Retriever(_store(args), args.collection, _retrieval_options(args))
    hits = retriever(args.question)  # retrieve first: no model load when nothing matches
    generate, count_tokens, info = (lambda m: "", len, {"metrics": {}, "context_length": 0})
    if hits:
        generate, count_tokens, info = _engine(args.model, args.quant, args.device, args.max_new_tokens, args.temperature)
    budget = args.budget
    if info["context_length"]:
        budget = min(budget, info["context_length"] - args.max_new_tokens - 64)
    result = answer(
        args.question, lambda _q: hits, generate, count_tokens=count_tokens, budget_tokens=budget,
        system_prompt=args.system,
    )  # fmt: skip
    result.metrics = {**info["metrics"], **result.metrics}
    if args.json:
        _print_json(result.to_dict())
        return 0
    print(result.text.strip())
    if result.used_hits:
        print("\nSources:")
        cited = {c.number for c in result.citations}
        for n, hit in enumerate(result.used_hits, start=1):
            mark = "cited" if n in cited else "not cited"
            print(f"  [{n}] {hit.label} (chunk {hit.chunk}, score {hit.score:.3f}, {mark})")
    if result.invalid_citations:
        print(f"\nwarning: the answer cites source(s) that do not exist: {result.invalid_citations}", file=sys.stderr)
    return 0


def cmd_collections(args: argparse.Namespace) -> int:
    infos = _store(args).list_collections()
    if args.json:
        _print_json([dataclasses.asdict(i) for i in infos])
        return 0
    if not infos:
        print("No collections.")
    for info in infos:
        print(f"{info.name}: {info.documents} document(s), {info.chunks} chunk(s), embeddings {info.embedding_model or '?'}")
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    docs = _store(args).list_documents(args.collection)
    if args.json:
        _print_json([dataclasses.asdict(d) for d in docs])
        return 0
    if not docs:
        print("The collection is empty.")
    for d in docs:
        pages = f", {d.pages} pages" if d.pages else ""
        print(f"{d.source}: {d.chunks} chunk(s){pages}, {d.kind}, sha256 {d.content_hash[:12]}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.source:
        removed = store.delete_document(args.collection, args.source)
        print(f"Deleted {args.source!r} ({removed} chunks) from collection {args.collection!r}.")
    else:
        store.delete_collection(args.collection)
        print(f"Deleted collection {args.collection!r}.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from rag.options import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, DEFAULT_MAX_BYTES

    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("store")
    where.add_argument("--persist-dir", help="embedded Chroma directory (default: PLAYGROUND_HOME/chroma)")
    where.add_argument("--host", help="Chroma server host (default: $CHROMA_HOST; unset = embedded store)")
    where.add_argument("--port", type=int, help="Chroma server port (default: $CHROMA_PORT or 8000)")
    where.add_argument(
        "--embedding-model",
        help="sentence-transformers model name or path, or 'hashing' (default: all-MiniLM-L6-v2, "
        "or whatever the collection was built with)",
    )
    common.add_argument("--json", action="store_true", help="print JSON")

    retrieval = argparse.ArgumentParser(add_help=False)
    group = retrieval.add_argument_group("retrieval")
    group.add_argument("--collection", required=True)
    group.add_argument("--k", type=int, default=ANSWER_K, help=f"chunks to retrieve (default {ANSWER_K})")
    group.add_argument("--mmr", action="store_true", help="re-rank by maximal marginal relevance")
    group.add_argument("--fetch-k", type=int, default=20, help="MMR candidates (default 20)")
    group.add_argument("--lambda-mult", type=float, default=0.5, help="MMR relevance/diversity (default 0.5)")
    group.add_argument("--threshold", type=float, help="drop chunks with cosine similarity below this")

    parser = argparse.ArgumentParser(prog="python -m rag", description="Ask questions about your own documents.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="add files or folders to a collection")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--collection", required=True)
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help=f"default {DEFAULT_CHUNK_SIZE}")
    p.add_argument("--chunk-overlap", type=int, default=DEFAULT_CHUNK_OVERLAP, help=f"default {DEFAULT_CHUNK_OVERLAP}")
    p.add_argument("--tokenizer", help="measure chunks in this Hugging Face tokenizer's tokens instead of characters")
    p.add_argument("--max-mb", type=float, default=DEFAULT_MAX_BYTES / 1024 / 1024, help="per-file size limit (default 20)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("query", parents=[common, retrieval], help="show the chunks that match a question")
    p.add_argument("question")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("ask", parents=[common, retrieval], help="answer a question from a collection with a model")
    p.add_argument("question")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model alias or path (default {DEFAULT_MODEL})")
    p.add_argument("--quant", default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--budget", type=int, default=DEFAULT_ASK_BUDGET, help="prompt token budget for the sources")
    p.add_argument("--system", help="extra system prompt placed before the grounding rules")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("collections", parents=[common], help="list collections with document and chunk counts")
    p.set_defaults(func=cmd_collections)

    p = sub.add_parser("documents", parents=[common], help="list the documents of a collection")
    p.add_argument("--collection", required=True)
    p.set_defaults(func=cmd_documents)

    p = sub.add_parser("delete", parents=[common], help="delete a document (--source) or a whole collection")
    p.add_argument("--collection", required=True)
    p.add_argument("--source", help="document to delete; without it the whole collection is deleted")
    p.set_defaults(func=cmd_delete)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "ask":
        # Hide transformers' "Loading weights" bar when loading the embedding model
        # (read when transformers is first imported, which has not happened yet).
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        if args.persist_dir and args.host:
            raise RagError("Give either --persist-dir or --host, not both.")
        return int(args.func(args))
    except (PlaygroundError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        print(f"error: {message}", file=sys.stderr)
        hint = getattr(exc, "hint", "")
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
