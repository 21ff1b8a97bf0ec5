"""`python -m core` as a user runs it (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, env=env, timeout=120)


def test_generate_json_with_a_local_model(tiny_qwen25_dir):
    """--json prints one object with the text, reasoning and every metric."""
    result = _run("generate", "--model", str(tiny_qwen25_dir), "--prompt", "hi", "--temperature", "0",
                  "--max-new-tokens", "5", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert {"text", "reasoning", "metrics"} <= payload.keys()
    assert {"ttft_s", "decode_tokens_per_s", "prompt_tokens", "completion_tokens", "peak_memory_bytes",
            "stop_reason", "total_s"} <= payload["metrics"].keys()  # fmt: skip
    assert payload["metrics"]["completion_tokens"] <= 5


def test_generate_streams_text(tiny_qwen3_dir):
    """Without --json the reply goes to stdout and the metrics line to stderr."""
    result = _run("generate", "--model", str(tiny_qwen3_dir), "--prompt", "hi", "--max-new-tokens", "4",
                  "--seed", "1", "--system", "Be brief.")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "tokens, TTFT" in result.stderr


def test_models_lists_the_registry():
    """`models --json` lists every alias with its offline availability."""
    result = _run("models", "--json")
    rows = json.loads(result.stdout)
    aliases = {r["alias"] for r in rows}
    assert {"qwen2.5-1.5b-instruct", "qwen3-4b", "qwen2.5-coder-0.5b-offline"} <= aliases
    assert all("offline" in r for r in rows)


def test_errors_exit_2_with_a_hint():
    """A hub id here fails fast with the message and the offline hint, exit status 2."""
    result = _run("generate", "--model", "Qwen/Qwen3-4B", "--prompt", "hi")
    assert result.returncode == 2
    assert "hint:" in result.stderr and "offline" in result.stderr


def test_invalid_parameter_exit_2(tiny_qwen25_dir):
    """An out-of-range temperature is reported, not a traceback."""
    result = _run("generate", "--model", str(tiny_qwen25_dir), "--prompt", "hi", "--temperature", "9")
    assert result.returncode == 2
    assert "temperature" in result.stderr and "Traceback" not in result.stderr
