"""Command line: ``python -m core.guardrails {check,eval,redact,prompt,validate} ...``.

    check "TEXT" [--rails rules,self-check,guard] [--model ALIAS] [--json]
    eval FILE.jsonl [--rails ...] [--model ALIAS] [--json]
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
import sys
from typing import Any

from core.errors import PlaygroundError

from .evaluate import EvalInputError, read_jsonl, run_eval
from .guard_model import DEFAULT_GUARD_MODEL, GUARD_MODELS
from .pii import redact
from .pipeline import DEFAULT_SELF_CHECK_MODEL, GuardrailPipeline, engine_generator, load_guard_rail, parse_rails
from .policy import DEFAULT_POLICY_PATH, Policy, load_policy
from .safety_prompt import render_safety_prompt


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


def _pipeline(args: argparse.Namespace, notices: list[str]) -> GuardrailPipeline:
    policy = _policy(args.policy)
    try:
        rails = parse_rails(args.rails)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    generator = None
    unavailable = "no text generator given (load a chat model first)"
    if "self-check" in rails:
        model = args.model or DEFAULT_SELF_CHECK_MODEL
        try:
            generator = engine_generator(model, quant=args.quant, device=args.device)
        except Exception as exc:  # noqa: BLE001 - any loading failure falls back to the other rails
            unavailable = f"could not load '{model}': {type(exc).__name__}: {exc}"[:500]
            _notice(notices, f"self-check disabled, {unavailable}; continuing with the other rails")
    guard = None
    if "guard" in rails:
        guard = load_guard_rail(args.guard_model, quant=args.quant, device=args.device)
        if not guard.available:
            _notice(notices, f"guard rail skipped, {args.guard_model} unavailable: {guard.reason}")
    return GuardrailPipeline(policy, rails, generator=generator, guard=guard, short_circuit=args.short_circuit,
                             generator_unavailable_reason=unavailable)


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
    report = run_eval(items, _pipeline(args, notices))
    report["summary"]["malformed"] = malformed
    report["summary"]["rails"] = list(parse_rails(args.rails))
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
    for cat, row in s["per_category"].items():
        print(f"  {cat:<18} {row['blocked']}/{row['n']} blocked")
    if args.show_errors:
        for item in report["items"]:
            if item["blocked"] != (item["label"] == "harmful"):
                kind = "missed" if item["label"] == "harmful" else "false block"
                print(f"  {kind} (line {item['line']}): {item['text'][:100]}")
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
        p.add_argument("--rails", default="rules", help="comma-separated: rules,self-check,guard (default: rules)")
        p.add_argument("--model", default=None, help=f"chat model for self-check (default: {DEFAULT_SELF_CHECK_MODEL})")
        p.add_argument("--guard-model", default=DEFAULT_GUARD_MODEL, choices=list(GUARD_MODELS),
                       help=f"guard model hub id (default: {DEFAULT_GUARD_MODEL})")
        p.add_argument("--quant", default="auto", help="quantization for loaded models (default: auto)")
        p.add_argument("--device", default="auto", help="device for loaded models (default: auto)")
        p.add_argument("--short-circuit", action="store_true", help="skip later rails once one blocks")
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
    p.set_defaults(func=cmd_eval)

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
