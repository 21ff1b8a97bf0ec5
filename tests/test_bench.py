"""The benchmark's own arithmetic, and its quick mode as CI runs it."""

from __future__ import annotations

import json

import pytest
import torch

from bench.generate import Summary, bandwidth_bound_tokens_per_s, main, weight_bytes_read_per_token


def test_bandwidth_bound():
    """A 3.09 GB bf16 model on a 3.35 TB/s device can decode at most 3.35e12/3.09e9 ≈ 1084 tokens/s."""
    assert bandwidth_bound_tokens_per_s(3_090_000_000, 3.35e12) == pytest.approx(1084.14, rel=1e-4)
    with pytest.raises(ValueError):
        bandwidth_bound_tokens_per_s(0, 1e12)


def test_weight_bytes_tied_and_untied(tiny_qwen25):
    """Tied embeddings are read once per token (as the output head); an untied input table is a
    lookup of one row, so it is not counted."""
    model = tiny_qwen25.model
    all_params = sum(p.numel() * p.element_size() for p in model.parameters())
    assert weight_bytes_read_per_token(model) == all_params  # tiny model ties its embeddings

    class Untied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(100, 8)
            self.head = torch.nn.Linear(8, 100, bias=False)

        def get_input_embeddings(self):
            return self.embed

        def get_output_embeddings(self):
            return self.head

    untied = Untied()
    assert weight_bytes_read_per_token(untied) == 100 * 8 * 4


def test_summary_median_and_spread():
    """Median and min..max of the runs."""
    s = Summary.of([3.0, 1.0, 2.0])
    assert (s.median, s.low, s.high) == (2.0, 1.0, 3.0)


def test_quick_mode_reports_ratios(capsys):
    """The CI smoke run measures both sides on a tiny model and prints ratios and prefix-cache TTFTs."""
    assert main(["--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    compare = out["compare"]
    assert compare["engine"]["new_tokens"] == compare["baseline"]["new_tokens"] == 32  # EOS ignored on both sides
    assert compare["ratio_decode_tokens_per_s"] > 0
    assert len(out["prefix"]["cache_on"]["ttft_s"]) == 3
    on = out["prefix"]["cache_on"]["prompt_tokens"]
    assert on == out["prefix"]["cache_off"]["prompt_tokens"]  # same conversation both ways
    # Greedy decoding: reusing the KV cache may change speed, never the reply.
    assert out["prefix"]["same_replies"] is True
    # Turn 1 starts from an empty cache; every later turn reuses at least all of turn 1's prompt,
    # while the cache-off chat prefills everything every time.
    cached = out["prefix"]["cache_on"]["cached_prompt_tokens"]
    assert cached[0] == 0 and all(c >= on[0] for c in cached[1:])
    assert out["prefix"]["cache_off"]["cached_prompt_tokens"] == [0, 0, 0]


def test_plots_from_bench_json(tmp_path, capsys):
    """The plot script turns bench JSON (with a prompt sweep) into the two PNGs the docs embed."""
    from bench.plot import main as plot_main

    assert main(["--quick", "--json", "--prompt-sweep", "16,48"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["prompt_tokens"] for row in result["sweep"]] == sorted(row["prompt_tokens"] for row in result["sweep"])
    source = tmp_path / "quick.json"
    source.write_text(json.dumps(result))
    assert plot_main([str(source), "--out", str(tmp_path)]) == 0
    for name in ("tokens_per_s.png", "ttft_by_prompt.png", "ttft_by_turn.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_turn_repeats_below_one_is_refused(capsys):
    """A replay count of 0 would leave no chat to take a median of: refused before any model loads."""
    with pytest.raises(SystemExit):
        main(["--quick", "--turn-repeats", "0"])
    assert "--turn-repeats must be at least 1" in capsys.readouterr().err
