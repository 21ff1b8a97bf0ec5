"""Remote endpoints: OpenAI-compatible chat-completions servers the playground can talk to.

Contract:
- Endpoints come from ``config/endpoints.toml`` (optional; ``PLAYGROUND_ENDPOINTS_FILE``
  overrides the path) and from the environment variable ``PLAYGROUND_ENDPOINTS`` (a JSON
  object ``{"name": {...}}``, same keys as a TOML table); JSON entries win over the file's.
- Each endpoint appears in the model picker as ``remote:NAME`` (:func:`remote_model_names`).
- Unknown keys, missing ``base_url``/``model``, bad URLs or values raise
  :class:`EndpointConfigError` naming the endpoint and the key, never a crash.
- API keys never live in the endpoint configuration (it may be committed): they are read from
  the environment variable named by ``api_key_env`` or from ``.streamlit/secrets.toml``
  (``[endpoints.NAME] api_key = "..."``, or a top-level key named like ``api_key_env``).
  The key is kept out of ``repr``, :meth:`Endpoint.describe` and every message; show
  :attr:`Endpoint.masked_key` instead.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.errors import PlaygroundError, UnknownModelError
from core.paths import REPO_ROOT

REMOTE_PREFIX = "remote:"
DIALECTS = ("auto", "vllm", "sglang", "llama.cpp", "openai")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_MAX_CONFIG_BYTES = 1 << 20


class EndpointConfigError(PlaygroundError):
    """``config/endpoints.toml``, ``PLAYGROUND_ENDPOINTS`` or the secrets file is invalid."""


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible server and the model it serves.

    ``base_url`` includes the API prefix (``http://host:8000/v1``); requests go to
    ``{base_url}/chat/completions`` and ``{base_url}/models``. Timeouts are in seconds:
    ``connect_timeout_s`` to open the connection, ``read_timeout_s`` for the longest silence
    between two streamed chunks (the first one included, so it must cover queueing and prefill).
    ``dialect`` says which non-standard sampling fields the server understands ("auto":
    detected from ``/models``). Optional hints: ``family`` ("qwen2.5" | "qwen3"),
    ``thinking``, ``context_length`` (else the server's ``max_model_len`` or the registry's),
    ``tokenizer`` (a local tokenizer directory or a cached hub id, for exact token counts),
    ``extra_body`` (fields sent with every request).
    """

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    api_key: str | None = field(default=None, repr=False, compare=False)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    dialect: str = "auto"
    family: str | None = None
    thinking: bool | None = None
    context_length: int | None = None
    tokenizer: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict, compare=False)
    verify_tls: bool = True

    def __repr__(self) -> str:  # no key, no user:password in logs and tracebacks
        return f"Endpoint(name={self.name!r}, base_url={self.display_url!r}, model={self.model!r}, api_key={self.masked_key!r})"

    @property
    def picker_name(self) -> str:
        return f"{REMOTE_PREFIX}{self.name}"

    @property
    def display_url(self) -> str:
        """``base_url`` without any user:password part (safe to show and log)."""
        return strip_userinfo(self.base_url)

    @property
    def masked_key(self) -> str:
        """The API key for display: its last 4 characters only when it is long enough."""
        if not self.api_key:
            return "(none)"
        return f"…{self.api_key[-4:]}" if len(self.api_key) >= 16 else "****"

    def describe(self) -> dict[str, Any]:
        """A display/export-safe summary (the key masked)."""
        return {
            "name": self.name,
            "base_url": self.display_url,
            "model": self.model,
            "api_key": self.masked_key,
            "api_key_env": self.api_key_env,
            "dialect": self.dialect,
            "connect_timeout_s": self.connect_timeout_s,
            "read_timeout_s": self.read_timeout_s,
        }


def strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


# --- parsing -----------------------------------------------------------------------------------

_KEYS = {
    "base_url", "model", "api_key_env", "connect_timeout_s", "read_timeout_s", "dialect", "family",
    "thinking", "context_length", "tokenizer", "extra_body", "verify_tls",
}  # fmt: skip


def _fail(name: str, message: str, hint: str = "") -> EndpointConfigError:
    return EndpointConfigError(
        f"Endpoint '{name}': {message}", hint or "See config/endpoints.example.toml for the accepted keys."
    )


def _number(name: str, key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _fail(name, f"{key} must be a number between {low:g} and {high:g}, got {value!r}.")
    return float(value)


def parse_endpoint(name: str, table: Any, secrets: dict[str, Any] | None = None) -> Endpoint:
    """Validate one endpoint table and resolve its API key (environment, then secrets)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise EndpointConfigError(
            f"Invalid endpoint name {name!r}.", "Use letters, digits, '.', '_' or '-' (at most 64 characters)."
        )
    if not isinstance(table, dict):
        raise _fail(name, f"expected a table of settings, got {type(table).__name__}.")
    if "api_key" in table:
        raise _fail(
            name,
            "API keys are not accepted in the endpoint configuration.",
            "Set api_key_env = \"SOME_VARIABLE\" and export it, or put it in .streamlit/secrets.toml "
            f"under [endpoints.{name}] api_key = \"...\".",
        )
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise _fail(name, f"unknown key(s): {', '.join(unknown)}.")
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not base_url.strip():
        raise _fail(name, "base_url is required (e.g. \"http://localhost:8000/v1\").")
    base_url = base_url.strip().rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(name, f"base_url must be an http(s) URL, got {strip_userinfo(base_url)!r}.")
    model = table.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _fail(name, "model is required: the model name the server serves (see its /v1/models).")
    api_key_env = table.get("api_key_env")
    if api_key_env is not None and (not isinstance(api_key_env, str) or not _ENV_NAME.match(api_key_env)):
        raise _fail(name, f"api_key_env must be an environment variable name, got {api_key_env!r}.")
    dialect = table.get("dialect", "auto")
    if dialect not in DIALECTS:
        raise _fail(name, f"dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}.")
    family = table.get("family")
    if family is not None and family not in ("qwen2.5", "qwen3"):
        raise _fail(name, f"family must be \"qwen2.5\" or \"qwen3\", got {family!r}.")
    thinking = table.get("thinking")
    if thinking is not None and not isinstance(thinking, bool):
        raise _fail(name, f"thinking must be true or false, got {thinking!r}.")
    context_length = table.get("context_length")
    if context_length is not None:
        if isinstance(context_length, bool) or not isinstance(context_length, int) or not 256 <= context_length <= 4_194_304:
            raise _fail(name, f"context_length must be an integer between 256 and 4194304, got {context_length!r}.")
    tokenizer = table.get("tokenizer")
    if tokenizer is not None and (not isinstance(tokenizer, str) or not tokenizer.strip()):
        raise _fail(name, "tokenizer must be a local directory or a hub id.")
    extra_body = table.get("extra_body", {})
    if not isinstance(extra_body, dict) or not all(isinstance(k, str) for k in extra_body):
        raise _fail(name, "extra_body must be a table of fields to send with every request.")
    verify_tls = table.get("verify_tls", True)
    if not isinstance(verify_tls, bool):
        raise _fail(name, f"verify_tls must be true or false, got {verify_tls!r}.")
    return Endpoint(
        name=name,
        base_url=base_url,
        model=model.strip(),
        api_key_env=api_key_env,
        api_key=resolve_api_key(name, api_key_env, secrets if secrets is not None else read_secrets()),
        connect_timeout_s=_number(name, "connect_timeout_s", table.get("connect_timeout_s", 5.0), 0.1, 600),
        read_timeout_s=_number(name, "read_timeout_s", table.get("read_timeout_s", 120.0), 0.1, 3600),
        dialect=dialect,
        family=family,
        thinking=thinking,
        context_length=context_length,
        tokenizer=tokenizer.strip() if tokenizer else None,
        extra_body=dict(extra_body),
        verify_tls=verify_tls,
    )


def resolve_api_key(name: str, api_key_env: str | None, secrets: dict[str, Any]) -> str | None:
    """The key for endpoint ``name``: ``$api_key_env``, else secrets ``[endpoints.NAME].api_key``,
    else a top-level secret named ``api_key_env``; None when there is none (no auth header)."""
    if api_key_env and os.environ.get(api_key_env, "").strip():
        return os.environ[api_key_env].strip()
    section = secrets.get("endpoints", {})
    entry = section.get(name) if isinstance(section, dict) else None
    if isinstance(entry, dict) and isinstance(entry.get("api_key"), str) and entry["api_key"].strip():
        return entry["api_key"].strip()
    if api_key_env and isinstance(secrets.get(api_key_env), str) and secrets[api_key_env].strip():
        return secrets[api_key_env].strip()
    return None


# --- sources -----------------------------------------------------------------------------------


def config_file() -> Path:
    value = os.environ.get("PLAYGROUND_ENDPOINTS_FILE", "").strip()
    return Path(value).expanduser() if value else REPO_ROOT / "config" / "endpoints.toml"


def secrets_files() -> list[Path]:
    """Where secrets are looked for: ``PLAYGROUND_SECRETS_FILE``, else ``.streamlit/secrets.toml``
    in the repository and in the working directory (Streamlit's own places)."""
    value = os.environ.get("PLAYGROUND_SECRETS_FILE", "").strip()
    if value:
        return [Path(value).expanduser()]
    paths = [REPO_ROOT / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]
    return list(dict.fromkeys(p.resolve() for p in paths))


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        if path.stat().st_size > _MAX_CONFIG_BYTES:
            raise EndpointConfigError(f"{what} {path} is larger than 1 MiB.", "Is it the right file?")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The parser's message names a line and column, not the content: safe for a secrets file too.
        raise EndpointConfigError(f"{what} {path} is not valid TOML ({exc}).", "Fix the syntax.") from exc
    except OSError as exc:
        raise EndpointConfigError(f"{what} {path} cannot be read ({exc.strerror}).", "Check its permissions.") from exc


def read_secrets() -> dict[str, Any]:
    """The merged secrets tables (later files win); {} when there are none."""
    merged: dict[str, Any] = {}
    for path in secrets_files():
        if path.is_file():
            merged.update(_read_toml(path, "Secrets file"))
    return merged


def _raw_tables() -> dict[str, Any]:
    tables: dict[str, Any] = {}
    path = config_file()
    if path.is_file():
        data = _read_toml(path, "Endpoint file")
        section = data.get("endpoints", {})
        if not isinstance(section, dict):
            raise EndpointConfigError(f"{path}: [endpoints] must be a table of tables.", "See config/endpoints.example.toml.")
        tables.update(section)
    raw = os.environ.get("PLAYGROUND_ENDPOINTS", "").strip()
    if raw:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EndpointConfigError(
                f"PLAYGROUND_ENDPOINTS is not valid JSON ({exc.msg} at position {exc.pos}).",
                'Expected {"name": {"base_url": "http://host:8000/v1", "model": "..."}}.',
            ) from exc
        if not isinstance(data, dict):
            raise EndpointConfigError(
                "PLAYGROUND_ENDPOINTS must be a JSON object of endpoints.",
                'Expected {"name": {"base_url": "http://host:8000/v1", "model": "..."}}.',
            )
        tables.update(data)
    return tables


def load_endpoints() -> dict[str, Endpoint]:
    """Every configured endpoint by name (empty when nothing is configured)."""
    tables = _raw_tables()
    if not tables:
        return {}
    secrets = read_secrets()
    return {name: parse_endpoint(name, table, secrets) for name, table in tables.items()}


def is_remote(name: str) -> bool:
    return isinstance(name, str) and name.strip().startswith(REMOTE_PREFIX)


def endpoint_name(name: str) -> str:
    """``remote:NAME`` → ``NAME``."""
    return name.strip()[len(REMOTE_PREFIX) :].strip()


def get_endpoint(name: str) -> Endpoint:
    """The endpoint for ``remote:NAME`` (or ``NAME``); raise UnknownModelError naming the configured ones."""
    wanted = endpoint_name(name) if is_remote(name) else name.strip()
    endpoints = load_endpoints()
    if wanted in endpoints:
        return endpoints[wanted]
    known = ", ".join(e.picker_name for e in endpoints.values()) or "none"
    raise UnknownModelError(
        f"No remote endpoint named '{wanted}' (configured: {known}).",
        f"Add [endpoints.{wanted or 'NAME'}] with base_url and model to {config_file()} "
        "or to PLAYGROUND_ENDPOINTS (see config/endpoints.example.toml).",
    )


def remote_model_names() -> list[str]:
    """``remote:NAME`` for every configured endpoint, for the model picker."""
    return [endpoint.picker_name for endpoint in load_endpoints().values()]


def picker_entries() -> tuple[list[str], EndpointConfigError | None]:
    """``remote:NAME`` names for a picker, and the configuration error instead of raising (a bad
    endpoint file must not take a page down: the picker shows the error and the local models)."""
    try:
        return remote_model_names(), None
    except EndpointConfigError as exc:
        return [], exc
