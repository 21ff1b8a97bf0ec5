"""Self-check latency, score mode against generate mode, measured in one run on the same prompts.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.guardrails_selfcheck [--model ALIAS] [--quant Q] [--n 6]
                                                                    [--file FILE.jsonl] [--json]

Loads the model once, warms both modes on one prompt (the first scoring call prefills the whole
moderation prompt, ~690 tokens; later ones reuse it from the cache), then runs the two modes
alternately on ``--n`` prompts of the file (a fixed balanced subset, seed 0) and prints each mode's
median and max latency in ms and the ratio generate/score of the medians. The cold first call of
score mode is reported on its own. Both modes see the same load, so read the ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from core.guardrails import default_policy
from core.guardrails.evaluate import read_jsonl
from core.guardrails.pipeline import DEFAULT_SELF_CHECK_MODEL, load_self_check
from core.guardrails.scoring import ScoringSelfCheckRail
from core.guardrails.selfcheck import SelfCheckRail

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "core" / "guardrails" / "data" / "redteam_holdout.jsonl"


def timed_ms(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - start) * 1000.0, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_SELF_CHECK_MODEL)
    parser.add_argument("--quant", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--file", default=str(DEFAULT_FILE))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    items, _ = read_jsonl(args.file)
    rng = random.Random(0)
    half = max(1, args.n // 2)
    prompts = [i["text"] for label in ("harmful", "benign")
               for i in rng.sample([i for i in items if i["label"] == label], half)]
    generator, scorer = load_self_check(args.model, quant=args.quant, device=args.device)
    if scorer is None:
        raise SystemExit(f"{args.model} gives no log-probabilities here: nothing to compare")
    policy = default_policy()
    score_rail, generate_rail = ScoringSelfCheckRail(scorer), SelfCheckRail(generator)
    cold_ms, _ = timed_ms(score_rail.check, "Warm-up request.", policy)
    timed_ms(generate_rail.check, "Warm-up request.", policy)
    rows, score_ms, generate_ms = [], [], []
    for text in prompts:
        s_ms, s_entry = timed_ms(score_rail.check, text, policy)
        g_ms, g_entry = timed_ms(generate_rail.check, text, policy)
        score_ms.append(s_ms)
        generate_ms.append(g_ms)
        rows.append({"text": text, "score_ms": round(s_ms, 1), "margin": s_entry.score, "score_verdict": s_entry.verdict,
                     "generate_ms": round(g_ms, 1), "generate_verdict": g_entry.verdict})
    result = {
        "model": args.model, "quant": args.quant, "n": len(prompts), "score_cold_ms": round(cold_ms, 1),
        "score_ms": {"median": round(statistics.median(score_ms), 1), "max": round(max(score_ms), 1)},
        "generate_ms": {"median": round(statistics.median(generate_ms), 1), "max": round(max(generate_ms), 1)},
        "ratio_generate_over_score": round(statistics.median(generate_ms) / statistics.median(score_ms), 2),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(f"{args.model} ({args.quant}), {len(prompts)} prompts, modes alternated")
    print(f"score mode: cold first call {cold_ms:.0f} ms; median {result['score_ms']['median']:.0f} ms, "
          f"max {result['score_ms']['max']:.0f} ms")
    print(f"generate mode: median {result['generate_ms']['median']:.0f} ms, max {result['generate_ms']['max']:.0f} ms")
    print(f"generate / score (medians): {result['ratio_generate_over_score']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
