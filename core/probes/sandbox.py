"""Run a model's Python code against small given tests, in a separate process with limits.

Contract of :func:`run_python`:
- ``code`` is executed once in a fresh interpreter (``python -I -S``: no user
  site, no site-packages, no PYTHON* variables), then each test (a string of
  Python, typically ``assert f(2) == 4``) runs in the same namespace; each test
  passes when it raises nothing.
- The result's ``status`` is ``passed`` (every test passed), ``failed`` (the
  code ran, some test failed), ``timeout`` (the wall-clock limit was reached and
  the whole process group was killed) or ``error`` (the code did not compile or
  crashed on import, or the process died, e.g. on a resource limit).
- stdout/stderr are kept up to ``output_bytes`` each (the tail when longer);
  a flood of output never reaches the parent's memory.
- It never raises for anything the code does.

Limits (best effort, **not a security boundary**: run only code you would run
yourself; the point is to keep an honest mistake, such as an infinite loop or a
stray download, from hurting the run):
- a temporary directory as the working directory and ``HOME``, deleted afterwards;
- an environment with only ``PATH``, ``LANG`` and ``PYTHONIOENCODING``: no proxy
  variables, no tokens;
- on POSIX, ``RLIMIT_CPU``, ``RLIMIT_AS`` (memory), ``RLIMIT_FSIZE`` and no core
  files, set by the child itself before the code runs;
- network: where ``unshare --net`` works (Linux with user namespaces, or as root)
  the process runs in an empty network namespace; in every case the harness
  first replaces ``socket.socket``, ``getaddrinfo`` and friends, and the
  process-spawning functions of ``os`` and ``subprocess``, with ones that raise.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["passed", "failed", "timeout", "error"]
RESULT_MARKER = "@@PROBE_SANDBOX_RESULT@@"
MAX_CODE_CHARS = 200_000
MAX_TESTS = 100


@dataclass(frozen=True)
class SandboxLimits:
    """How long and how much the code may use."""

    timeout_s: float = 5.0
    memory_mb: int = 512
    output_bytes: int = 16_000  # kept per stream (the tail)
    file_size_mb: int = 8  # largest file the code may write (stdout is a file too)

    def __post_init__(self) -> None:
        if not 0.1 <= self.timeout_s <= 600:
            raise ValueError("timeout_s must be between 0.1 and 600 seconds.")
        if not 64 <= self.memory_mb <= 65_536:
            raise ValueError("memory_mb must be between 64 and 65536.")
        if not 256 <= self.output_bytes <= 10_000_000:
            raise ValueError("output_bytes must be between 256 and 10,000,000.")
        if not 1 <= self.file_size_mb <= 1024:
            raise ValueError("file_size_mb must be between 1 and 1024.")


@dataclass
class SandboxResult:
    """What happened when the code and its tests ran."""

    status: Status
    passed: int = 0
    total: int = 0
    failures: list[str] = field(default_factory=list)  # one line per failing test (or the crash)
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    truncated: bool = False  # some output was cut to the limit
    network_namespace: bool = False  # ran in an empty network namespace (unshare)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def summary(self) -> str:
        if self.status == "timeout":
            return "timed out (killed)"
        if self.status == "error":
            return f"error: {self.failures[0] if self.failures else self.stderr.strip()[-200:] or 'process failed'}"
        text = f"{self.passed}/{self.total} tests passed"
        return f"{text}; first failure: {self.failures[0]}" if self.failures else text


# The harness runs inside the sandboxed interpreter. It is a plain script (no imports from the
# project: -I -S leaves only the standard library) that reads the job from argv[1].
_HARNESS = r"""
import json, sys

def _limits(cpu_s, memory_bytes, file_bytes):
    try:
        import resource
    except ImportError:
        return
    for name, value in (("RLIMIT_CPU", cpu_s), ("RLIMIT_AS", memory_bytes), ("RLIMIT_FSIZE", file_bytes),
                        ("RLIMIT_CORE", 0)):
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            hard = resource.getrlimit(which)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))  # hard = soft: the code cannot raise it again
        except (ValueError, OSError):
            pass

def _blocked(*args, **kwargs):
    raise PermissionError("network and process access are disabled in the probe sandbox")

def _seal():
    import socket, _socket, os
    class BlockedSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            _blocked()
    for module in (socket, _socket):
        for name in ("socket", "SocketType"):
            if hasattr(module, name):
                setattr(module, name, BlockedSocket)
        for name in ("create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo",
                     "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
            if hasattr(module, name):
                setattr(module, name, _blocked)
    for name in ("system", "popen", "fork", "forkpty", "execv", "execve", "execl", "execle", "execlp",
                 "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp",
                 "spawnlpe", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, _blocked)
    import subprocess
    class BlockedPopen(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            _blocked()
    subprocess.Popen = BlockedPopen
    for name in ("run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"):
        setattr(subprocess, name, _blocked)

def _line(exc):
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text.splitlines()[0][:300]

def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    _limits(job["cpu_s"], job["memory_bytes"], job["file_bytes"])
    _seal()
    result = {"compiled": False, "crash": None, "results": []}
    out = sys.__stdout__
    namespace = {"__name__": "__solution__", "__builtins__": __builtins__}
    try:
        code = compile(job["code"], "solution.py", "exec")
        result["compiled"] = True
        exec(code, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt count as a crash too
        result["crash"] = _line(exc)
    if result["crash"] is None:
        for test in job["tests"]:
            try:
                exec(compile(test, "test.py", "exec"), namespace)
                result["results"].append([True, ""])
            except BaseException as exc:
                detail = "assertion failed" if isinstance(exc, AssertionError) and not str(exc) else _line(exc)
                result["results"].append([False, f"{test.strip()[:120]} -> {detail}"])
    sys.stdout.flush()
    out.write("\n" + MARKER + json.dumps(result) + "\n")
    out.flush()

MARKER = "@@PROBE_SANDBOX_RESULT@@"
main()
"""


@functools.lru_cache(maxsize=1)
def _unshare_prefix() -> tuple[str, ...]:
    """``unshare`` arguments giving an empty network namespace, or () where that is not possible here."""
    if not sys.platform.startswith("linux"):
        return ()
    tool = shutil.which("unshare")
    if tool is None:
        return ()
    for prefix in ((tool, "--net"), (tool, "--net", "--map-root-user")):
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=5, env={"PATH": os.defpath})
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return ()


def _tail(path: Path, limit: int) -> tuple[str, bool]:
    """The last ``limit`` bytes of a file as text, and whether anything was cut."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            if size > limit:
                handle.seek(size - limit)
            data = handle.read(limit)
    except OSError:
        return "", False
    return data.decode("utf-8", errors="replace"), size > limit


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _parse(stdout: str) -> tuple[dict | None, str]:
    """The harness's result line (if present) and stdout without it."""
    index = stdout.rfind(RESULT_MARKER)
    if index < 0:
        return None, stdout
    line = stdout[index + len(RESULT_MARKER) :].splitlines()[0] if stdout[index + len(RESULT_MARKER) :] else ""
    try:
        payload = json.loads(line)
    except ValueError:
        return None, stdout
    return payload, stdout[:index].rstrip("\n")


def run_python(code: str, tests: Sequence[str] = (), limits: SandboxLimits | None = None) -> SandboxResult:
    """Run ``code`` then each of ``tests`` in a sandboxed interpreter (see the module contract)."""
    limits = limits or SandboxLimits()
    if not isinstance(code, str) or "\x00" in code:
        return SandboxResult("error", total=len(tests), failures=["the code is not text"])
    if len(code) > MAX_CODE_CHARS:
        return SandboxResult("error", total=len(tests), failures=[f"the code is over {MAX_CODE_CHARS:,} characters"])
    tests = [t for t in tests if isinstance(t, str)][:MAX_TESTS]
    job = {
        "code": code,
        "tests": tests,
        "cpu_s": int(limits.timeout_s) + 1,
        "memory_bytes": limits.memory_mb * 2**20,
        "file_bytes": limits.file_size_mb * 2**20,
    }
    prefix = _unshare_prefix()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="probe-sandbox-") as tmp:
        work = Path(tmp)
        (work / "harness.py").write_text(_HARNESS, encoding="utf-8")
        (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "HOME": tmp}
        command = [*prefix, sys.executable, "-I", "-S", str(work / "harness.py"), str(work / "job.json")]
        out_path, err_path = work / "stdout.txt", work / "stderr.txt"
        timed_out = False
        with out_path.open("wb") as out, err_path.open("wb") as err:
            try:
                process = subprocess.Popen(
                    command, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                    start_new_session=True, close_fds=True,
                )  # fmt: skip
            except OSError as exc:
                return SandboxResult("error", total=len(tests), failures=[f"could not start Python: {exc}"])
            try:
                returncode = process.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process)
                returncode = process.returncode
        duration = time.perf_counter() - started
        # The result line is at the very end of stdout, so reading the tail always finds it.
        stdout, cut_out = _tail(out_path, limits.output_bytes + 4096)
        stderr, cut_err = _tail(err_path, limits.output_bytes)
    payload, stdout = _parse(stdout)
    if len(stdout) > limits.output_bytes:
        stdout, cut_out = stdout[-limits.output_bytes :], True
    result = SandboxResult(
        "error", total=len(tests), stdout=stdout, stderr=stderr, duration_s=round(duration, 3),
        truncated=cut_out or cut_err, network_namespace=bool(prefix),
    )  # fmt: skip
    if timed_out:
        result.status = "timeout"
        result.failures = [f"no result within {limits.timeout_s:g} s"]
        return result
    if payload is None:
        signal_name = ""
        if returncode is not None and returncode < 0:
            with contextlib.suppress(ValueError):
                signal_name = f" ({signal.Signals(-returncode).name})"
        last = stderr.strip().splitlines()[-1][:300] if stderr.strip() else ""
        result.failures = [f"the process died with status {returncode}{signal_name}{': ' + last if last else ''}"]
        return result
    if payload.get("crash"):
        where = "running the code" if payload.get("compiled") else "compiling the code"
        result.failures = [f"{where}: {payload['crash']}"]
        return result
    outcomes = payload.get("results", [])
    result.passed = sum(1 for ok, _ in outcomes if ok)
    result.failures = [detail for ok, detail in outcomes if not ok]
    result.status = "passed" if result.passed == len(tests) else "failed"
    return result
