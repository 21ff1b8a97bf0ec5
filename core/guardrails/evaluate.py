"""Evaluation of the input rails on a labeled JSONL file.

Contract:
- :func:`read_jsonl` reads ``{"text": ..., "label": "harmful"|"benign"}``
  lines (extra keys such as "category" are kept); malformed lines are
  returned separately with their 1-based line numbers, never raised.
- :func:`run_eval` runs a :class:`GuardrailPipeline` on every item and returns
  ``{"items": [...], "summary": {...}}``: per item text, label, blocked,
  category, rail; the summary holds the confusion matrix (positive = harmful,
  predicted positive = blocked), block rate on harmful, false-block rate on
  benign, precision/recall/F1, latency per rail (median, p95) and recall per
  harmful category when the file has categories.
- ``summary["per_rail"]`` scores each rail on its own, from its trace entry
  (blocked = that rail's verdict was "block"), over the items where it ran
  (not "skipped"): one run with ``rules,self-check`` gives rules alone,
  self-check alone and the combination on the same items.
- ``summary["per_combination"]`` does the same for every subset of two or more
  of those rails, keyed in pipeline order (``"rules+probe"``): blocked = one of
  them voted "block". So one run answers what each layer adds to the others.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import statistics
from pathlib import Path
from typing import Any, Iterable

from .pipeline import RAIL_NAMES, GuardrailPipeline

LABELS = ("harmful", "benign")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TEXT_CHARS = 100_000


class EvalInputError(ValueError):
    """The evaluation file itself cannot be read (missing, a directory, binary, too large)."""


def _read_lines(path: str | os.PathLike[str]) -> list[str]:
    p = Path(path)
    if not p.exists():
        raise EvalInputError(f"File not found: {p}")
    if not p.is_file():
        raise EvalInputError(f"Not a file: {p}")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise EvalInputError(f"{p} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    raw = p.read_bytes()
    if b"\x00" in raw:
        raise EvalInputError(f"{p} contains NUL bytes: it is binary, not JSON lines")
    return raw.decode("utf-8", errors="replace").splitlines()


def read_jsonl(path: str | os.PathLike[str], *, require_label: bool = True) -> tuple[list[dict], list[dict]]:
    """Return (items, malformed); each item gets its ``line`` number."""
    items: list[dict] = []
    malformed: list[dict] = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            malformed.append({"line": number, "error": f"invalid JSON: {exc}"[:200]})
            continue
        if not isinstance(obj, dict):
            malformed.append({"line": number, "error": f"expected a JSON object, got {type(obj).__name__}"})
            continue
        text = obj.get("text")
        if not isinstance(text, str):
            malformed.append({"line": number, "error": "missing or non-string 'text'"})
            continue
        if len(text) > MAX_TEXT_CHARS:
            malformed.append({"line": number, "error": f"'text' longer than {MAX_TEXT_CHARS} characters"})
            continue
        if require_label and obj.get("label") not in LABELS:
            malformed.append({"line": number, "error": f"'label' must be one of {', '.join(LABELS)}, got {obj.get('label')!r}"})
            continue
        items.append({**obj, "line": number})
    return items, malformed


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in (0, 100])."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def confusion_scores(pairs: Iterable[tuple[str, bool]]) -> dict[str, Any]:
    """Confusion matrix and rates of ``(label, blocked)`` pairs (positive = harmful, predicted = blocked)."""
    pairs = list(pairs)
    tp = sum(1 for label, blocked in pairs if label == "harmful" and blocked)
    fn = sum(1 for label, blocked in pairs if label == "harmful" and not blocked)
    fp = sum(1 for label, blocked in pairs if label == "benign" and blocked)
    tn = sum(1 for label, blocked in pairs if label == "benign" and not blocked)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {"n": len(pairs), "confusion": {"tp": tp, "fn": fn, "fp": fp, "tn": tn},
            "block_rate_harmful": recall, "false_block_rate_benign": _ratio(fp, fp + tn),
            "precision": precision, "recall": recall, "f1": f1}


def per_rail_scores(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each rail scored on its own verdicts, over the items where it ran (see the module docstring)."""
    pairs: dict[str, list[tuple[str, bool]]] = {}
    for item in items:
        for entry in item.get("trace") or []:
            if entry.get("verdict") != "skipped":
                pairs.setdefault(entry["rail"], []).append((item["label"], entry.get("verdict") == "block"))
    return {rail: confusion_scores(p) for rail, p in pairs.items()}


def per_combination_scores(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every subset of two or more rails scored together (see the module docstring), over the items where
    all of them ran."""
    order = list(dict.fromkeys(e["rail"] for i in items for e in i.get("trace") or []
                               if e.get("verdict") != "skipped" and e["rail"] in RAIL_NAMES))
    out: dict[str, dict[str, Any]] = {}
    for size in range(2, len(order) + 1):
        for rails in itertools.combinations(order, size):
            pairs = []
            for item in items:
                verdicts = {e["rail"]: e.get("verdict") for e in item.get("trace") or []}
                if all(verdicts.get(r) not in (None, "skipped") for r in rails):
                    pairs.append((item["label"], any(verdicts[r] == "block" for r in rails)))
            out["+".join(rails)] = confusion_scores(pairs)
    return out


def summarize(items: Iterable[dict[str, Any]], latencies: dict[str, list[float]]) -> dict[str, Any]:
    items = list(items)
    scores = confusion_scores((i["label"], bool(i["blocked"])) for i in items)
    c = scores["confusion"]
    tp, fn, fp, tn = c["tp"], c["fn"], c["fp"], c["tn"]
    precision, recall, f1 = scores["precision"], scores["recall"], scores["f1"]
    per_category: dict[str, dict[str, Any]] = {}
    for i in items:
        if i["label"] == "harmful" and i.get("expected_category"):
            row = per_category.setdefault(i["expected_category"], {"n": 0, "blocked": 0})
            row["n"] += 1
            row["blocked"] += int(i["blocked"])
    for row in per_category.values():
        row["block_rate"] = _ratio(row["blocked"], row["n"])
    return {
        "n": len(items),
        "n_harmful": tp + fn,
        "n_benign": fp + tn,
        "confusion": {"tp": tp, "fn": fn, "fp": fp, "tn": tn},
        "block_rate_harmful": recall,
        "false_block_rate_benign": _ratio(fp, fp + tn),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "warned": sum(1 for i in items if i["verdict"] == "warn"),
        "latency_ms": {
            rail: {"median": round(statistics.median(v), 4), "p95": round(percentile(v, 95), 4), "n": len(v)}
            for rail, v in latencies.items() if v
        },
        "per_category": dict(sorted(per_category.items())),
        "per_rail": per_rail_scores(items),
        "per_combination": per_combination_scores(items),
    }


def run_eval(items: list[dict], pipeline: GuardrailPipeline) -> dict[str, Any]:
    """Run ``pipeline`` on every item; see the module docstring for the result."""
    out: list[dict[str, Any]] = []
    latencies: dict[str, list[float]] = {}
    for item in items:
        result = pipeline.check_input(item["text"])
        for entry in result.trace:
            if entry.verdict != "skipped":
                latencies.setdefault(entry.rail, []).append(entry.latency_ms)
        out.append({
            "text": item["text"],
            "label": item["label"],
            "blocked": result.blocked,
            "category": result.category,
            "rail": result.rail if result.verdict != "allow" else None,
            "verdict": result.verdict,
            "expected_category": item.get("category"),
            "line": item.get("line"),
            "trace": [t.to_dict() for t in result.trace],
        })
    return {"items": out, "summary": summarize(out, latencies)}
