"""AppTest tests of the app shell: navigation, the shared model sidebar, config, error containment."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.fetch import is_fetched
from core.registry import DEFAULT_ALIAS, REGISTRY

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = ["app_pages/compare.py", "app_pages/rag.py", "app_pages/guardrails.py", "app_pages/models.py"]


def start(monkeypatch: pytest.MonkeyPatch, model: str | Path | None = None) -> AppTest:
    if model is None:
        monkeypatch.delenv("PLAYGROUND_DEFAULT_MODEL", raising=False)
    else:
        monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", str(model))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_default_model_and_offline_availability_in_the_picker(monkeypatch):
    """Without PLAYGROUND_DEFAULT_MODEL the registry default is selected; every alias is offered with
    its availability (a GGUF bundle is '✓ offline' exactly when it is fetched), plus a free text entry."""
    at = start(monkeypatch)
    picker = at.selectbox(key="model.pick")
    assert picker.value == DEFAULT_ALIAS
    assert len(picker.options) == len(REGISTRY) + 1 and picker.options[-1].startswith("Other")
    for alias, label in zip(REGISTRY, picker.options, strict=False):
        spec = REGISTRY[alias]
        assert label.startswith(alias)
        if spec.gguf is not None:
            assert label.endswith("✓ offline") == is_fetched(spec.gguf)
        else:
            assert "needs hub" in label or "✓ cached" in label
    assert at.selectbox(key="model.quant").options == list(REGISTRY[DEFAULT_ALIAS].quants)


def test_env_default_model_as_a_path(monkeypatch, tiny_qwen25_dir):
    """A path in PLAYGROUND_DEFAULT_MODEL selects the free text entry holding that path."""
    at = start(monkeypatch, tiny_qwen25_dir)
    assert at.selectbox(key="model.pick").value == "custom"
    assert at.text_input(key="model.custom").value == str(tiny_qwen25_dir)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_and_keeps_the_sidebar(monkeypatch, page):
    """Each page renders without raising (placeholder or finished) and still has the shared model sidebar."""
    at = start(monkeypatch)
    at.switch_page(page).run()
    assert not at.exception
    assert not at.error or all("Coming soon" not in e.value for e in at.error)
    assert at.selectbox(key="model.pick")
    assert at.title[0].value


def test_switching_pages_keeps_the_chat_settings(monkeypatch):
    """Widget state of the Chat page survives a visit to another page (keep_widget_state)."""
    at = start(monkeypatch)
    at.selectbox(key="chat.preset").set_value("Concise expert").run()
    at.switch_page("app_pages/models.py").run()
    at.switch_page("app_pages/chat.py").run()
    assert at.selectbox(key="chat.preset").value == "Concise expert"


def test_load_and_unload_show_measurements(monkeypatch, tiny_qwen3_dir):
    """Load puts the model in the shared pool and shows load time, memory and the loader's notices;
    Unload takes it out again."""
    from ui.resources import get_pool

    at = start(monkeypatch, tiny_qwen3_dir)
    get_pool().unload(str(tiny_qwen3_dir), "auto", "auto")
    at.run()
    at.button(key="model.load").click().run()
    loaded = get_pool().peek(str(tiny_qwen3_dir), "auto", "auto")
    assert loaded is not None
    success = " ".join(s.value for s in at.sidebar.success)
    assert f"in {loaded.load_seconds:.1f} s" in success and "MiB" in success
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert all(notice in captions for notice in loaded.notices)
    at.button(key="model.unload").click().run()
    assert get_pool().peek(str(tiny_qwen3_dir), "auto", "auto") is None
    assert at.button(key="model.load")


def test_failed_load_shows_core_error_and_hint(monkeypatch, tmp_path):
    """Loading a directory without weights gives core's CorruptModelError message and hint in the page."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    at = start(monkeypatch, broken)
    at.button(key="model.load").click().run()
    assert not at.exception
    text = " ".join(e.value for e in at.sidebar.error)
    assert "has a config but no weights" in text and "Check the path" in text
    assert at.chat_input  # the page is still there


def test_streamlit_config():
    """Upload limit set, XSRF protection on, no usage statistics; the theme is set."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 50
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["theme"]["primaryColor"]


def test_guard_turns_an_exception_into_an_error_message():
    """A panel that raises shows an error with the message, the rest of the script still runs."""

    def script():
        import streamlit as st

        from core.errors import PlaygroundError
        from ui.errors import guard

        with guard("Panel one"):
            raise ValueError("boom")
        with guard("Panel two"):
            raise PlaygroundError("Bad thing.", "Do this instead.")
        st.write("still running")

    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert "Panel one failed" in errors[0] and "ValueError" in errors[0] and "boom" in errors[0]
    assert errors[1] == "**Bad thing.**\n\nDo this instead."
    assert at.markdown[-1].value == "still running"
