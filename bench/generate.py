"""Generation benchmark: the playground's engine against plain ``model.generate``, in one run.

    python -m bench.generate --model ALIAS_OR_PATH [--quant Q] [--device D] [--prompt-tokens N]
                             [--new-tokens M] [--runs R] [--turns T] [--json]
    python -m bench.generate --gpu-suite [--new-tokens 512]      # random-weight Qwen configs on CUDA
    python -m bench.generate --quick                              # CI smoke run on a tiny model

Both sides decode greedily and ignore end-of-sequence, so every run produces exactly M tokens
from the same prompt. The figures are printed as medians with their spread (min..max) over R
runs after one warm-up, and as ratios engine/baseline measured in the same process: ratios
survive the machine's noise better than absolute numbers.

``--turns T`` measures prefix caching: a T-turn chat where each turn adds a user message of
about N tokens; time to first token is reported per turn with the cache on and off (median of
``--turn-repeats`` replays), with the prompt tokens the cache supplied at each turn.

``--gpu-suite`` builds Qwen2.5-1.5B-Instruct, Qwen2.5-3B-Instruct and Qwen3-4B from the shipped
configs with RANDOM weights (decode speed does not depend on weight values), in bf16, int8 and
nf4, measures the device's copy bandwidth once, and prints decode tokens/s as a fraction of the
memory-bandwidth bound (weight bytes read per token / bandwidth).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.engine import stream_chat
from core.loading import LoadedModel, load
from core.params import GenerationParams

FILLER = (
    "The quick brown fox jumps over the lazy dog while the committee reviews the annual budget, "
    "and the river keeps flowing past the old mill towards the sea. "
)


# --- arithmetic (tested) ---------------------------------------------------------------------------


def bandwidth_bound_tokens_per_s(weight_bytes_per_token: int, bandwidth_bytes_per_s: float) -> float:
    """Upper bound on batch-1 decode speed: every token reads all weights once from memory."""
    if weight_bytes_per_token <= 0 or bandwidth_bytes_per_s <= 0:
        raise ValueError("weights and bandwidth must be positive")
    return bandwidth_bytes_per_s / weight_bytes_per_token


def weight_bytes_read_per_token(model: Any) -> int:
    """Bytes of weights a decode step reads: all parameters and buffers, minus the input embedding
    table when it is not tied to the output head (a lookup reads one row, not the table)."""
    total = sum(t.numel() * t.element_size() for t in model.parameters())
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings()
    tied = head is not None and head.weight.data_ptr() == embed.data_ptr()
    if not tied:
        total -= embed.numel() * embed.element_size()
    return int(total)


@dataclass
class Summary:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(statistics.median(values), min(values), max(values))

    def text(self, digits: int = 2) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}..{self.high:.{digits}f})"


# --- one side of the comparison ---------------------------------------------------------------------


@dataclass
class RunResult:
    ttft_s: float
    decode_tokens_per_s: float
    total_s: float
    new_tokens: int
    peak_memory_bytes: int


class _TimingStreamer:
    """A transformers streamer that only records when tokens arrive (no decoding cost)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # the first call carries the prompt
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def _peak_memory(device: str) -> int:
    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    import psutil

    return int(psutil.Process().memory_info().rss)


def _reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def build_prompt(loaded: LoadedModel, prompt_tokens: int) -> list[dict[str, str]]:
    """A user message whose rendered prompt has about ``prompt_tokens`` tokens."""
    tokenizer = loaded.tokenizer
    empty = tokenizer.apply_chat_template([{"role": "user", "content": ""}], tokenize=False, add_generation_prompt=True)
    header = len(tokenizer(empty, add_special_tokens=False)["input_ids"])
    words = tokenizer(FILLER * (prompt_tokens // 8 + 2), add_special_tokens=False)["input_ids"]
    return [{"role": "user", "content": tokenizer.decode(words[: max(prompt_tokens - header, 1)])}]


def run_engine(loaded: LoadedModel, messages: list[dict], new_tokens: int, prefix_cache: bool = False) -> RunResult:
    """The playground's streaming path, consumed chunk by chunk as the UI does."""
    params = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=new_tokens)
    _reset_peak(loaded.device)
    stream = stream_chat(loaded, messages, params, ignore_eos=True, prefix_cache=prefix_cache)
    for _chunk in stream:
        pass
    m = stream.reply.metrics
    return RunResult(m.ttft_s or 0.0, m.decode_tokens_per_s or 0.0, m.total_s, m.completion_tokens,
                     max(m.peak_memory_bytes, _peak_memory(loaded.device)))  # fmt: skip


def run_baseline(loaded: LoadedModel, messages: list[dict], new_tokens: int) -> RunResult:
    """Plain ``model.generate`` with default settings (greedy), timed by a no-op streamer."""
    tokenizer, model = loaded.tokenizer, loaded.model
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
    streamer = _TimingStreamer()
    _reset_peak(loaded.device)
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, streamer=streamer,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)  # fmt: skip
    if loaded.device == "cuda":
        torch.cuda.synchronize()
    ended = time.perf_counter()
    produced = int(out.shape[1] - ids.shape[1])
    first = streamer.times[0] if streamer.times else ended
    decode = (produced - 1) / (ended - first) if produced > 1 and ended > first else 0.0
    return RunResult(first - started, decode, ended - started, produced, _peak_memory(loaded.device))


def compare(loaded: LoadedModel, prompt_tokens: int, new_tokens: int, runs: int) -> dict[str, Any]:
    """Warm up, then alternate engine and baseline runs on the same prompt."""
    messages = build_prompt(loaded, prompt_tokens)
    run_engine(loaded, messages, min(new_tokens, 8))
    run_baseline(loaded, messages, min(new_tokens, 8))
    engine, baseline = [], []
    for _ in range(runs):
        engine.append(run_engine(loaded, messages, new_tokens))
        baseline.append(run_baseline(loaded, messages, new_tokens))
    result: dict[str, Any] = {"prompt_tokens": len(loaded.tokenizer(loaded.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True), add_special_tokens=False)["input_ids"])}  # fmt: skip
    for name, rows in (("engine", engine), ("baseline", baseline)):
        result[name] = {
            "ttft_s": asdict(Summary.of([r.ttft_s for r in rows])),
            "decode_tokens_per_s": asdict(Summary.of([r.decode_tokens_per_s for r in rows])),
            "total_s": asdict(Summary.of([r.total_s for r in rows])),
            "peak_memory_bytes": max(r.peak_memory_bytes for r in rows),
            "new_tokens": rows[0].new_tokens,
        }
    e, b = result["engine"], result["baseline"]
    result["ratio_decode_tokens_per_s"] = e["decode_tokens_per_s"]["median"] / max(b["decode_tokens_per_s"]["median"], 1e-9)
    result["ratio_ttft"] = e["ttft_s"]["median"] / max(b["ttft_s"]["median"], 1e-9)
    result["streaming_overhead"] = e["total_s"]["median"] / max(b["total_s"]["median"], 1e-9) - 1.0
    result["fast_path"] = loaded.fast_path_note
    return result


def _chat_turns(loaded: LoadedModel, turns: int, user: str, new_tokens: int, use_cache: bool) -> list[dict[str, Any]]:
    """One T-turn chat from an empty prefix cache; per turn: TTFT, prompt size, cached tokens, reply."""
    loaded.prefix_cache.clear()
    messages: list[dict] = [{"role": "system", "content": "You are a helpful assistant."}]
    rows = []
    for k in range(turns):
        messages.append({"role": "user", "content": f"Turn {k}. {user}"})
        params = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=new_tokens)
        stream = stream_chat(loaded, messages, params, ignore_eos=True, prefix_cache=use_cache)
        for _ in stream:
            pass
        m = stream.reply.metrics
        rows.append({"ttft_s": m.ttft_s or 0.0, "prompt_tokens": m.prompt_tokens,
                     "cached_prompt_tokens": m.cached_prompt_tokens, "reply": stream.reply.text})  # fmt: skip
        messages.append({"role": "assistant", "content": stream.reply.text})
    return rows


def prefix_turns(loaded: LoadedModel, turns: int, turn_tokens: int, new_tokens: int, repeats: int = 1) -> dict[str, Any]:
    """TTFT per turn of a growing chat, with the prefix cache on and off (same messages).

    The chat is replayed ``repeats`` times, alternating cache on and off so both see the same
    machine noise; each turn reports the median TTFT over the repeats. Greedy decoding makes the
    replies deterministic, so both modes must produce the same conversation (``same_replies``):
    reusing the KV cache changes speed, never the text.
    """
    runs: dict[str, list[list[dict[str, Any]]]] = {"cache_on": [], "cache_off": []}
    user = build_prompt(loaded, turn_tokens)[0]["content"]
    for _ in range(repeats):
        for label, use_cache in (("cache_on", True), ("cache_off", False)):
            runs[label].append(_chat_turns(loaded, turns, user, new_tokens, use_cache))
    out: dict[str, Any] = {"repeats": repeats}
    for label, chats in runs.items():
        ttfts = [statistics.median(chat[k]["ttft_s"] for chat in chats) for k in range(turns)]
        out[label] = {
            "ttft_s": ttfts,
            "ttft_spread_s": [[min(c[k]["ttft_s"] for c in chats), max(c[k]["ttft_s"] for c in chats)] for k in range(turns)],
            "prompt_tokens": [row["prompt_tokens"] for row in chats[0]],
            "cached_prompt_tokens": [row["cached_prompt_tokens"] for row in chats[0]],
            "last_over_first": ttfts[-1] / max(ttfts[0], 1e-9),
        }
    replies = {label: [row["reply"] for row in chats[0]] for label, chats in runs.items()}
    out["same_replies"] = replies["cache_on"] == replies["cache_off"]
    return out


def prompt_sweep(loaded: LoadedModel, lengths: Sequence[int], runs: int) -> list[dict[str, Any]]:
    """Median TTFT of engine and baseline for several prompt lengths (8 new tokens each)."""
    rows = []
    for length in lengths:
        result = compare(loaded, length, 8, runs)
        rows.append({"prompt_tokens": result["prompt_tokens"],
                     "engine_ttft_s": result["engine"]["ttft_s"]["median"],
                     "baseline_ttft_s": result["baseline"]["ttft_s"]["median"]})  # fmt: skip
    return rows


# --- GPU suite ------------------------------------------------------------------------------------------

SUITE = ("qwen2.5-1.5b-instruct", "qwen2.5-3b-instruct", "qwen3-4b")


def copy_bandwidth(device: str, megabytes: int = 1024, repeats: int = 10) -> float:
    """Measured device copy bandwidth in bytes/s (read + write counted, as a decode step reads)."""
    n = megabytes * 2**20 // 4
    src = torch.empty(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    return 2 * n * 4 * repeats / elapsed


def build_random_model(alias_or_config: str | dict, directory: Path, family: str) -> Path:
    """Save a random-weight model from a shipped config, with a small Qwen tokenizer + chat template."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from core.registry import get_spec, load_config
    from tests.fixtures.tiny_models import build_tiny_model

    raw = alias_or_config if isinstance(alias_or_config, dict) else load_config(get_spec(alias_or_config))
    raw = {k: v for k, v in raw.items() if not k.startswith("_") and k != "quantization_config"}
    config = AutoConfig.for_model(**raw)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(directory)
    del model
    tokenizer_dir = build_tiny_model(family, directory.parent / f"{directory.name}-tok")  # type: ignore[arg-type]
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                 "generation_config.json"):  # fmt: skip
        source = tokenizer_dir / name
        if source.exists():
            (directory / name).write_bytes(source.read_bytes())
    return directory


def gpu_suite(new_tokens: int, runs: int, quants: Sequence[str], device: str, configs: Sequence[str]) -> dict[str, Any]:
    from core.registry import get_spec

    bandwidth = copy_bandwidth(device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for alias in configs:
            family = get_spec(alias).family if "/" not in alias else "qwen2.5"
            directory = build_random_model(alias, Path(tmp) / alias, family)
            for quant in quants:
                loaded = load(str(directory), quant, device)
                loaded.context_length = 32768
                result = compare(loaded, 128, new_tokens, runs)
                weight_bytes = weight_bytes_read_per_token(loaded.model)
                bound = bandwidth_bound_tokens_per_s(weight_bytes, bandwidth)
                engine_tps = result["engine"]["decode_tokens_per_s"]["median"]
                rows.append({
                    "model": alias, "quant": loaded.quant, "weight_bytes_per_token": weight_bytes,
                    "bound_tokens_per_s": bound, "engine_tokens_per_s": engine_tps,
                    "baseline_tokens_per_s": result["baseline"]["decode_tokens_per_s"]["median"],
                    "fraction_of_bound": engine_tps / bound, "speedup_vs_generate": result["ratio_decode_tokens_per_s"],
                    "ttft_s": result["engine"]["ttft_s"]["median"], "fast_path": loaded.fast_path_note,
                })  # fmt: skip
                loaded.unload()
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    return {"device": device_name, "copy_bandwidth_gb_s": bandwidth / 1e9, "rows": rows,
            "note": "random weights: decode speed does not depend on weight values"}  # fmt: skip


# --- command line -------------------------------------------------------------------------------------


def _print_compare(name: str, result: dict[str, Any]) -> None:
    e, b = result["engine"], result["baseline"]
    print(f"{name}: prompt {result['prompt_tokens']} tokens, {e['new_tokens']} new tokens, fast path: {result['fast_path']}")
    print(f"{'':22}{'engine (stream)':>26}{'model.generate':>26}")
    for key, digits in (("ttft_s", 3), ("decode_tokens_per_s", 1), ("total_s", 2)):
        print(f"{key:22}{Summary(**e[key]).text(digits):>26}{Summary(**b[key]).text(digits):>26}")
    print(f"{'peak memory MiB':22}{e['peak_memory_bytes'] / 2**20:>26.0f}{b['peak_memory_bytes'] / 2**20:>26.0f}")
    print(f"ratio engine/baseline: decode tokens/s {result['ratio_decode_tokens_per_s']:.3f}, "
          f"TTFT {result['ratio_ttft']:.3f}; streaming overhead vs generate {100 * result['streaming_overhead']:+.1f}%")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-offline")
    parser.add_argument("--quant", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--turns", type=int, default=0, help="prefix-caching mode: chat of T turns")
    parser.add_argument("--turn-repeats", type=int, default=3, help="prefix-caching mode: replays of the chat (median per turn)")
    parser.add_argument("--prompt-sweep", default="", help="comma-separated prompt lengths: TTFT by prompt length")
    parser.add_argument("--gpu-suite", action="store_true")
    parser.add_argument("--suite-quants", default="bf16,int8,nf4")
    parser.add_argument("--quick", action="store_true", help="CI smoke run on a tiny random model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.turn_repeats < 1:
        parser.error("--turn-repeats must be at least 1")

    if args.gpu_suite:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            print("no CUDA GPU: the GPU suite needs one (run it on a GPU machine)", file=sys.stderr)
            return 2
        result = gpu_suite(args.new_tokens, args.runs, args.suite_quants.split(","), device, SUITE)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        print(f"device: {result['device']}; copy bandwidth {result['copy_bandwidth_gb_s']:.0f} GB/s; {result['note']}")
        for row in result["rows"]:
            print(f"{row['model']:24}{row['quant']:6} {row['engine_tokens_per_s']:8.1f} tok/s "
                  f"= {100 * row['fraction_of_bound']:5.1f}% of bound {row['bound_tokens_per_s']:8.1f}; "
                  f"x{row['speedup_vs_generate']:.2f} vs generate ({row['baseline_tokens_per_s']:.1f}); {row['fast_path']}")  # fmt: skip
        return 0

    model = args.model
    if args.quick:
        from tests.fixtures.tiny_models import build_tiny_model

        model = str(build_tiny_model("qwen2.5", Path(tempfile.mkdtemp()) / "tiny", max_position_embeddings=4096))
        args.runs, args.new_tokens, args.prompt_tokens = min(args.runs, 2), min(args.new_tokens, 32), 64
        args.turns, args.turn_repeats = args.turns or 3, 1
    loaded = load(model, args.quant, args.device)
    if loaded.model is None:  # auto picked llama.cpp for a GGUF on the CPU: there is no model.generate
        loaded.unload()
        print(f"{model} ran in {loaded.engine} (quant {loaded.quant}); this benchmark compares the transformers "
              "engine with model.generate: pass --quant fp32 (or see python -m bench.cpu_engines)", file=sys.stderr)
        return 2
    output: dict[str, Any] = {"model": model, "quant": loaded.quant, "device": loaded.device,
                              "compare": compare(loaded, args.prompt_tokens, args.new_tokens, args.runs)}  # fmt: skip
    if args.turns:
        output["prefix"] = prefix_turns(loaded, args.turns, args.prompt_tokens, min(args.new_tokens, 32), args.turn_repeats)
    if args.prompt_sweep:
        output["sweep"] = prompt_sweep(loaded, [int(n) for n in args.prompt_sweep.split(",")], args.runs)
    if args.json:
        print(json.dumps(output, indent=2))
        return 0
    _print_compare(f"{model} [{loaded.quant}, {loaded.device}]", output["compare"])
    if args.turns:
        prefix = output["prefix"]
        for label in ("cache_on", "cache_off"):
            data = prefix[label]
            ttfts = ", ".join(f"{t * 1000:.0f}" for t in data["ttft_s"])
            print(f"prefix {label:9}: median TTFT per turn over {prefix['repeats']} chats (ms) {ttfts}; "
                  f"turn {args.turns}/turn 1 = {data['last_over_first']:.2f}")  # fmt: skip
        cached = ", ".join(str(n) for n in prefix["cache_on"]["cached_prompt_tokens"])
        print(f"prefix cache_on reused prompt tokens per turn: {cached}; same replies both ways: {prefix['same_replies']}")
    for row in output.get("sweep", []):
        print(f"prompt {row['prompt_tokens']:6d} tokens: TTFT engine {row['engine_ttft_s'] * 1000:8.1f} ms, "
              f"generate {row['baseline_ttft_s'] * 1000:8.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
