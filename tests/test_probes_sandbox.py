"""The code-probe sandbox: results, timeouts, no network, bounded output, a clean environment.

The sandbox is best effort (see core/probes/sandbox.py), so these tests pin the
promises it does make: a hung program is killed on time, the socket layer
refuses to connect, a flood of output is cut, and nothing from the caller's
environment (proxies, tokens, working directory) leaks in.
"""

from __future__ import annotations

import time

import pytest

from core.probes.sandbox import SandboxLimits, run_python

DOUBLE = "def double(x):\n    return 2 * x\n"


def test_passing_code():
    """Every assert holds: status passed, all counted."""
    result = run_python(DOUBLE, ["assert double(2) == 4", "assert double(-1) == -2"])
    assert result.status == "passed" and (result.passed, result.total) == (2, 2) and result.ok


def test_failing_test_is_reported_with_its_text():
    """A wrong expectation fails that test only; the failure names the test."""
    result = run_python(DOUBLE, ["assert double(2) == 4", "assert double(3) == 7"])
    assert result.status == "failed" and result.passed == 1
    assert result.failures == ["assert double(3) == 7 -> assertion failed"]


def test_exception_in_a_test_is_a_failure_not_a_crash():
    """A NameError inside one test fails that test; the next test still runs."""
    result = run_python(DOUBLE, ["assert triple(1) == 3", "assert double(1) == 2"])
    assert result.status == "failed" and result.passed == 1 and "NameError" in result.failures[0]


def test_syntax_error_and_import_crash_are_errors():
    """Code that does not compile, or raises at import time (even SystemExit), runs no test."""
    broken = run_python("def f(:\n    pass\n", ["assert True"])
    assert broken.status == "error" and "SyntaxError" in broken.failures[0] and broken.passed == 0
    exits = run_python("raise SystemExit(0)\n", ["assert True"])
    assert exits.status == "error" and "SystemExit" in exits.failures[0]


def test_infinite_loop_times_out_and_is_killed():
    """`while True: pass` is stopped at the wall-clock limit, not left running."""
    started = time.perf_counter()
    result = run_python("while True:\n    pass\n", ["assert True"], SandboxLimits(timeout_s=1.0))
    assert result.status == "timeout"
    assert time.perf_counter() - started < 8  # 1 s limit + interpreter start-up + kill, on a busy machine


def test_sleeping_code_times_out_too():
    """A loop that sleeps in C (not burning CPU) is caught by the wall clock too."""
    result = run_python("import time\ntime.sleep(30)\n", [], SandboxLimits(timeout_s=1.0))
    assert result.status == "timeout"


def test_network_is_blocked():
    """Connecting to a local port fails with the sandbox's PermissionError (or no network at all)."""
    result = run_python(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "    outcome = 'connected'\nexcept OSError as exc:\n    outcome = type(exc).__name__ + ': ' + str(exc)\n",
        ["assert outcome != 'connected', outcome", "assert 'disabled in the probe sandbox' in outcome, outcome"],
    )
    assert result.status == "passed", result.failures


def test_raw_socket_and_dns_are_blocked():
    """The low-level _socket module and name resolution are sealed as well as socket.socket."""
    code = (
        "import _socket, socket\n"
        "blocked = []\n"
        "for attempt in (lambda: _socket.socket(), lambda: socket.getaddrinfo('example.com', 80),\n"
        "                lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)):\n"
        "    try:\n        attempt()\n    except PermissionError:\n        blocked.append(True)\n"
    )
    result = run_python(code, ["assert blocked == [True, True, True], blocked"])
    assert result.status == "passed", result.failures


def test_subprocesses_are_blocked():
    """Shelling out (os.system, subprocess.run) is refused: a way around the socket patch otherwise."""
    code = (
        "import os, subprocess\nblocked = 0\n"
        "for attempt in (lambda: os.system('true'), lambda: subprocess.run(['true'])):\n"
        "    try:\n        attempt()\n    except PermissionError:\n        blocked += 1\n"
    )
    assert run_python(code, ["assert blocked == 2, blocked"]).status == "passed"


def test_huge_output_is_truncated():
    """Printing far more than the limit keeps only the tail, flags it, and the tests still count."""
    limits = SandboxLimits(output_bytes=1000)
    result = run_python("for i in range(200000):\n    print(i)\n", ["assert True"], limits)
    assert result.status == "passed"
    assert result.truncated and len(result.stdout) <= 1000 and result.stdout.endswith("199999")


def test_output_flood_beyond_the_file_limit_is_an_error_not_a_hang():
    """Writing past RLIMIT_FSIZE kills the write: an error result, and the parent never holds it all."""
    result = run_python("import sys\nsys.stdout.write('x' * (20 * 2**20))\n", [], SandboxLimits(file_size_mb=2))
    assert result.status == "error" and len(result.stdout) <= SandboxLimits().output_bytes


def test_memory_limit():
    """Allocating far more than memory_mb fails inside the sandbox (MemoryError), not in the caller."""
    result = run_python("block = bytearray(2 * 2**30)\n", ["assert True"], SandboxLimits(memory_mb=256))
    assert result.status == "error" and "MemoryError" in result.failures[0]


def test_environment_and_working_directory_are_clean(monkeypatch, tmp_path):
    """Proxies and secrets set in the caller are absent; the code runs in a fresh empty temp directory."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HF_TOKEN", "secret")
    monkeypatch.chdir(tmp_path)
    code = "import os\nenv = dict(os.environ)\ncwd = os.getcwd()\nfiles = sorted(os.listdir(cwd))\n"
    tests = [
        "assert 'HTTPS_PROXY' not in env and 'HF_TOKEN' not in env, sorted(env)",
        f"assert cwd != {str(tmp_path)!r}",
        "assert 'probe-sandbox-' in cwd",
    ]
    result = run_python(code, tests)
    assert result.status == "passed", result.failures


def test_site_packages_are_not_importable():
    """-I -S: the venv's packages (numpy here) are out of reach; the standard library is there."""
    assert run_python("import numpy\n", []).status == "error"
    assert run_python("import json, math, re, collections\n", ["assert math.sqrt(4) == 2"]).ok


def test_bad_input_is_an_error_result():
    """Non-text and NUL bytes give an error result, never an exception."""
    assert run_python("x = 1\x00", []).status == "error"
    assert run_python(None, []).status == "error"  # type: ignore[arg-type]


def test_limits_are_validated():
    """Nonsense limits are refused up front."""
    with pytest.raises(ValueError):
        SandboxLimits(timeout_s=0)
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=1)
