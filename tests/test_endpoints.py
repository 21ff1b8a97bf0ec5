"""Endpoint configuration (core/endpoints.py): sources, validation, API keys and their masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.endpoints import (
    EndpointConfigError,
    get_endpoint,
    load_endpoints,
    parse_endpoint,
    picker_entries,
    remote_model_names,
)
from core.errors import UnknownModelError

KEY = "sk-live-abcdefghijklmnop1234"
GOOD = {"base_url": "http://gpu-box:8000/v1/", "model": "Qwen/Qwen3-8B"}


@pytest.fixture(autouse=True)
def _no_ambient_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every source at the test's own files (never the repo's config or secrets)."""
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS_FILE", str(tmp_path / "endpoints.toml"))
    monkeypatch.setenv("PLAYGROUND_SECRETS_FILE", str(tmp_path / "secrets.toml"))
    monkeypatch.delenv("PLAYGROUND_ENDPOINTS", raising=False)
    monkeypatch.delenv("TEST_ENDPOINT_KEY", raising=False)


def test_file_and_environment_are_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TOML file defines two endpoints; PLAYGROUND_ENDPOINTS redefines one of them (JSON wins)
    and adds a third; every one appears in the picker as remote:NAME, in that order."""
    (tmp_path / "endpoints.toml").write_text(
        '[endpoints.vllm]\nbase_url = "http://a:8000/v1"\nmodel = "Qwen/Qwen3-8B"\ndialect = "vllm"\n'
        '[endpoints.sglang]\nbase_url = "http://b:30000/v1"\nmodel = "Qwen/Qwen2.5-7B-Instruct"\n'
    )
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", json.dumps({
        "vllm": {"base_url": "http://c:8000/v1", "model": "Qwen/Qwen3-4B"}, "ollama": GOOD}))  # fmt: skip
    endpoints = load_endpoints()
    assert remote_model_names() == ["remote:vllm", "remote:sglang", "remote:ollama"]
    assert endpoints["vllm"].base_url == "http://c:8000/v1" and endpoints["vllm"].dialect == "auto"
    assert endpoints["ollama"].base_url == "http://gpu-box:8000/v1"  # trailing slash dropped
    assert get_endpoint("remote:sglang").model == "Qwen/Qwen2.5-7B-Instruct"


def test_nothing_configured_means_no_remote_models() -> None:
    """No file and no variable: the picker simply has no remote entries."""
    assert load_endpoints() == {} and picker_entries() == ([], None)


@pytest.mark.parametrize(
    ("table", "words"),
    [({**GOOD, "timeout": 3}, "unknown key(s): timeout"),
     ({"model": "m"}, "base_url is required"),
     ({**GOOD, "base_url": "ftp://host/v1"}, "must be an http(s) URL"),
     ({"base_url": "http://h/v1"}, "model is required"),
     ({**GOOD, "dialect": "tgi"}, "dialect must be one of"),
     ({**GOOD, "connect_timeout_s": True}, "connect_timeout_s must be a number"),
     ({**GOOD, "read_timeout_s": 0}, "read_timeout_s must be a number between"),
     ({**GOOD, "context_length": 10}, "context_length must be an integer"),
     ({**GOOD, "family": "llama"}, "family must be"),
     ({**GOOD, "api_key_env": "not a name"}, "api_key_env must be"),
     ({**GOOD, "extra_body": "x"}, "extra_body must be a table"),
     ("http://h/v1", "expected a table")],
)  # fmt: skip
def test_bad_settings_name_the_endpoint_and_the_key(table, words: str) -> None:
    """Each invalid value raises EndpointConfigError naming the endpoint and what is wrong."""
    with pytest.raises(EndpointConfigError) as caught:
        parse_endpoint("team", table, secrets={})
    assert caught.value.message.startswith("Endpoint 'team'") and words in caught.value.message
    assert caught.value.hint


def test_bad_names_and_keys_in_the_config_are_refused() -> None:
    """A name that is not a plain identifier is refused, and so is an API key written into the
    configuration itself (it may be committed): the hint says where keys go instead."""
    with pytest.raises(EndpointConfigError, match="Invalid endpoint name"):
        parse_endpoint("has space", GOOD, secrets={})
    with pytest.raises(EndpointConfigError) as caught:
        parse_endpoint("team", {**GOOD, "api_key": KEY}, secrets={})
    assert "not accepted" in caught.value.message and "secrets.toml" in caught.value.hint
    assert KEY not in str(caught.value)


def test_broken_sources_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invalid JSON says where it broke; a JSON list is not an object; invalid TOML names the file;
    picker_entries turns any of them into an error value instead of raising."""
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", '{"a": ')
    with pytest.raises(EndpointConfigError, match="not valid JSON"):
        load_endpoints()
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", "[1, 2]")
    with pytest.raises(EndpointConfigError, match="must be a JSON object"):
        load_endpoints()
    names, error = picker_entries()
    assert names == [] and isinstance(error, EndpointConfigError)
    monkeypatch.delenv("PLAYGROUND_ENDPOINTS")
    (tmp_path / "endpoints.toml").write_text("[endpoints.a\nbase_url=")
    with pytest.raises(EndpointConfigError, match="not valid TOML"):
        load_endpoints()


def test_key_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key comes from $api_key_env first, else secrets [endpoints.NAME].api_key, else a
    top-level secret named like api_key_env; with none there is no key at all."""
    (tmp_path / "secrets.toml").write_text(f'TEST_ENDPOINT_KEY = "top-level-{KEY}"\n[endpoints.team]\napi_key = "{KEY}"\n')
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", json.dumps({
        "team": {**GOOD, "api_key_env": "TEST_ENDPOINT_KEY"}, "other": {**GOOD, "api_key_env": "TEST_ENDPOINT_KEY"},
        "open": GOOD}))  # fmt: skip
    endpoints = load_endpoints()
    assert endpoints["team"].api_key == KEY  # the endpoint's own secret
    assert endpoints["other"].api_key == f"top-level-{KEY}"  # the secret named like api_key_env
    assert endpoints["open"].api_key is None and endpoints["open"].masked_key == "(none)"
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "from-the-environment-0000")
    assert load_endpoints()["team"].api_key == "from-the-environment-0000"


def test_keys_are_never_shown(tmp_path: Path) -> None:
    """repr, describe() and the display URL hide the key and any user:password; a long key shows
    only its last 4 characters, a short one nothing."""
    endpoint = parse_endpoint("team", {**GOOD, "base_url": "https://bob:hunter2@gpu-box/v1"},
                              secrets={"endpoints": {"team": {"api_key": KEY}}})  # fmt: skip
    shown = repr(endpoint) + json.dumps(endpoint.describe()) + endpoint.display_url
    assert endpoint.api_key == KEY and KEY not in shown and "hunter2" not in shown
    assert endpoint.masked_key == "…1234" and endpoint.describe()["api_key"] == "…1234"
    assert endpoint.display_url == "https://gpu-box/v1"
    short = parse_endpoint("s", GOOD, secrets={"endpoints": {"s": {"api_key": "abc"}}})
    assert short.masked_key == "****"


def test_a_broken_secrets_file_does_not_leak_its_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TOML parser's message names a line and column, never the text, so the key stays hidden."""
    (tmp_path / "secrets.toml").write_text(f'[endpoints.team]\napi_key = "{KEY}\n')
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", json.dumps({"team": GOOD}))
    with pytest.raises(EndpointConfigError) as caught:
        load_endpoints()
    assert "Secrets file" in caught.value.message and KEY not in str(caught.value)


def test_unknown_endpoint_lists_the_configured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for remote:NOPE names what is configured and how to add it."""
    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", json.dumps({"team": GOOD}))
    with pytest.raises(UnknownModelError) as caught:
        get_endpoint("remote:nope")
    assert "remote:team" in caught.value.message and "[endpoints.nope]" in caught.value.hint
