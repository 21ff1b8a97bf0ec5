"""Command line: ``python -m core.probes {run,list,show,compare,capabilities}``.

- ``run --model ALIAS [--quant Q] [--device D] [--thinking] [--only CAP[,CAP]] [--json]``
  loads the model, runs the probes with a progress line on stderr, prints the
  scorecard (or the whole result as JSON) and saves the run (unless ``--no-save``);
  ``--export FILE.json|FILE.csv`` also writes it to a file.
- ``list`` shows saved runs, newest first; ``show RUN_ID`` prints one
  (``--json`` / ``--csv``); ``compare RUN_ID RUN_ID ...`` puts their scorecards side by side.
- ``capabilities`` lists the capabilities with their probe counts.
Errors print their message (and hint) on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import PlaygroundError
from core.probes.base import CAPABILITIES, CAPABILITY_TITLES
from core.probes.catalog import counts, parse_capabilities
from core.registry import DEFAULT_ALIAS, DEVICES, QUANTS


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)

    widths = {c: max(len(c), *(len(cell(r.get(c))) for r in rows)) if rows else len(c) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(cell(row.get(c)).ljust(widths[c]) for c in columns).rstrip())
    return "\n".join(lines)


def _scorecard_text(result: Any, details: bool) -> str:
    rows = result.scorecard()
    rows.append({"capability": "overall", "probes": len(result.results), "passed": result.passed,
                 "score": result.overall, "seconds": round(result.duration_s, 1)})  # fmt: skip
    head = (f"{result.config.label} · {result.config.device or '?'} · run {result.run_id}"
            f"{'' if result.complete else ' (incomplete)'}")  # fmt: skip
    text = head + "\n" + _table(rows, ["capability", "probes", "passed", "score", "seconds"])
    if details:
        probe_rows = [{"probe": r.probe_id, "score": r.score, "pass": "yes" if r.passed else "no",
                       "detail": r.detail[:90]} for r in result.results]  # fmt: skip
        text += "\n\n" + _table(probe_rows, ["probe", "score", "pass", "detail"])
    return text


def _export_check(path: str) -> None:
    """Fail before a long run, not after it, when the export path cannot work."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in (".json", ".csv"):
        raise PlaygroundError(f"Cannot export to '{path}'.", "Use a file name ending in .json or .csv.")
    if not target.resolve().parent.is_dir():
        raise PlaygroundError(f"The folder of '{path}' does not exist.", "Create it first or pick another path.")


def _export(result: Any, path: str) -> None:
    target = Path(path).expanduser()
    text = result.to_json() if target.suffix.lower() == ".json" else result.to_csv()
    target.write_text(text, encoding="utf-8")


def cmd_run(args: argparse.Namespace) -> int:
    from core.loading import load
    from core.probes.runner import run_loaded
    from core.probes.store import ProbeStore

    only = parse_capabilities(args.only)
    if not 0 <= args.thinking_budget <= 32768:
        raise PlaygroundError("--thinking-budget must be between 0 and 32768.")
    if args.export:
        _export_check(args.export)
    quiet = args.json
    interactive = sys.stderr.isatty()
    shown = {"step": -1}

    def load_progress(fraction: float, message: str) -> None:
        # A terminal gets a live line; a log (CI, a pipe) one line per 10%.
        step = int(fraction * 100) if interactive else int(fraction * 10)
        if quiet or step == shown["step"]:
            return
        shown["step"] = step
        if interactive:
            print(f"\r[load {fraction * 100:3.0f}%] {message[:70]:<70}", end="", file=sys.stderr, flush=True)
        else:
            print(f"[load {fraction * 100:3.0f}%] {message[:70]}", file=sys.stderr, flush=True)

    loaded = load(args.model, args.quant, args.device, load_progress)
    if not quiet:
        if interactive:
            print(file=sys.stderr)
        for notice in loaded.notices:
            print(f"note: {notice}", file=sys.stderr)
        if args.thinking and not loaded.supports_thinking:
            print(f"note: {loaded.name} has no thinking mode; running without it.", file=sys.stderr)

    def progress(done: int, total: int, result: Any) -> None:
        if quiet:
            return
        mark = "pass" if result.passed else "FAIL"
        print(f"[{done:>3}/{total}] {result.probe_id:<32} {mark} {result.score:.2f}  {result.duration_s:5.1f}s  "
              f"{result.detail[:70]}", file=sys.stderr, flush=True)  # fmt: skip

    result = run_loaded(loaded, args.thinking, only=only, on_progress=progress,
                        thinking_budget=args.thinking_budget)  # fmt: skip
    if not args.no_save:
        ProbeStore().save(result)
    if args.export:
        _export(result, args.export)
    if args.json:
        print(result.to_json())
    else:
        print(_scorecard_text(result, args.details))
        if not args.no_save:
            print(f"saved as run {result.run_id} (python -m core.probes show {result.run_id})", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from core.probes.store import ProbeStore, summary_to_dict

    runs = ProbeStore().list_runs(limit=args.limit, model=args.model)
    if args.json:
        print(json.dumps([summary_to_dict(r) for r in runs], indent=2))
        return 0
    if not runs:
        print("No saved probe runs yet. Run: python -m core.probes run --model ALIAS")
        return 0
    rows = [{"run_id": r.run_id, "started": r.started_at, "model": r.model, "quant": r.quant,
             "thinking": "yes" if r.thinking else "no", "probes": r.probes, "passed": r.passed,
             "overall": r.overall, "complete": "yes" if r.complete else "no"} for r in runs]  # fmt: skip
    print(_table(rows, ["run_id", "started", "model", "quant", "thinking", "probes", "passed", "overall", "complete"]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from core.probes.store import ProbeStore

    result = ProbeStore().load(args.run_id)
    if args.json:
        print(result.to_json())
    elif args.csv:
        sys.stdout.write(result.to_csv(per=args.csv))
    else:
        print(_scorecard_text(result, args.details))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from core.probes.runner import compare
    from core.probes.store import ProbeStore

    store = ProbeStore()
    runs = [store.load(run_id) for run_id in args.run_ids]
    rows = compare(runs)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    columns = [k for k in rows[0] if k != "capability"]
    short = {k: f"run{i + 1}" for i, k in enumerate(columns)}
    for key, name in short.items():
        print(f"{name}: {key}")
    print(_table([{"capability": r["capability"], **{short[k]: r[k] for k in columns}} for r in rows],
                 ["capability", *short.values()]))  # fmt: skip
    return 0


def cmd_capabilities(args: argparse.Namespace) -> int:
    rows = [{"capability": c, "title": CAPABILITY_TITLES[c], "probes": n} for c, n in counts().items()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(_table(rows, ["capability", "title", "probes"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.probes", description="Capability probe suite.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the probes on a model and save the scorecard")
    run.add_argument("--model", default=DEFAULT_ALIAS, help="alias, local path or hub id")
    run.add_argument("--quant", default="auto", choices=QUANTS)
    run.add_argument("--device", default="auto", choices=DEVICES)
    run.add_argument("--thinking", action="store_true", help="Qwen3 thinking mode")
    run.add_argument("--thinking-budget", type=int, default=1024, help="extra tokens for reasoning (thinking mode)")
    run.add_argument("--only", default=None, help=f"comma-separated capabilities: {', '.join(CAPABILITIES)}")
    run.add_argument("--json", action="store_true", help="print the whole result as JSON")
    run.add_argument("--details", action="store_true", help="also print one row per probe")
    run.add_argument("--export", default=None, metavar="FILE", help="also write the result to FILE (.json or .csv)")
    run.add_argument("--no-save", action="store_true", help="do not store the run")
    run.set_defaults(func=cmd_run)

    listing = sub.add_parser("list", help="list saved runs, newest first")
    listing.add_argument("--model", default=None, help="only this model's runs")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="print a saved run")
    show.add_argument("run_id")
    group = show.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true")
    group.add_argument("--csv", choices=("probe", "capability"), help="CSV, one row per probe or per capability")
    show.add_argument("--details", action="store_true", help="also print one row per probe")
    show.set_defaults(func=cmd_show)

    comp = sub.add_parser("compare", help="saved runs side by side")
    comp.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    comp.add_argument("--json", action="store_true")
    comp.set_defaults(func=cmd_compare)

    caps = sub.add_parser("capabilities", help="list the capabilities and their probe counts")
    caps.add_argument("--json", action="store_true")
    caps.set_defaults(func=cmd_capabilities)
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
    except (ValueError, OSError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
