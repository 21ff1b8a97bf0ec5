"""Which layer of the model the probe rail should read: leave-one-set-out on the blind sets (one run).

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.probe_layers [--model ALIAS] [--layers 4,8,12,16,20]
        [--c 0.01,0.05,0.2] [--held-out redteam_blind2.jsonl,redteam_blind3.jsonl] [--json]

Every training set's prompts go through the model once (``HiddenStates.by_layer``: the exact features the
probe rail reads, several layers from one partial pass). Then, for each layer and C, and for each held-out
set in turn, a probe is trained on all the other training sets exactly as ``train-probe`` trains it
(threshold by 5-fold cross-validation at a 2% false-block budget) and scored on the held-out set, which it
never saw: harmful blocked, false blocks and ROC AUC there. ``redteam_blind4.jsonl`` is not read: it
measures the final probe, so it takes no part in choosing it. The choice and its figures are in
docs/GUARDRAILS.md, "Probe rail"; the run takes about 10 minutes on 2 CPU cores for the 0.5B.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.selfcheck_formats import roc_auc
from core.guardrails.calibrate import DEFAULT_MAX_FALSE_BLOCK_RATE
from core.guardrails.evaluate import read_jsonl
from core.guardrails.probe import PROBE_MODEL, PROBE_QUANT, HiddenStates, _logistic
from core.guardrails.semantic import DEFAULT_TRAINING_FILES, FOLDS, fit_thresholded, training_labels


def held_out_scores(x: dict[str, np.ndarray], y: dict[str, np.ndarray], held_out: str, c: float) -> dict:
    """Train on every set but ``held_out`` (C fixed), score ``held_out``."""
    train = [name for name in x if name != held_out]
    xt, yt = np.vstack([x[n] for n in train]), np.concatenate([y[n] for n in train])
    model, _, threshold, per_c = fit_thresholded(xt, yt, _logistic, c_grid=[c], folds=FOLDS,
                                                 max_false_block_rate=DEFAULT_MAX_FALSE_BLOCK_RATE)  # fmt: skip
    scores, labels = model.decision_function(x[held_out]), y[held_out]
    return {"threshold": round(threshold, 4), "cv_block_rate_harmful": per_c[f"{c:g}"]["block_rate_harmful"],
            "block_rate_harmful": round(float(np.mean(scores[labels] >= threshold)), 4),
            "false_block_rate": round(float(np.mean(scores[~labels] >= threshold)), 4),
            "roc_auc": round(roc_auc(scores[labels].tolist(), scores[~labels].tolist()), 4)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe_layers", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=PROBE_MODEL)
    parser.add_argument("--quant", default=PROBE_QUANT)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--layers", default="4,8,12,16,20")
    parser.add_argument("--c", default="0.01,0.05,0.2")
    parser.add_argument("--held-out", default="redteam_blind2.jsonl,redteam_blind3.jsonl")
    parser.add_argument("--files", default=",".join(str(p) for p in DEFAULT_TRAINING_FILES),
                        help="the training sets (default: the probe's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    layers = [int(v) for v in args.layers.split(",")]
    c_values = [float(v) for v in args.c.split(",")]
    files = [Path(f) for f in args.files.split(",")]
    held_out = args.held_out.split(",")
    if missing := [h for h in held_out if h not in {f.name for f in files}]:
        parser.error(f"--held-out must name files of --files: {missing}")

    from core.loading import load

    hidden = HiddenStates(load(args.model, quant=args.quant, device=args.device), max(layers))
    x: dict[int, dict[str, np.ndarray]] = {layer: {} for layer in layers}
    y: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    for path in files:
        texts, targets, _ = training_labels(read_jsonl(path)[0], FOLDS)
        for layer, vectors in hidden.by_layer(texts, layers).items():
            x[layer][path.name] = vectors
        y[path.name] = np.array([t != "benign" for t in targets])
        print(f"{path.name}: {len(texts)} prompts embedded ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    results = {f"layer {layer}, C {c:g}": {h: held_out_scores(x[layer], y, h, c) for h in held_out}
               for layer in layers for c in c_values}  # fmt: skip
    if args.json:
        print(json.dumps({"model": args.model, "files": [f.name for f in files], "results": results}, indent=2))
        return 0
    print(f"{args.model}: probe trained without the held-out set, scored on it (harmful blocked / false blocks, "
          "ROC AUC)")
    for name, per_set in results.items():
        cells = "   ".join(f"{h.removesuffix('.jsonl')}: {r['block_rate_harmful']:.3f} / {r['false_block_rate']:.3f}"
                           f" (AUC {r['roc_auc']:.3f})" for h, r in per_set.items())
        print(f"  {name:<18} {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
