"""CPU engines on the same offline GGUF and prompt, in one run: which path decodes fastest, and at what cost.

    python -m bench.cpu_engines [--new-tokens N] [--runs R] [--threads T] [--paths a,b,...] [--json]

Paths (each decodes exactly N tokens greedily from the same prompt):
- ``transformers``: the playground's transformers engine (the GGUF dequantized to fp32), EOS ignored;
- ``llama_engine``: the playground's in-process llama.cpp engine (core/llama_engine.py), EOS ignored;
- ``remote_engine``: a llama.cpp server (``python -m llama_cpp.server``, started here on a free port)
  through the playground's remote engine (core/remote.py);
- ``bare_client``: a bare streaming HTTP client (httpx, no playground code) sending the remote
  engine's own request body to the same server;
- ``bare_llama``: ``llama_cpp.Llama.generate`` used directly, no playground code, EOS ignored.

The server cannot be told to ignore EOS (llama-cpp-python's server has no ``ignore_eos``), so the
prompt asks for a long list ("count from 1 to 1000"), which the model does not end early; the
tokens each path produced are printed, so a short run would show.

Every run of every path uses a prompt of its own (a number opens the system prompt), so no path
reuses a cached prefill (the server keeps its last prompt's KV). Tokens/s is (tokens - 1) / (time from the first token to the last), TTFT the time from the
request to the first token, as the engines' own metrics define them; each figure is the median of
R runs after one warm-up, the paths interleaved run by run. The ratios are measured in the same
run: best playground CPU path / bare llama.cpp (target >= 0.95) and remote engine / bare client
(target >= 0.97). The machine may be shared: rely on the ratios more than the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PATHS = ("transformers", "llama_engine", "remote_engine", "bare_client", "bare_llama")
PLAYGROUND_PATHS = ("transformers", "llama_engine", "remote_engine")
TARGETS = {"best_playground_vs_bare_llama": 0.95, "remote_engine_vs_bare_client": 0.97}
ALIAS = "qwen2.5-coder-0.5b-offline"
SERVED_NAME = "bench-gguf"
PROMPT = "Count from 1 to 1000, one number per line, with no other text."
N_CTX = 2048


def messages(run: int) -> list[dict[str, str]]:
    """The prompt of run ``run``: fresh at its start, so no path can reuse a cached prefill."""
    return [{"role": "system", "content": f"Run {run}. You are a helpful assistant."}, {"role": "user", "content": PROMPT}]


# --- arithmetic ------------------------------------------------------------------------------------


def tokens_per_s(tokens: int, first_s: float | None, last_s: float | None) -> float | None:
    """(tokens - 1) / (last - first): the decode rate after the first token, as the engines report it."""
    if tokens < 2 or first_s is None or last_s is None or last_s <= first_s:
        return None
    return (tokens - 1) / (last_s - first_s)


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of one path; ``samples`` hold tokens, ttft_s and tokens_per_s per run."""
    rates = [s["tokens_per_s"] for s in samples if s["tokens_per_s"] is not None]
    ttfts = [s["ttft_s"] for s in samples if s["ttft_s"] is not None]
    return {
        "tokens_per_s": statistics.median(rates) if rates else None,
        "tokens_per_s_range": [min(rates), max(rates)] if rates else None,
        "ttft_s": statistics.median(ttfts) if ttfts else None,
        "completion_tokens": [s["tokens"] for s in samples],
    }


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The two ratios of the issue, from the per-path medians (None where a path is missing)."""

    def rate(path: str) -> float | None:
        return summary.get(path, {}).get("tokens_per_s")

    playground = {p: rate(p) for p in PLAYGROUND_PATHS if rate(p) is not None}
    best = max(playground, key=lambda p: playground[p]) if playground else None
    bare, remote, client = rate("bare_llama"), rate("remote_engine"), rate("bare_client")
    return {
        "best_playground_path": best,
        "best_playground_vs_bare_llama": playground[best] / bare if best and bare else None,
        "remote_engine_vs_bare_client": remote / client if remote and client else None,
    }


# --- the paths -------------------------------------------------------------------------------------

Sample = dict[str, Any]


def _engine_path(loaded: Any, new_tokens: int) -> Callable[[int], Sample]:
    from core.engine import stream_chat
    from core.params import GenerationParams

    params = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=new_tokens)

    def run(index: int) -> Sample:
        stream = stream_chat(loaded, messages(index), params, ignore_eos=True, prefix_cache=False)
        for _ in stream:
            pass
        m = stream.reply.metrics
        return {"tokens": m.completion_tokens, "ttft_s": m.ttft_s, "tokens_per_s": m.decode_tokens_per_s}

    return run


def _bare_llama_path(gguf: Path, prompt_ids: Callable[[int], list[int]], new_tokens: int, threads: int) -> Callable[[int], Sample]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads, verbose=False)

    def run(index: int) -> Sample:
        ids = prompt_ids(index)
        llm.reset()
        started = time.perf_counter()
        first = last = None
        count = 0
        for token in llm.generate(ids, temp=0.0, repeat_penalty=1.0):
            llm.detokenize([token])  # a streaming client turns every token into text
            last = time.perf_counter()
            first = first or last
            count += 1
            if count >= new_tokens:
                break
        return {"tokens": count, "ttft_s": None if first is None else first - started,
                "tokens_per_s": tokens_per_s(count, first, last)}  # fmt: skip

    return run


def _bare_client_path(base_url: str, body_for: Callable[[int], dict[str, Any]]) -> Callable[[int], Sample]:
    import httpx

    client = httpx.Client(timeout=httpx.Timeout(120.0, connect=5.0))

    def run(index: int) -> Sample:
        body = {**body_for(index), "stream": True}
        started = time.perf_counter()
        first = last = None
        count = 0
        with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                choices = json.loads(line[5:]).get("choices") or [{}]
                if (choices[0].get("delta") or {}).get("content"):
                    last = time.perf_counter()
                    first = first or last
                    count += 1
        return {"tokens": count, "ttft_s": None if first is None else first - started,
                "tokens_per_s": tokens_per_s(count, first, last)}  # fmt: skip

    return run


class Server:
    """``python -m llama_cpp.server`` on the GGUF, on a free local port, stopped on exit."""

    def __init__(self, gguf: Path, threads: int) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._log = tempfile.NamedTemporaryFile(prefix="bench-llama-server-", suffix=".log", delete=False)
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", SERVED_NAME,
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", str(threads),
                   "--n_threads_batch", str(threads), "--n_ctx", str(N_CTX), "--verbose", "false"]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {Path(self._log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"llama.cpp server not ready after {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        Path(self._log.name).unlink(missing_ok=True)


# --- the benchmark ---------------------------------------------------------------------------------


def run_benchmark(new_tokens: int, runs: int, threads: int, paths: Sequence[str]) -> dict[str, Any]:
    """Set up every requested path, warm each up once, then time them interleaved run by run."""
    from core.context import render_prompt
    from core.fetch import bundle_path
    from core.loading import load
    from core.registry import get_spec

    bundle = get_spec(ALIAS).gguf
    assert bundle is not None
    gguf = bundle_path(bundle)
    os.environ["PLAYGROUND_LLAMA_THREADS"] = str(threads)
    runners: dict[str, Callable[[int], Sample]] = {}
    cleanup: list[Callable[[], None]] = []
    tokenizer: Any = None
    try:
        if "transformers" in paths:
            loaded = load(ALIAS, "fp32", "cpu")
            tokenizer = loaded.tokenizer
            runners["transformers"] = _engine_path(loaded, new_tokens)
            cleanup.append(loaded.unload)
        if "llama_engine" in paths:
            loaded = load(ALIAS, "gguf", "cpu")
            tokenizer = loaded.tokenizer
            runners["llama_engine"] = _engine_path(loaded, new_tokens)
            cleanup.append(loaded.unload)
        if tokenizer is None:
            from core.loading import Source, _load_tokenizer

            tokenizer = _load_tokenizer(Source(str(gguf.parent), gguf_file=gguf.name))

        def prompt_ids(index: int) -> list[int]:
            return tokenizer(render_prompt(tokenizer, messages(index)), add_special_tokens=False)["input_ids"]

        if "remote_engine" in paths or "bare_client" in paths:
            server = Server(gguf, threads)
            cleanup.append(server.stop)
            server.wait_ready()
            remote = _connect(server.base_url, gguf)
            cleanup.append(remote.unload)
            from core.params import GenerationParams

            params = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=new_tokens)
            if "remote_engine" in paths:
                runners["remote_engine"] = _engine_path(remote, new_tokens)
            if "bare_client" in paths:
                from core.engine import stream_chat

                def body_for(index: int) -> dict[str, Any]:  # the very request the remote engine sends
                    return dict(stream_chat(remote, messages(index), params).body)

                runners["bare_client"] = _bare_client_path(server.base_url, body_for)
        if "bare_llama" in paths:
            runners["bare_llama"] = _bare_llama_path(gguf, prompt_ids, new_tokens, threads)
        ordered = [p for p in PATHS if p in runners]
        for position, path in enumerate(ordered):
            runners[path](-1 - position)  # warm-up
        samples: dict[str, list[Sample]] = {p: [] for p in ordered}
        for run in range(runs):
            for position, path in enumerate(ordered):  # a prompt of its own for every path and run
                samples[path].append(runners[path](run * len(PATHS) + position))
                rate = samples[path][-1]["tokens_per_s"]
                print(f"run {run + 1}/{runs} {path}: {_fmt(rate, '{:.1f}')} tokens/s", file=sys.stderr, flush=True)
    finally:
        for step in reversed(cleanup):
            step()
    summary = {path: summarize(s) for path, s in samples.items()}
    return {
        "model": ALIAS,
        "gguf": gguf.name,
        "new_tokens": new_tokens,
        "runs": runs,
        "threads": threads,
        "paths": summary,
        "ratios": ratios(summary),
        "targets": TARGETS,
    }


def _connect(base_url: str, gguf: Path) -> Any:
    from core.endpoints import Endpoint
    from core.remote import connect

    tokenizer_dir = gguf.parent / f"{gguf.name}.tokenizer"
    endpoint = Endpoint(name="bench", base_url=base_url, model=SERVED_NAME, context_length=N_CTX, family="qwen2.5",
                        tokenizer=str(tokenizer_dir) if tokenizer_dir.is_dir() else None)  # fmt: skip
    return connect(endpoint)


def _fmt(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def render(result: dict[str, Any]) -> str:
    lines = [f"{result['model']} ({result['gguf']}), {result['new_tokens']} new tokens, median of {result['runs']} "
             f"run(s), {result['threads']} thread(s)", f"{'path':16}{'tokens/s':>10}{'range':>16}{'TTFT s':>9}  tokens"]  # fmt: skip
    for path, row in result["paths"].items():
        span = row["tokens_per_s_range"]
        span_text = f"{span[0]:.1f}..{span[1]:.1f}" if span else "n/a"
        lines.append(f"{path:16}{_fmt(row['tokens_per_s'], '{:.1f}'):>10}{span_text:>16}"
                     f"{_fmt(row['ttft_s'], '{:.3f}'):>9}  {row['completion_tokens']}")  # fmt: skip
    r, t = result["ratios"], result["targets"]
    lines.append(f"best playground path ({r['best_playground_path']}) / bare llama.cpp: "
                 f"{_fmt(r['best_playground_vs_bare_llama'], '{:.3f}')} (target >= {t['best_playground_vs_bare_llama']})")
    lines.append(f"remote engine / bare client: {_fmt(r['remote_engine_vs_bare_client'], '{:.3f}')} "
                 f"(target >= {t['remote_engine_vs_bare_client']})")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from core.llama_engine import available, default_threads

    parser = argparse.ArgumentParser(prog="python -m bench.cpu_engines", description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (default: the physical cores)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(paths) - set(PATHS))
    if unknown or args.new_tokens < 2 or args.runs < 1:
        print(f"bad arguments: unknown paths {unknown}" if unknown else "need --new-tokens >= 2 and --runs >= 1",
              file=sys.stderr)  # fmt: skip
        return 2
    if not available() and set(paths) - {"transformers"}:
        print("llama-cpp-python is not installed: run `make llama` (or --paths transformers)", file=sys.stderr)
        return 2
    result = run_benchmark(args.new_tokens, args.runs, args.threads or default_threads(), paths)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
