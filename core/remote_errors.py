"""Typed errors of the remote engine, and the mapping from an HTTP error response to one.

Contract: every failure talking to a server is a :class:`RemoteError` (a
:class:`core.errors.PlaygroundError`) whose message names the endpoint and what happened and
whose hint says what to do; the API key never appears in either (:func:`redact`).
:func:`error_for_response` maps a status and body: 401/403 → :class:`RemoteAuthError`,
404 → :class:`RemoteModelNotFoundError`, 429 → :class:`RemoteRateLimitError` (with Retry-After),
5xx → :class:`RemoteServerError`, a 400/422 (or a 5xx) naming a field that was sent →
:class:`RemoteParameterError` (with the playground's name for it), any other → :class:`RemoteRequestError`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import PlaygroundError

MAX_SERVER_TEXT = 300


class RemoteError(PlaygroundError):
    """Base class of every remote-engine failure."""


class RemoteUnreachableError(RemoteError):
    """The server cannot be reached (refused, DNS, connect timeout, TLS)."""


class RemoteAuthError(RemoteError):
    """401/403: the API key is missing or wrong."""


class RemoteModelNotFoundError(RemoteError):
    """404, or the server's /models does not list the configured model."""


class RemoteRateLimitError(RemoteError):
    """429: too many requests."""


class RemoteServerError(RemoteError):
    """5xx: the server failed."""


class RemoteParameterError(RemoteError):
    """400/422 naming a request field: the server rejects a sampling parameter."""

    def __init__(self, message: str, hint: str = "", parameter: str | None = None) -> None:
        super().__init__(message, hint)
        self.parameter = parameter


class RemoteRequestError(RemoteError):
    """Any other 4xx."""


class RemoteStreamError(RemoteError):
    """The stream broke: connection dropped, read timeout, or chunks that are not valid JSON."""


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced (servers sometimes echo the key back)."""
    return text.replace(secret, "****") if secret else text


def server_message(body: str) -> str:
    """The human part of an error body: OpenAI ``{"error": {"message"}}``, vLLM ``{"message"}``,
    FastAPI ``{"detail"}``, else the raw text; shortened to 300 characters."""
    text = body.strip()
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text[:MAX_SERVER_TEXT]
    for key in ("error", "detail", "message"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            value = value.get("message") or value.get("msg") or json.dumps(value)
        if isinstance(value, list):  # FastAPI validation errors: [{"loc": [...], "msg": ...}]
            value = "; ".join(
                f"{'.'.join(str(p) for p in v.get('loc', []))}: {v.get('msg', '')}" if isinstance(v, dict) else str(v)
                for v in value
            )
        if isinstance(value, str) and value:
            return value[:MAX_SERVER_TEXT]
    return text[:MAX_SERVER_TEXT]


_GENERIC_KEYS = ("stop", "seed")  # words a server failure may use without meaning the field


def rejected_field(message: str, sent: dict[str, str], generic: bool = True) -> str | None:
    """The GenerationParams field whose request key the server's message names as a word (longest
    key first); ``generic=False`` ignores keys that are also ordinary words ("stop", "seed")."""
    for name, key in sorted(sent.items(), key=lambda item: -len(item[1])):
        if not generic and key in _GENERIC_KEYS:
            continue
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", message, re.IGNORECASE):
            return name
    return None


def _parameter_error(where: str, status: int, text: str, sent: dict[str, str], generic: bool) -> RemoteParameterError | None:
    name = rejected_field(text, sent, generic)
    if name is None:
        return None
    key = sent[name]
    return RemoteParameterError(
        f"{where} rejected the parameter {name}{f' (sent as {key!r})' if key != name else ''}: {text} (HTTP {status})",
        "Change that setting, or set the endpoint's dialect so it is sent the way this server expects.",
        parameter=name,
    )


def error_for_response(
    label: str,
    status: int,
    body: str,
    *,
    model: str,
    sent: dict[str, str] | None = None,
    retry_after: str | None = None,
    secret: str | None = None,
) -> RemoteError:
    """The typed error for an HTTP error response from endpoint ``label``."""
    text = redact(server_message(body), secret) or f"HTTP {status}"
    where = f"Endpoint '{label}'"
    if status in (401, 403):
        return RemoteAuthError(
            f"{where} refused the request (HTTP {status}: {text}).",
            "Check the API key: set the variable named by api_key_env, or [endpoints.NAME] api_key in "
            ".streamlit/secrets.toml.",
        )
    if status == 404:
        return RemoteModelNotFoundError(
            f"{where} does not serve model '{model}' (HTTP 404: {text}).",
            "Check `model` against the server's /v1/models and `base_url` (it must end with the API prefix, e.g. /v1).",
        )
    if status == 429:
        wait = f" Retry after {retry_after} s." if retry_after else ""
        return RemoteRateLimitError(f"{where} is rate limiting requests (HTTP 429: {text}).", f"Wait and retry.{wait}")
    if status >= 500:
        # some servers fail a request they cannot honour with a 500 naming the field (llama-cpp-python:
        # "logprobs is not supported for models created with logits_all=False")
        return _parameter_error(where, status, text, sent or {}, generic=False) or RemoteServerError(
            f"{where} failed (HTTP {status}: {text}).", "The server had an error: retry, or check its logs."
        )
    if status in (400, 422):
        rejected = _parameter_error(where, status, text, sent or {}, generic=True)
        if rejected is not None:
            return rejected
    return RemoteRequestError(f"{where} rejected the request (HTTP {status}: {text}).", "Check the endpoint settings.")
