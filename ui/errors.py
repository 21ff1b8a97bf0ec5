"""Show errors in the page instead of letting them take the app down.

- :func:`show_error` renders a :class:`core.errors.PlaygroundError` as its
  message plus hint; any other exception as its type and text with the
  traceback folded away.
- :func:`guard` is a context manager for a page or panel body: an exception
  inside is shown (in ``container`` when given) and the rest of the app keeps
  running. Streamlit's own control flow (rerun, stop) derives from
  BaseException and passes through untouched.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from core.errors import PlaygroundError

log = logging.getLogger("playground.ui")


def error_text(exc: BaseException) -> str:
    """Markdown for an error: the message in bold, the hint below it."""
    if isinstance(exc, PlaygroundError):
        return f"**{exc.message}**" + (f"\n\n{exc.hint}" if exc.hint else "")
    return f"**{type(exc).__name__}:** {exc}"


def show_error(exc: BaseException, container: Any = None, *, label: str | None = None) -> None:
    where = container if container is not None else st
    if isinstance(exc, PlaygroundError):
        where.error(error_text(exc), icon=":material/error:")
        return
    log.error("unexpected error in %s", label or "the app", exc_info=exc)
    prefix = f"{label} failed. " if label else ""
    where.error(f"{prefix}{error_text(exc)}", icon=":material/bug_report:")
    with where.expander("Details"):
        st.code("".join(traceback.format_exception(exc)), language="text")


@contextmanager
def guard(label: str, container: Any = None) -> Iterator[None]:
    """Run a page or panel; show any exception from it instead of crashing the app."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the point: one broken panel must not take the app down
        show_error(exc, container, label=label)
