"""Command line: ``python -m core.guardrails {check,eval,redact,prompt,validate} ...``.

    check "TEXT" [--rails rules,semantic,probe,self-check,guard] [--model ALIAS] [--json]
    eval FILE.jsonl [--rails ...] [--model ALIAS] [--json] [--sample N --seed S]
    train-semantic [FILE.jsonl ...] [--max-false-block-rate 0.02] [--json]
                                              train the semantic rail, print its cross-validation
    train-probe [FILE.jsonl ...] [--model ALIAS] [--layer 12] [--out FILE] [--json]
                                              train the hidden-state probe (minutes: one forward pass a prompt)
    calibrate REPORT.json [--max-false-block-rate 0.02] [--json]
                                              self-check threshold from an `eval --json` report
    redact --input FILE.jsonl [--json]        (or: redact "TEXT")
    prompt [--policy FILE]                    the policy rendered as a system prompt
    validate FILE                             check a policy file

Exit status: 0 on success (whatever the verdict), 2 on bad input (unreadable
file, malformed policy, unknown rail). Notices (a model that could not be
loaded, malformed lines) go to stderr, and into the JSON under "notices".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import PlaygroundError

from .calibrate import DEFAULT_MAX_FALSE_BLOCK_RATE, calibrate_threshold, self_check_margins
from .evaluate import EvalInputError, read_jsonl, run_eval
from .guard_model import DEFAULT_GUARD_MODEL, GUARD_MODELS
from .pii import redact
from .pipeline import DEFAULT_SELF_CHECK_MODEL, GuardrailPipeline, load_guard_rail, load_self_check, parse_rails
from .policy import DEFAULT_POLICY_PATH, MAX_ABS_THRESHOLD, SELF_CHECK_EXAMPLES, SELF_CHECK_MODES, Policy, load_policy
from .safety_prompt import render_safety_prompt
from .probe import (
    DEFAULT_LAYER,
    PROBE_FILE,
    PROBE_MODEL,
    PROBE_QUANT,
    HiddenStates,
    ProbeError,
    ProbeRail,
    file_sha256,
    load_probe_rail,
    stale_training_files,
    train_probe,
)
from .semantic import (
    DEFAULT_TRAINING_FILES,
    SemanticRail,
    SemanticTraining,
    SemanticTrainingError,
    default_semantic_rail,
)


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def _notice(notices: list[str], text: str) -> None:
    notices.append(text)
    print(f"notice: {text}", file=sys.stderr)


def _policy(path: str | None) -> Policy:
    try:
        return load_policy(path or DEFAULT_POLICY_PATH)
    except PlaygroundError as exc:
        raise CliError(str(exc)) from None


def _with_overrides(policy: Policy, args: argparse.Namespace) -> Policy:
    """The policy with the command line's self-check mode/examples/threshold, when given."""
    changes = {}
    if args.self_check_mode is not None:
        changes["self_check_mode"] = args.self_check_mode
    if args.self_check_examples is not None:
        changes["self_check_examples"] = args.self_check_examples
    if args.self_check_threshold is not None:
        if not -MAX_ABS_THRESHOLD <= args.self_check_threshold <= MAX_ABS_THRESHOLD:
            raise CliError(f"--self-check-threshold must be between {-MAX_ABS_THRESHOLD:g} and {MAX_ABS_THRESHOLD:g}")
        changes["self_check_threshold"] = float(args.self_check_threshold)
        changes["self_check_thresholds"] = ()  # the given threshold applies whatever the model
    return replace(policy, settings=replace(policy.settings, **changes)) if changes else policy


def _pipeline(args: argparse.Namespace, notices: list[str]) -> GuardrailPipeline:
    policy = _with_overrides(_policy(args.policy), args)
    try:
        rails = parse_rails(args.rails)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    generator = scorer = None
    unavailable = "no text generator given (load a chat model first)"
    model = args.model or DEFAULT_SELF_CHECK_MODEL
    if "self-check" in rails:
        try:
            generator, scorer = load_self_check(model, quant=args.quant, device=args.device)
            if scorer is None and policy.settings.self_check_mode == "score":
                _notice(notices, f"'{model}' gives no log-probabilities here: the self-check generates its verdict")
        except Exception as exc:  # noqa: BLE001 - any loading failure falls back to the other rails
            unavailable = f"could not load '{model}': {type(exc).__name__}: {exc}"[:500]
            _notice(notices, f"self-check disabled, {unavailable}; continuing with the other rails")
    semantic = semantic_unavailable = None
    if "semantic" in rails:
        semantic, semantic_unavailable = _semantic_rail(args, notices)
    guard = None
    if "guard" in rails:
        guard = load_guard_rail(args.guard_model, quant=args.quant, device=args.device)
        if not guard.available:
            _notice(notices, f"guard rail skipped, {args.guard_model} unavailable: {guard.reason}")
    probe = probe_unavailable = None
    if "probe" in rails:
        probe, probe_unavailable = _probe_rail(args, notices)
    return GuardrailPipeline(policy, rails, generator=generator, scorer=scorer, guard=guard,
                             short_circuit=args.short_circuit,
                             generator_unavailable_reason=unavailable, self_check_model=model,
                             semantic=semantic, semantic_unavailable=semantic_unavailable,
                             probe=probe, probe_unavailable=probe_unavailable)  # fmt: skip


def _probe_rail(args: argparse.Namespace, notices: list[str]) -> tuple[ProbeRail | None, str | None]:
    """(rail, None), or (None, reason) with a notice when the probe or its model cannot be used."""
    try:
        rail = load_probe_rail(args.probe_file, device=args.device)
    except ProbeError as exc:
        reason = str(exc)[:500]
        _notice(notices, f"probe rail skipped, {reason}")
        return None, reason
    probe = rail.classifier.probe
    if args.probe_file == str(PROBE_FILE) and (stale := stale_training_files(probe)):
        _notice(notices, f"the probe was trained on older versions of {', '.join(stale)}: retrain it with "
                         "`python -m core.guardrails train-probe`")
    eval_file = getattr(args, "file", None)
    if eval_file and Path(eval_file).name in probe.trained_on:
        _notice(notices, f"the probe rail was trained on {Path(eval_file).name}: its numbers on it are in-sample")
    return rail, None


def _training_files(args: argparse.Namespace) -> list[str]:
    return list(getattr(args, "semantic_train", None) or [str(p) for p in DEFAULT_TRAINING_FILES])


def _train(files: list[str], max_false_block_rate: float, embedding: str | None) -> SemanticRail:
    """The semantic rail trained on ``files``; CliError for a file or data that cannot train it."""
    if not 0 <= max_false_block_rate < 1:
        raise CliError(f"--semantic-max-false-block-rate must be in [0, 1), got {max_false_block_rate}")
    for path in files:
        try:
            read_jsonl(path)
        except EvalInputError as exc:
            raise CliError(f"cannot train the semantic rail: {exc}") from None
    try:
        return default_semantic_rail(files, embedding=embedding, max_false_block_rate=max_false_block_rate)
    except SemanticTrainingError as exc:
        raise CliError(f"cannot train the semantic rail: {exc}") from None


def _semantic_rail(args: argparse.Namespace, notices: list[str]) -> tuple[SemanticRail | None, str | None]:
    """(rail, None), or (None, reason) with a notice when the embedding model is unavailable."""
    files = _training_files(args)
    try:
        rail = _train(files, args.semantic_max_false_block_rate, args.embedding)
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - no embedding model: the other rails still run
        reason = f"could not build the semantic rail: {type(exc).__name__}: {exc}"[:500]
        _notice(notices, f"semantic rail skipped, {reason}")
        return None, reason
    eval_file = getattr(args, "file", None)
    if eval_file and any(os.path.realpath(eval_file) == os.path.realpath(f) for f in files):
        _notice(notices, f"the semantic rail was trained on {eval_file}: its numbers on it are in-sample")
    return rail, None


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _trace_lines(trace: list[dict]) -> list[str]:
    lines = []
    for t in trace:
        parts = [f"  {t['rail']:<11}{t['verdict']:<8}", f"{t['category'] or '-':<17}", f"{t['latency_ms']:>9.3f} ms"]
        if t.get("rule"):
            parts.append(f"  rule={t['rule']}")
        if t.get("note"):
            parts.append(f"  ({t['note']})")
        lines.append("".join(parts))
    return lines


def cmd_check(args: argparse.Namespace) -> int:
    notices: list[str] = []
    text = sys.stdin.read() if args.text == "-" else args.text
    result = _pipeline(args, notices).check_input(text)
    data = result.to_dict()
    if args.json:
        _print_json({**data, "notices": notices})
        return 0
    who = f" by {result.rail}" if result.rail else ""
    print(f"verdict: {result.verdict}" + (f" ({result.category}){who}" if result.category else who))
    if result.message:
        print(f"message: {result.message}")
    print("trace:")
    print("\n".join(_trace_lines(data["trace"])))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    notices: list[str] = []
    try:
        items, malformed = read_jsonl(args.file)
    except EvalInputError as exc:
        raise CliError(str(exc)) from None
    for bad in malformed:
        _notice(notices, f"line {bad['line']} skipped: {bad['error']}")
    if args.sample is not None:
        items = sample_items(items, args.sample, args.seed)
    pipeline = _pipeline(args, notices)
    report = run_eval(items, pipeline)
    report["summary"]["malformed"] = malformed
    report["summary"]["rails"] = list(parse_rails(args.rails))
    report["summary"]["sample"] = None if args.sample is None else {"n": args.sample, "seed": args.seed}
    settings = pipeline.policy.settings
    threshold, calibrated = settings.threshold_for(pipeline.self_check_model)
    report["summary"]["self_check"] = {"mode": settings.self_check_mode, "examples": settings.self_check_examples,
                                       "model": pipeline.self_check_model, "threshold": threshold,
                                       "calibrated_for_model": calibrated}  # fmt: skip
    if pipeline.semantic is not None:
        report["summary"]["semantic"] = {**pipeline.semantic.classifier.training.to_dict(),
                                         "trained_on": _training_files(args)}
    if pipeline.probe is not None:
        probe = pipeline.probe.classifier.probe
        report["summary"]["probe"] = {**probe.training.to_dict(), "model": probe.model, "layer": probe.layer,
                                      "trained_on": sorted(probe.trained_on)}
    if args.json:
        _print_json({**report, "notices": notices})
        return 0
    s = report["summary"]
    c = s["confusion"]

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    print(f"items: {s['n']} ({s['n_harmful']} harmful, {s['n_benign']} benign), malformed lines skipped: {len(malformed)}")
    print(f"confusion: TP={c['tp']} FN={c['fn']} FP={c['fp']} TN={c['tn']}")
    print(f"block rate on harmful: {pct(s['block_rate_harmful'])}   false-block rate on benign: "
          f"{pct(s['false_block_rate_benign'])}")
    print(f"precision: {pct(s['precision'])}   recall: {pct(s['recall'])}   F1: {pct(s['f1'])}   warned: {s['warned']}")
    for rail, lat in s["latency_ms"].items():
        print(f"latency {rail}: median {lat['median']:.3f} ms, p95 {lat['p95']:.3f} ms (n={lat['n']})")
    if len(s["per_rail"]) > 1:
        rows = [(f"{rail} alone", r) for rail, r in s["per_rail"].items()]
        rows += [(rails, r) for rails, r in s["per_combination"].items()]
        for name, r in rows:
            rc = r["confusion"]
            print(f"  {name}: TP={rc['tp']} FN={rc['fn']} FP={rc['fp']} TN={rc['tn']}  harmful blocked "
                  f"{pct(r['block_rate_harmful'])}  false blocks {pct(r['false_block_rate_benign'])}  F1 {pct(r['f1'])}")
    for cat, row in s["per_category"].items():
        print(f"  {cat:<18} {row['blocked']}/{row['n']} blocked")
    if args.show_errors:
        for item in report["items"]:
            if item["blocked"] != (item["label"] == "harmful"):
                kind = "missed" if item["label"] == "harmful" else "false block"
                print(f"  {kind} (line {item['line']}): {item['text'][:100]}")
    return 0


def sample_items(items: list[dict], n: int, seed: int) -> list[dict]:
    """A fixed random subset: ``n`` items drawn with ``random.Random(seed)``, half harmful and half benign
    when both have enough, kept in file order."""
    if n < 1:
        raise CliError("--sample must be at least 1")
    rng = random.Random(seed)
    by_label = {label: [i for i in items if i["label"] == label] for label in ("harmful", "benign")}
    want_h = min(len(by_label["harmful"]), max(n - len(by_label["benign"]), n // 2))
    chosen = rng.sample(by_label["harmful"], want_h)
    chosen += rng.sample(by_label["benign"], min(len(by_label["benign"]), n - want_h))
    return sorted(chosen, key=lambda i: i["line"])


def cmd_calibrate(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.read() if args.report == "-" else open(args.report, encoding="utf-8").read()
        report = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the report {args.report}: {exc}") from None
    if not isinstance(report, dict):
        raise CliError("the report must be the JSON object printed by `eval --json`")
    margins = self_check_margins(report)
    try:
        cal = calibrate_threshold(margins["benign"], margins["harmful"], args.max_false_block_rate)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(cal.to_dict())
        return 0
    print(f"self_check_threshold: {cal.threshold:g}   (from {cal.n_benign} benign, {cal.n_harmful} harmful margins)")
    print(f"at it: false-block rate {cal.false_block_rate} (budget {cal.max_false_block_rate}), "
          f"harmful blocked {cal.block_rate_harmful}")
    print("put it under settings.self_check_threshold in the policy")
    return 0


def cmd_train_semantic(args: argparse.Namespace) -> int:
    files = args.files or [str(p) for p in DEFAULT_TRAINING_FILES]
    t = _train(files, args.max_false_block_rate, args.embedding).classifier.training
    if args.json:
        _print_json({**t.to_dict(), "trained_on": files})
        return 0
    _print_training(t, len(files), "SVM margin")
    return 0


def _print_training(t: SemanticTraining, n_files: int, score: str, wrote: Path | None = None) -> None:
    """The human-readable report of a trained rail: data, choice of C and threshold, the cross-validation."""
    print(f"trained on {t.n_harmful} harmful, {t.n_benign} benign items from {n_files} file(s)"
          + (f" ({t.skipped} harmful items without a known category left out)" if t.skipped else "")
          + (f"; wrote {wrote}" if wrote else ""))
    print(f"features: {t.embedding}   chosen C: {t.c:g}   threshold ({score}): {t.threshold:+.3f}")
    print(f"{t.folds}-fold cross-validation at a false-block budget of {t.max_false_block_rate}:")
    for c, row in t.per_c.items():
        mark = "  <- chosen" if float(c) == t.c else ""
        print(f"  C={c:<5} threshold {row['threshold']:+.3f}  harmful blocked {row['block_rate_harmful']}  "
              f"false blocks {row['false_block_rate']}{mark}")


def cmd_train_probe(args: argparse.Namespace) -> int:
    files = args.files or [str(p) for p in DEFAULT_TRAINING_FILES]
    if not 0 <= args.max_false_block_rate < 1:
        raise CliError(f"--max-false-block-rate must be in [0, 1), got {args.max_false_block_rate}")
    items: list[dict] = []
    for path in files:
        try:
            items.extend(read_jsonl(path)[0])
        except EvalInputError as exc:
            raise CliError(f"cannot train the probe: {exc}") from None
    try:
        from core.loading import load

        hidden = HiddenStates(load(args.model, quant=args.quant, device=args.device), args.layer)
    except PlaygroundError as exc:
        raise CliError(f"cannot load '{args.model}' for the probe: {exc}") from None
    except ProbeError as exc:
        raise CliError(f"cannot train the probe: {exc}") from None
    print(f"embedding {len(items)} prompts with {args.model} (layer {args.layer})...", file=sys.stderr)
    try:
        probe = train_probe(items, hidden, model=args.model, layer=args.layer,
                            trained_on={Path(f).name: file_sha256(f) for f in files},
                            max_false_block_rate=args.max_false_block_rate)  # fmt: skip
    except SemanticTrainingError as exc:
        raise CliError(f"cannot train the probe: {exc}") from None
    out = probe.save(args.out)
    t = probe.training
    if args.json:
        _print_json({**t.to_dict(), "model": probe.model, "layer": probe.layer, "trained_on": files,
                     "out": str(out)})  # fmt: skip
        return 0
    _print_training(t, len(files), "logit", wrote=out)
    return 0


def cmd_redact(args: argparse.Namespace) -> int:
    policy = _policy(args.policy)
    kinds, regions = policy.settings.pii_kinds, policy.settings.phone_regions
    if args.input:
        try:
            items, malformed = read_jsonl(args.input, require_label=False)
        except EvalInputError as exc:
            raise CliError(str(exc)) from None
    elif args.text is not None:
        items, malformed = [{"text": args.text, "line": None}], []
    else:
        raise CliError("give a TEXT or --input FILE.jsonl")
    notices: list[str] = []
    for bad in malformed:
        _notice(notices, f"line {bad['line']} skipped: {bad['error']}")
    out = []
    for item in items:
        r = redact(item["text"], kinds, regions)
        out.append({"line": item["line"], "text": item["text"], "redacted": r.text,
                    "spans": [s.to_dict() for s in r.spans]})
    if args.json:
        _print_json({"items": out, "malformed": malformed, "notices": notices})
        return 0
    for row in out:
        spans = ", ".join(f"{s['kind']}[{s['start']}:{s['end']}]" for s in row["spans"]) or "none"
        prefix = f"{row['line']}: " if row["line"] is not None else ""
        print(f"{prefix}{row['redacted']}\n    spans: {spans}")
    return 0


def cmd_prompt(args: argparse.Namespace) -> int:
    print(render_safety_prompt(_policy(args.policy)) or "(every category is allowed: no safety prompt)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    policy = _policy(args.file)
    active = ", ".join(f"{c.id}={c.action}" for c in policy.categories.values())
    print(f"ok: policy '{policy.name}' ({active})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.guardrails", description="Guardrails: check, evaluate, redact.")
    sub = parser.add_subparsers(dest="command", required=True)

    def rail_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rails", default="rules",
                       help="comma-separated: rules,semantic,probe,self-check,guard (default: rules)")
        p.add_argument("--probe-file", default=str(PROBE_FILE),
                       help=f"the probe rail's trained probe (default: the bundled one for {PROBE_MODEL})")
        p.add_argument("--model", default=None, help=f"chat model for self-check (default: {DEFAULT_SELF_CHECK_MODEL})")
        p.add_argument("--guard-model", default=DEFAULT_GUARD_MODEL, choices=list(GUARD_MODELS),
                       help=f"guard model hub id (default: {DEFAULT_GUARD_MODEL})")
        p.add_argument("--quant", default="auto", help="quantization for loaded models (default: auto)")
        p.add_argument("--device", default="auto", help="device for loaded models (default: auto)")
        p.add_argument("--short-circuit", action="store_true", help="skip later rails once one blocks")
        p.add_argument("--self-check-mode", default=None, choices=list(SELF_CHECK_MODES),
                       help="score (one forward pass, default of the policy) or generate (a JSON verdict)")
        p.add_argument("--self-check-examples", default=None, choices=list(SELF_CHECK_EXAMPLES),
                       help="the moderation prompt's worked examples (the threshold is calibrated for the policy's)")
        p.add_argument("--self-check-threshold", type=float, default=None,
                       help="override the policy's settings.self_check_threshold (margin in nats)")
        p.add_argument("--semantic-train", action="append", default=None, metavar="FILE.jsonl",
                       help="train the semantic rail on this labeled file (repeatable; default: the bundled "
                            "development sets)")
        p.add_argument("--semantic-max-false-block-rate", type=float, default=DEFAULT_MAX_FALSE_BLOCK_RATE,
                       help=f"the semantic rail's false-block budget in cross-validation "
                            f"(default {DEFAULT_MAX_FALSE_BLOCK_RATE})")
        p.add_argument("--embedding", default=None, help="embedding model of the semantic rail (default: offline "
                                                         "all-MiniLM-L6-v2)")
        p.add_argument("--policy", default=None, help=f"policy YAML (default: {DEFAULT_POLICY_PATH.name} in config/)")
        p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("check", help="check one prompt")
    p.add_argument("text", help="the prompt, or - to read stdin")
    rail_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", help="evaluate on a labeled JSONL file")
    p.add_argument("file")
    rail_options(p)
    p.add_argument("--show-errors", action="store_true", help="list missed and falsely blocked items")
    p.add_argument("--sample", type=int, default=None, help="evaluate a fixed random subset of N items")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("calibrate", help="self-check threshold from a development-set `eval --json` report")
    p.add_argument("report", help="the JSON printed by `eval FILE --rails self-check --json` (- for stdin)")
    p.add_argument("--max-false-block-rate", type=float, default=DEFAULT_MAX_FALSE_BLOCK_RATE,
                   help=f"share of benign margins allowed at or above the threshold (default {DEFAULT_MAX_FALSE_BLOCK_RATE})")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("train-semantic", help="train the semantic rail and print its cross-validation")
    p.add_argument("files", nargs="*", help="labeled JSONL files (default: the bundled development sets)")
    p.add_argument("--max-false-block-rate", type=float, default=DEFAULT_MAX_FALSE_BLOCK_RATE,
                   help=f"out-of-fold false-block budget that sets the threshold (default {DEFAULT_MAX_FALSE_BLOCK_RATE})")
    p.add_argument("--embedding", default=None, help="embedding model (default: offline all-MiniLM-L6-v2)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train_semantic)

    p = sub.add_parser("train-probe", help="train the hidden-state probe rail and write it as JSON")
    p.add_argument("files", nargs="*", help="labeled JSONL files (default: the bundled training sets)")
    p.add_argument("--model", default=PROBE_MODEL, help=f"a transformers-loadable model (default: {PROBE_MODEL})")
    p.add_argument("--quant", default=PROBE_QUANT, help=f"quantization to load it with (default: {PROBE_QUANT})")
    p.add_argument("--device", default="auto")
    p.add_argument("--layer", type=int, default=DEFAULT_LAYER, help=f"decoder layer to read (default {DEFAULT_LAYER})")
    p.add_argument("--max-false-block-rate", type=float, default=DEFAULT_MAX_FALSE_BLOCK_RATE,
                   help=f"out-of-fold false-block budget that sets the threshold (default {DEFAULT_MAX_FALSE_BLOCK_RATE})")
    p.add_argument("--out", default=str(PROBE_FILE), help="where to write the probe (default: the bundled file)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train_probe)

    p = sub.add_parser("redact", help="redact PII")
    p.add_argument("text", nargs="?", default=None, help="a text to redact (or use --input)")
    p.add_argument("--input", default=None, help="JSONL file with {\"text\": ...} per line")
    p.add_argument("--policy", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_redact)

    p = sub.add_parser("prompt", help="print the policy rendered as a system prompt")
    p.add_argument("--policy", default=None)
    p.set_defaults(func=cmd_prompt)

    p = sub.add_parser("validate", help="validate a policy file")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
