"""bench.probe_layers on the tiny random model: the leave-one-set-out loop, not the figures (random weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.probe_layers import main
from tests.test_guardrails_semantic import tiny_items, write_jsonl


def test_each_held_out_set_is_scored_by_a_probe_trained_without_it(tmp_path: Path, tiny_qwen25_dir: Path, capsys):
    """Three small sets, two held out in turn, two layers x one C: one result per (layer, C) and held-out set,
    with rates in [0, 1] over the held-out set's own items."""
    files = [write_jsonl(tmp_path / f"set{i}.jsonl", tiny_items() * 2) for i in range(3)]
    args = ["--model", str(tiny_qwen25_dir), "--quant", "fp32", "--device", "cpu", "--layers", "1,2", "--c", "0.05",
            "--files", ",".join(map(str, files)), "--held-out", "set1.jsonl,set2.jsonl", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == ["set0.jsonl", "set1.jsonl", "set2.jsonl"]
    assert list(out["results"]) == ["layer 1, C 0.05", "layer 2, C 0.05"]
    for per_set in out["results"].values():
        assert list(per_set) == ["set1.jsonl", "set2.jsonl"]
        for row in per_set.values():
            assert 0 <= row["block_rate_harmful"] <= 1 and 0 <= row["false_block_rate"] <= 1
            assert 0 <= row["roc_auc"] <= 1


def test_a_held_out_set_must_be_a_training_set(tmp_path: Path):
    data = write_jsonl(tmp_path / "a.jsonl", tiny_items())
    with pytest.raises(SystemExit):
        main(["--files", str(data), "--held-out", "redteam_blind4.jsonl"])
