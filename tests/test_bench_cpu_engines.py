"""bench/cpu_engines.py: the arithmetic of its figures and ratios, and a quick real run's JSON shape."""

from __future__ import annotations

import json
import os

import pytest

from bench import cpu_engines
from bench.cpu_engines import PATHS, main, ratios, summarize, tokens_per_s


def test_tokens_per_s_counts_the_tokens_after_the_first():
    """10 tokens with the first at 1 s and the last at 4 s: 9 tokens decoded in 3 s = 3 tokens/s; fewer
    than two tokens, or no elapsed time, give no rate instead of a division by zero."""
    assert tokens_per_s(10, 1.0, 4.0) == pytest.approx(3.0)
    assert tokens_per_s(1, 1.0, 4.0) is None and tokens_per_s(5, 2.0, 2.0) is None and tokens_per_s(5, None, 1.0) is None


def test_summary_takes_medians_and_ratios_pick_the_best_playground_path():
    """Medians are the middle run; the best playground path is the fastest of transformers / llama engine
    / remote engine (never a bare path), divided by bare llama.cpp; remote engine / bare client is the
    client overhead ratio; a missing path leaves its ratio None."""
    runs = [{"tokens": 8, "ttft_s": t, "tokens_per_s": r} for t, r in ((0.3, 10.0), (0.1, 30.0), (0.2, 20.0))]
    row = summarize(runs)
    assert row["tokens_per_s"] == 20.0 and row["ttft_s"] == 0.2 and row["tokens_per_s_range"] == [10.0, 30.0]
    assert row["completion_tokens"] == [8, 8, 8]
    summary = {"transformers": {"tokens_per_s": 10.0}, "llama_engine": {"tokens_per_s": 19.0},
               "remote_engine": {"tokens_per_s": 18.0}, "bare_client": {"tokens_per_s": 18.5},
               "bare_llama": {"tokens_per_s": 20.0}}  # fmt: skip
    r = ratios(summary)
    assert r["best_playground_path"] == "llama_engine"
    assert r["best_playground_vs_bare_llama"] == pytest.approx(19.0 / 20.0)
    assert r["remote_engine_vs_bare_client"] == pytest.approx(18.0 / 18.5)
    partial = ratios({"transformers": {"tokens_per_s": 10.0}})
    assert partial["best_playground_path"] == "transformers" and partial["best_playground_vs_bare_llama"] is None


def test_bad_arguments_exit_2(capsys):
    """An unknown path or fewer than two tokens is refused before anything loads."""
    assert main(["--paths", "nope"]) == 2 and "unknown paths" in capsys.readouterr().err
    assert main(["--new-tokens", "1"]) == 2


@pytest.mark.offline_model
@pytest.mark.server
def test_quick_run_prints_every_llama_path_with_exact_token_counts(capsys):
    """A real run with 4 tokens on the llama.cpp paths (engine, server via the remote engine, bare client,
    bare llama.cpp): the JSON holds each path's median figures, every engine path decoded exactly 4
    tokens (EOS ignored; the server's prompt asks for a long list), and the ratios are the quotients
    of the medians printed."""
    from core.llama_engine import available
    from tests.conftest import offline_bundle_available

    if not (available() and offline_bundle_available()):
        if os.environ.get("PLAYGROUND_REQUIRE_LLAMA") == "1":
            pytest.fail("PLAYGROUND_REQUIRE_LLAMA=1 but llama-cpp-python or the offline bundle is missing")
        pytest.skip("needs llama-cpp-python (make llama) and the offline bundle")
    paths = [p for p in PATHS if p != "transformers"]
    assert main(["--new-tokens", "4", "--runs", "1", "--threads", "1", "--paths", ",".join(paths), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["paths"]) == paths and result["new_tokens"] == 4 and result["threads"] == 1
    for path in paths:
        row = result["paths"][path]
        assert row["completion_tokens"] == [4], path
        assert row["tokens_per_s"] > 0 and row["ttft_s"] > 0
    rows, r = result["paths"], result["ratios"]
    best = r["best_playground_path"]
    assert best in cpu_engines.PLAYGROUND_PATHS
    assert r["best_playground_vs_bare_llama"] == pytest.approx(rows[best]["tokens_per_s"] / rows["bare_llama"]["tokens_per_s"])
    assert r["remote_engine_vs_bare_client"] == pytest.approx(
        rows["remote_engine"]["tokens_per_s"] / rows["bare_client"]["tokens_per_s"]
    )
