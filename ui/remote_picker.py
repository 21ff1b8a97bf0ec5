"""Remote endpoints in the model pickers: the sidebar, Compare panes and the Models page.

Contract: :func:`remote_names` lists ``remote:NAME`` for every configured endpoint
(core.endpoints; read on each run, so an edited config/endpoints.toml shows up on the next
rerun) and never raises: a broken configuration gives no remote entries, and
:func:`show_config_problem` shows its message and hint instead. :func:`remote_caption` says where
a remote model runs (URL, served model, masked key), for the caption under a picker.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.endpoints import get_endpoint, is_remote, picker_entries
from core.errors import PlaygroundError

REMOTE_QUANT_NOTE = "Runs on the server: quantization and device are the server's."


def remote_names() -> list[str]:
    return picker_entries()[0]


def show_config_problem(container: Any = None) -> None:
    """A warning with the endpoint configuration's error, when there is one."""
    error = picker_entries()[1]
    if error is not None:
        (container or st).warning(f"Remote endpoints are unavailable: {error.message} {error.hint}",
                                  icon=":material/cloud_off:")  # fmt: skip


def option_label(option: str) -> str:
    return f"{option} · remote server"


def remote_caption(name: str) -> str:
    try:
        endpoint = get_endpoint(name)
    except PlaygroundError as exc:
        return exc.message
    return f"{endpoint.display_url} · model {endpoint.model} · key {endpoint.masked_key}. {REMOTE_QUANT_NOTE}"


__all__ = ["is_remote", "option_label", "remote_caption", "remote_names", "show_config_problem"]
