"""Small helpers shared by the browser tests."""

from __future__ import annotations

import time


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit's script run is over (the app root carries data-test-script-state)."""
    page.wait_for_function(
        "() => document.querySelector('[data-test-script-state]')?.dataset.testScriptState !== 'running'",
        timeout=timeout_ms,
        polling=200,
    )


def settle(page, timeout_ms: int = 60_000) -> None:
    """Wait for the rerun a widget change starts to end."""
    time.sleep(0.5)
    wait_idle(page, timeout_ms)
