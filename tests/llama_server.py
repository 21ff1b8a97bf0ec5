"""A real llama.cpp server (``python -m llama_cpp.server``) serving the offline 0.5B GGUF, for tests.

:class:`LlamaServer` starts it on a free local port behind ``--api_key``, waits until
``/v1/models`` answers (or the process dies, which fails with its log), and stops it (or kills
it mid-stream, for the failure tests). :func:`require_llama` skips a test when llama-cpp-python
(with its server extra) is not installed or the offline bundle is not fetched, and fails instead
when ``PLAYGROUND_REQUIRE_LLAMA=1`` (set by ``make test``, which installs it).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.net import free_port

ALIAS = "qwen2.5-coder-0.5b-instruct-q4_k_m"
API_KEY = "sk-llama-test-0123456789abcdef"
N_CTX = 4096
READY_TIMEOUT_S = 120.0


def llama_missing() -> str | None:
    """Why the real server cannot run here, or None."""
    for module in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (make llama installs llama-cpp-python[server])"
    if offline_gguf() is None:
        return "the offline bundle is not fetched (python -m core fetch qwen2.5-coder-0.5b-offline)"
    return None


def require_llama() -> None:
    reason = llama_missing()
    if reason is None:
        return
    if os.environ.get("PLAYGROUND_REQUIRE_LLAMA") == "1":
        pytest.fail(f"PLAYGROUND_REQUIRE_LLAMA=1 but {reason}")
    pytest.skip(reason)


def offline_gguf() -> Path | None:
    """The offline 0.5B bundle's GGUF file when fetched (core.fetch knows where it lives)."""
    from core.fetch import bundle_path, is_fetched
    from core.registry import OFFLINE_05B

    return bundle_path(OFFLINE_05B) if is_fetched(OFFLINE_05B) else None


def offline_tokenizer_dir() -> Path | None:
    """The tokenizer directory the loader caches next to the GGUF (the same tokenizer the server uses)."""
    gguf = offline_gguf()
    if gguf is None:
        return None
    cached = gguf.parent / f"{gguf.name}.tokenizer"
    if not (cached / "tokenizer_config.json").is_file():
        from core.loading import Source, _load_tokenizer

        _load_tokenizer(Source(str(gguf.parent), gguf_file=gguf.name))  # writes the cache
    return cached


class LlamaServer:
    def __init__(self, log_dir: Path, *, n_ctx: int = N_CTX, api_key: str = API_KEY) -> None:
        gguf = offline_gguf()
        assert gguf is not None, "require_llama() first"
        self.gguf, self.n_ctx, self.api_key = gguf, n_ctx, api_key
        self.port = free_port()
        self.log_path = log_dir / f"llama-server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint_table(self, **extra: object) -> dict[str, object]:
        """A PLAYGROUND_ENDPOINTS entry for this server (the key goes through secrets or api_key_env)."""
        table: dict[str, object] = {"base_url": self.base_url, "model": ALIAS, "context_length": self.n_ctx,
                                    "connect_timeout_s": 2, "read_timeout_s": 60}  # fmt: skip
        tokenizer = offline_tokenizer_dir()
        if tokenizer is not None:
            table["tokenizer"] = str(tokenizer)
        return {**table, **extra}

    def start(self) -> LlamaServer:
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--model_alias", ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", "2", "--n_ctx", str(self.n_ctx),
            "--api_key", self.api_key, "--verbose", "false",
        ]  # fmt: skip
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        headers = {"Authorization": f"Bearer {self.api_key}"}
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", headers=headers, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server not ready after {READY_TIMEOUT_S:.0f} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the server dies at once, mid-stream if it was streaming."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
