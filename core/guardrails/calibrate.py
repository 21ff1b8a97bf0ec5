"""Calibrating the scoring self-check's threshold on a development-set evaluation.

Contract:
- :func:`self_check_margins` reads the self-check margins (trace ``score``)
  out of an ``eval --json`` report, per label; items whose self-check did not
  produce a margin (skipped, error, generated verdicts) are left out.
- :func:`calibrate_threshold` returns the smallest threshold, rounded up to
  ``step``, at which at most ``max_false_block_rate`` of the benign margins
  reach it (a margin at or above the threshold blocks), with the block rate
  on harmful items that threshold gives. It never looks at anything but the
  margins it is given: run it on the development set only, then report the
  threshold's effect on a holdout that took no part in choosing it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable

DEFAULT_MAX_FALSE_BLOCK_RATE = 0.02
DEFAULT_STEP = 0.01


@dataclass(frozen=True)
class Calibration:
    threshold: float
    max_false_block_rate: float
    false_block_rate: float | None  # of the benign margins, at the threshold
    block_rate_harmful: float | None  # of the harmful margins, at the threshold
    n_benign: int
    n_harmful: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def self_check_margins(report: dict[str, Any], rail: str = "self-check") -> dict[str, list[float]]:
    """``{"harmful": [...], "benign": [...]}``: the margins of ``rail`` in an ``eval --json`` report."""
    out: dict[str, list[float]] = {"harmful": [], "benign": []}
    for item in report.get("items", []):
        for entry in item.get("trace") or []:
            score = entry.get("score")
            if (entry.get("rail") == rail and entry.get("rule") == "logprob-margin"
                    and isinstance(score, (int, float)) and math.isfinite(score) and item.get("label") in out):
                out[item["label"]].append(float(score))
    return out


def _rate(values: list[float], threshold: float) -> float | None:
    return round(sum(v >= threshold for v in values) / len(values), 4) if values else None


def calibrate_threshold(
    benign: Iterable[float],
    harmful: Iterable[float] = (),
    max_false_block_rate: float = DEFAULT_MAX_FALSE_BLOCK_RATE,
    step: float = DEFAULT_STEP,
) -> Calibration:
    """See the module docstring. Raises ValueError without benign margins or with a rate outside [0, 1)."""
    benign, harmful = sorted(benign, reverse=True), list(harmful)
    if not benign:
        raise ValueError("no benign self-check margins to calibrate on (run eval with --rails self-check first)")
    if not 0 <= max_false_block_rate < 1:
        raise ValueError(f"max_false_block_rate must be in [0, 1), got {max_false_block_rate}")
    allowed = math.floor(max_false_block_rate * len(benign) + 1e-9)  # benign items that may reach the threshold
    # The (allowed+1)-th highest benign margin must stay below the threshold: the next step above it.
    threshold = (math.floor(benign[allowed] / step) + 1) * step
    threshold = round(threshold, 6)
    return Calibration(threshold, max_false_block_rate, _rate(benign, threshold), _rate(harmful, threshold),
                       len(benign), len(harmful))
