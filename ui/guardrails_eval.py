"""The red-team panel's work, in plain Python: data sets, uploads, a run with progress, tables and exports.

Contract:
- :data:`BUNDLED` names the bundled labeled sets (``core/guardrails/data``).
- :func:`read_upload` reads an uploaded JSONL file with core's own reader
  (:func:`core.guardrails.evaluate.read_jsonl`): it returns ``(items, malformed)``,
  malformed lines with their 1-based numbers and the reason, the others kept; a file
  over :data:`MAX_UPLOAD_BYTES`, binary or empty raises :class:`UploadError`.
- :func:`balanced_subset` keeps at most ``n`` items, alternating harmful and benign
  (a bundled file lists all harmful prompts first, so "the first N" would be one-sided).
- :func:`evaluate` is :func:`core.guardrails.evaluate.run_eval` one item at a time, so
  a progress callback can follow it; its report has the same shape (``items``,
  ``summary`` from core's :func:`~core.guardrails.evaluate.summarize`).
- :func:`confusion_frame`, :func:`latency_frame`, :func:`category_frame`,
  :func:`errors_frame` and :func:`report_csv` / :func:`report_json` shape a report for
  the page and the downloads.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.guardrails import CATEGORY_TITLES, GuardrailPipeline
from core.guardrails import semantic
from core.guardrails.evaluate import LABELS, EvalInputError, read_jsonl, run_eval, summarize

DATA_DIR = Path(__file__).resolve().parents[1] / "core" / "guardrails" / "data"
BUNDLED: dict[str, Path] = {
    "Bundled: development set": DATA_DIR / "redteam.jsonl",
    "Bundled: holdout set": DATA_DIR / "redteam_holdout.jsonl",
    "Bundled: fresh set": DATA_DIR / "redteam_fresh.jsonl",
    "Bundled: blind set": DATA_DIR / "redteam_blind.jsonl",
    "Bundled: blind set 2": DATA_DIR / "redteam_blind2.jsonl",
    "Bundled: blind set 3": DATA_DIR / "redteam_blind3.jsonl",
    "Bundled: blind set 4": DATA_DIR / "redteam_blind4.jsonl",
}
# The bundled sets the semantic and probe rails are trained on: their numbers on them are in-sample.
TRAINING_SETS: frozenset[str] = frozenset(
    name for name, path in BUNDLED.items() if path in semantic.DEFAULT_TRAINING_FILES)
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_SHOWN_MALFORMED = 50

Progress = Callable[[int, int], None]


class UploadError(ValueError):
    """The uploaded file as a whole cannot be used (too large, binary, empty, no valid line)."""


@dataclass
class RedTeamResult:
    """One finished red-team run and what it was run on."""

    dataset: str
    rails: tuple[str, ...]
    policy_name: str
    n_available: int
    report: dict[str, Any]
    malformed: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return self.report["summary"]


def read_bundled(name: str) -> tuple[list[dict], list[dict]]:
    return read_jsonl(BUNDLED[name])


def read_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[list[dict], list[dict]]:
    """Items and malformed lines of an uploaded JSONL file (see the module docstring)."""
    if len(data) > max_bytes:
        raise UploadError(f"The file is {len(data) / 2**20:.1f} MiB; the limit here is {max_bytes / 2**20:.0f} MiB.")
    if not data.strip():
        raise UploadError("The file is empty.")
    fd, path = tempfile.mkstemp(suffix=".jsonl")  # core's reader takes a path and does the checks
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        items, malformed = read_jsonl(path)
    except EvalInputError as exc:
        raise UploadError(str(exc).replace(path, "the file")) from None
    finally:
        Path(path).unlink(missing_ok=True)
    if not items:
        raise UploadError(
            f"No usable line: all {len(malformed)} non-empty lines are malformed.",
        )
    return items, malformed


def balanced_subset(items: list[dict], n: int | None) -> list[dict]:
    """At most ``n`` items (all when None or 0), alternating harmful and benign, each in file order."""
    if not n or n >= len(items):
        return list(items)
    queues = {label: [k for k, item in enumerate(items) if item["label"] == label] for label in LABELS}
    cursor = dict.fromkeys(LABELS, 0)
    chosen: list[int] = []
    while len(chosen) < n:
        for label in LABELS:
            if cursor[label] < len(queues[label]) and len(chosen) < n:
                chosen.append(queues[label][cursor[label]])
                cursor[label] += 1
    return [items[k] for k in sorted(chosen)]


def evaluate(items: list[dict], pipeline: GuardrailPipeline, progress: Progress | None = None) -> dict[str, Any]:
    """``run_eval`` item by item, calling ``progress(done, total)`` after each."""
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(items, start=1):
        rows.extend(run_eval([item], pipeline)["items"])
        if progress is not None:
            progress(index, len(items))
    latencies: dict[str, list[float]] = {}
    for row in rows:
        for entry in row["trace"]:
            if entry["verdict"] != "skipped":  # as run_eval counts them
                latencies.setdefault(entry["rail"], []).append(entry["latency_ms"])
    return {"items": rows, "summary": summarize(rows, latencies)}


# --- tables ---------------------------------------------------------------------------------------------------


def rate(value: float | None) -> str:
    """A rate as the page shows it: a percentage with one decimal, or "n/a"."""
    return "n/a" if value is None else f"{value:.1%}"


def confusion_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """Rows: the true label; columns: what the rails did (positive = harmful, predicted positive = blocked)."""
    c = summary["confusion"]
    return pd.DataFrame(
        {"blocked": [c["tp"], c["fp"]], "allowed": [c["fn"], c["tn"]], "total": [c["tp"] + c["fn"], c["fp"] + c["tn"]]},
        index=pd.Index(["harmful", "benign"], name="label"),
    )


def latency_frame(summary: dict[str, Any]) -> pd.DataFrame:
    rows = [{"rail": rail, "median (ms)": v["median"], "p95 (ms)": v["p95"], "prompts": v["n"]}
            for rail, v in summary["latency_ms"].items()]  # fmt: skip
    return pd.DataFrame(rows, columns=["rail", "median (ms)", "p95 (ms)", "prompts"])


def category_frame(summary: dict[str, Any]) -> pd.DataFrame:
    rows = [{"category": CATEGORY_TITLES.get(cat, cat), "harmful prompts": row["n"], "blocked": row["blocked"],
             "block rate": row["block_rate"]} for cat, row in summary["per_category"].items()]  # fmt: skip
    return pd.DataFrame(rows, columns=["category", "harmful prompts", "blocked", "block rate"])


def misclassified(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Harmful prompts let through and benign prompts blocked."""
    return [i for i in report["items"] if i["blocked"] != (i["label"] == "harmful")]


def errors_frame(report: dict[str, Any]) -> pd.DataFrame:
    rows = [{"line": i.get("line"), "error": "missed harmful" if i["label"] == "harmful" else "false block",
             "text": i["text"], "verdict": i["verdict"], "category": i["category"] or "", "rail": i["rail"] or "",
             "expected category": i.get("expected_category") or ""} for i in misclassified(report)]  # fmt: skip
    return pd.DataFrame(rows, columns=["line", "error", "text", "verdict", "category", "rail", "expected category"])


CSV_FIELDS = ("line", "label", "blocked", "verdict", "category", "rail", "expected_category", "text", "latency_ms")


def report_csv(report: dict[str, Any]) -> str:
    """One row per prompt; ``latency_ms`` is "rail=ms" pairs of its trace."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for item in report["items"]:
        latency = "; ".join(f"{t['rail']}={t['latency_ms']:.3f}" for t in item["trace"] if t["verdict"] != "skipped")
        writer.writerow({**item, "latency_ms": latency})
    return out.getvalue()


def report_json(result: RedTeamResult) -> str:
    payload = {"dataset": result.dataset, "rails": list(result.rails), "policy": result.policy_name,
               "items_available": result.n_available, "malformed": result.malformed, "notices": result.notices,
               **result.report}  # fmt: skip
    return json.dumps(payload, ensure_ascii=False, indent=2)
