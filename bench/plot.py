"""Plot benchmark JSON (from ``python -m bench.generate ... --json``) into PNGs for docs/.

    python -m bench.plot docs/perf/*.json --out docs/perf

Writes ``tokens_per_s.png`` (decode tokens/s by configuration, engine vs generate) and, when a
result has a prompt sweep, ``ttft_by_prompt.png`` (time to first token by prompt length) and,
when it has a ``--turns`` run, ``ttft_by_turn.png`` (TTFT per chat turn, prefix cache on and off).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _label(result: dict) -> str:
    model = Path(str(result["model"])).name
    return f"{model}\n{result['quant']} / {result['device']}"


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_tokens_per_s(results: list[dict], out: Path) -> Path:
    labels = [_label(r) for r in results]
    engine = [r["compare"]["engine"]["decode_tokens_per_s"]["median"] for r in results]
    baseline = [r["compare"]["baseline"]["decode_tokens_per_s"]["median"] for r in results]
    fig, ax = plt.subplots(figsize=(max(5, 2.2 * len(results)), 3.6))
    x = range(len(results))
    ax.bar([i - 0.2 for i in x], engine, width=0.4, label="playground engine (streaming)")
    ax.bar([i + 0.2 for i in x], baseline, width=0.4, label="model.generate")
    ax.set_xticks(list(x), labels, fontsize=8)
    ax.set_ylabel("decode tokens/s (median)")
    ax.legend(fontsize=8)
    return _save(fig, out / "tokens_per_s.png")


def plot_ttft(results: list[dict], out: Path) -> Path | None:
    swept = [r for r in results if r.get("sweep")]
    if not swept:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for r in swept:
        xs = [row["prompt_tokens"] for row in r["sweep"]]
        ax.plot(xs, [row["engine_ttft_s"] * 1000 for row in r["sweep"]], marker="o", label=f"{_label(r)} engine")
        ax.plot(xs, [row["baseline_ttft_s"] * 1000 for row in r["sweep"]], marker="x", linestyle="--",
                label=f"{_label(r)} generate")  # fmt: skip
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("time to first token (ms)")
    ax.legend(fontsize=7)
    return _save(fig, out / "ttft_by_prompt.png")


def plot_turns(results: list[dict], out: Path) -> Path | None:
    chats = [r for r in results if r.get("prefix")]
    if not chats:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for r in chats:
        for label, style in (("cache_on", "-"), ("cache_off", "--")):
            ttfts = r["prefix"][label]["ttft_s"]
            ax.plot(range(1, len(ttfts) + 1), [t * 1000 for t in ttfts], marker="o", linestyle=style,
                    label=f"{_label(r)} {label.replace('_', ' ')}")  # fmt: skip
    ax.set_xlabel("chat turn")
    ax.set_ylabel("time to first token (ms, median)")
    ax.legend(fontsize=7)
    return _save(fig, out / "ttft_by_turn.png")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plot")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/perf"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = [json.loads(f.read_text()) for f in args.files]
    results = [r for r in results if "compare" in r]
    if not results:
        print("no bench.generate results among the files", file=sys.stderr)
        return 2
    for path in (plot_tokens_per_s(results, args.out), plot_ttft(results, args.out), plot_turns(results, args.out)):
        if path:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
