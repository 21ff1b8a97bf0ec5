"""AppTest tests of the Chat page, driven with the tiny random Qwen models.

The tiny models write random tokens, so no test asserts on what they say;
the tests assert on what the page does with it: the text shown is the text
stored, the right messages exist with the right status, settings reach the
conversation, and the page never raises. Generation is kept to a few tokens
(max_new_tokens is set through its widget) so the file runs in seconds.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.conversations import ConversationStore
from core.params import recommended_params
from ui import presets

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SHORT = 6  # max_new_tokens for test replies


def start(monkeypatch: pytest.MonkeyPatch, model: Path | str, query: dict | None = None) -> AppTest:
    """The app with ``model`` as the default model, after its first run."""
    monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", str(model))
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def load_model(at: AppTest) -> AppTest:
    """Press Load unless the model is already in the shared pool (an earlier test loaded it)."""
    buttons = [b for b in at.sidebar.button if b.key == "model.load"]
    if buttons:
        buttons[0].click().run()
    assert not at.exception and [b for b in at.sidebar.button if b.key == "model.unload"], at.error
    return at


def send(at: AppTest, text: str, max_new_tokens: int = SHORT) -> AppTest:
    at.number_input(key="params.max_new_tokens").set_value(max_new_tokens)
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception
    return at


def store() -> ConversationStore:
    return ConversationStore()  # PLAYGROUND_HOME is the test's own (conftest)


def bubbles(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, "".join(md.value for md in m.markdown)) for m in at.chat_message]


def shown(text: str) -> str:
    """What st.markdown displays of ``text`` (Streamlit dedents and strips it)."""
    return textwrap.dedent(text).strip()


def test_full_turn_streams_saves_and_reopens(monkeypatch, tiny_qwen25_dir):
    """A first message loads the model, is answered, and everything lands in the store and the URL.

    The reply on screen must be the stored reply (the page redraws from the
    store after a turn), the metrics caption comes from the engine, and a new
    AppTest with ``?chat=<id>`` (a page reload) shows the same conversation.
    """
    at = send(start(monkeypatch, tiny_qwen25_dir), "Hello, who are you?")
    chat_id = at.query_params["chat"]
    stored = store().get(chat_id)
    assert [m.role for m in stored.messages] == ["user", "assistant"]
    reply = stored.messages[1]
    assert reply.status == "complete"
    assert reply.metrics["completion_tokens"] <= SHORT
    assert bubbles(at) == [("user", "Hello, who are you?"), ("assistant", shown(reply.content))]
    captions = [c.value for c in at.chat_message[1].caption]
    assert any(f"{reply.metrics['completion_tokens']} tokens" in c and "first token" in c for c in captions)
    assert stored.title == "Hello, who are you?"
    assert any(b.label.startswith("Hello, who are you?") for b in at.sidebar.button)

    reloaded = start(monkeypatch, tiny_qwen25_dir, {"chat": chat_id})
    assert bubbles(reloaded) == bubbles(at)


def test_system_prompt_presets_apply_to_the_next_turn(monkeypatch, tiny_qwen25_dir):
    """Picking a preset fills the system prompt; the language preset uses the chosen language; the prompt
    in force when a message is sent is saved with the conversation (and is what build_messages sends)."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.selectbox(key="chat.preset").set_value("Python tutor").run()
    assert at.text_area(key="chat.system_prompt").value == presets.PRESETS["Python tutor"]

    at.selectbox(key="chat.preset").set_value(presets.LANGUAGE_PRESET).run()
    at.selectbox(key="chat.language").set_value("French").run()
    french = presets.preset_text(presets.LANGUAGE_PRESET, "French")
    assert "French" in french and at.text_area(key="chat.system_prompt").value == french

    send(at, "Bonjour")
    chat_id = at.query_params["chat"]
    assert store().get(chat_id).settings["system_prompt"] == french

    at.text_area(key="chat.system_prompt").set_value("Reply in haiku.").run()
    assert at.selectbox(key="chat.preset").value == presets.CUSTOM  # free text
    send(at, "And now?")
    assert store().get(chat_id).settings["system_prompt"] == "Reply in haiku."


def test_sampling_defaults_follow_the_model_and_invalid_values_are_explained(monkeypatch, tiny_qwen25_dir, tiny_qwen25):
    """Widgets start at recommended_params for the loaded model (max_new_tokens capped at half its
    512-token window); top_p = 0 is refused with core's InvalidParameterError message and no reply is made."""
    at = start(monkeypatch, tiny_qwen25_dir)
    load_model(at)
    loaded = tiny_qwen25  # the same checkpoint, loaded by the fixture
    expected = recommended_params(loaded.family, False, loaded.generation_defaults)
    assert at.slider(key="params.temperature").value == pytest.approx(expected.temperature)
    assert at.slider(key="params.top_p").value == pytest.approx(expected.top_p)
    assert at.number_input(key="params.top_k").value == expected.top_k
    assert at.number_input(key="params.max_new_tokens").value == min(expected.max_new_tokens, loaded.context_length // 2)

    at.slider(key="params.top_p").set_value(0.0).run()
    assert any("top_p must be greater than 0" in e.value for e in at.error)
    send(at, "Hi")
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert store().get(at.query_params["chat"]).messages[-1].role == "user"  # kept, but not answered

    at.text_input(key="params.seed").set_value("abc").run()
    assert any("seed must be a whole number" in e.value for e in at.error)


def test_regenerate_with_a_seed_reproduces_the_reply(monkeypatch, tiny_qwen25_dir):
    """Regenerate replaces the last reply (new message id, still one reply); with a fixed seed the
    sampled text is the same, which also shows the seed widget reaches the engine."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.text_input(key="params.seed").set_value("1234")
    send(at, "Tell me a story")
    chat_id = at.query_params["chat"]
    first = store().get(chat_id).messages[-1]
    at.button(key="chat.regenerate").click().run()
    assert not at.exception
    messages = store().get(chat_id).messages
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[-1].id != first.id and messages[-1].content == first.content


def test_edit_and_resend_replaces_the_last_turn(monkeypatch, tiny_qwen25_dir):
    """Editing the last user message drops it and its reply, stores the new text and answers it."""
    at = send(start(monkeypatch, tiny_qwen25_dir), "First version")
    chat_id = at.query_params["chat"]
    at.text_area(key="chat.edit_text").set_value("Second version")
    at.button(key="chat.resend").click().run()
    messages = store().get(chat_id).messages
    assert [(m.role, m.content if m.role == "user" else "") for m in messages] == [
        ("user", "Second version"),
        ("assistant", ""),
    ]
    assert bubbles(at)[0] == ("user", "Second version")


def test_clear_and_new_chat(monkeypatch, tiny_qwen25_dir):
    """Clear empties the open chat; New chat leaves it (and the URL) for a fresh, unsaved one."""
    at = send(start(monkeypatch, tiny_qwen25_dir), "Something to clear")
    chat_id = at.query_params["chat"]
    at.button(key="chat.clear").click().run()
    assert store().get(chat_id).messages == [] and at.chat_message.len == 0
    send(at, "Again")
    at.button(key="chats.new").click().run()
    assert "chat" not in at.query_params and at.chat_message.len == 0
    assert len(store().list()) == 1


def test_rename_delete_with_confirmation_and_search(monkeypatch, tiny_qwen25_dir):
    """Chats are listed (searchable), renamed from the sidebar, and deleted only after confirmation."""
    s = store()
    other = s.create()
    s.add_message(other, "user", "about penguins")
    at = send(start(monkeypatch, tiny_qwen25_dir), "about owls")
    chat_id = at.query_params["chat"]

    at.text_input(key="chats.query").set_value("penguin").run()
    labels = [b.label for b in at.sidebar.button if b.key and b.key.startswith("chats.open.")]
    assert labels == ["about penguins (1)"]
    at.text_input(key="chats.query").set_value("").run()

    at.text_input(key="chats.rename_text").set_value("Owl facts")
    at.button(key="chats.rename").click().run()
    assert s.get(chat_id).title == "Owl facts"

    at.button(key="chats.delete").click().run()
    assert s.get(chat_id)  # asked, not deleted yet
    at.button(key="chats.delete_yes").click().run()
    assert [c.id for c in s.list()] == [other]
    assert "chat" not in at.query_params and not at.exception


def test_export_and_import_round_trip(monkeypatch, tiny_qwen25_dir):
    """The JSON the Export button offers, uploaded again, opens as a new chat with the same messages;
    a file that is not an export gives core's ImportFormatError message, not an exception."""
    from ui.conversations_panel import export_json_bytes, export_markdown_bytes

    at = send(start(monkeypatch, tiny_qwen25_dir), "Export me")
    chat_id = at.query_params["chat"]
    labels = [b.label for b in at.download_button]
    assert "Markdown" in labels and "JSON" in labels
    markdown, data = export_markdown_bytes(store(), chat_id), export_json_bytes(store(), chat_id)
    assert "Export me" in markdown.decode()

    at.file_uploader[0].upload("chat.json", data, "application/json")
    at.run()
    imported = at.query_params["chat"]
    assert imported != chat_id
    original, copy = store().get(chat_id), store().get(imported)
    assert [(m.role, m.content) for m in copy.messages] == [(m.role, m.content) for m in original.messages]
    assert copy.title.endswith("(imported)")

    at.file_uploader[0].upload("bad.json", b'{"hello": 1}', "application/json")
    at.run()
    assert not at.exception
    assert any("export" in e.value.lower() for e in at.error)
    assert json.loads(data)["messages"][0]["content"] == "Export me"


def test_token_probabilities_view(monkeypatch, tiny_qwen25_dir):
    """With 'Record token probabilities' on, the last reply's tokens are shown: one table row per
    generated token, coloured HTML built with escaped tokens."""
    at = start(monkeypatch, tiny_qwen25_dir)
    at.toggle(key="params.logprobs").set_value(True)
    send(at, "Probabilities please")
    reply = store().get(at.query_params["chat"]).messages[-1]
    at.toggle(key="chat.show_probs").set_value(True).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == reply.metrics["completion_tokens"] == len(reply.metrics["logprobs"])
    assert (table["probability"].between(0, 1)).all()


def test_thinking_toggle_only_for_thinking_models(monkeypatch, tiny_qwen25_dir, tiny_qwen3_dir):
    """Qwen3 (its template has enable_thinking) gets the toggle once loaded, with Qwen's thinking-mode
    sampling (temperature 0.6); switching it off moves to the non-thinking values. Qwen2.5 has none."""
    at = load_model(start(monkeypatch, tiny_qwen25_dir))
    assert not [t for t in at.toggle if t.key == "chat.thinking"]

    at = load_model(start(monkeypatch, tiny_qwen3_dir))
    assert at.toggle(key="chat.thinking").value is True
    assert at.slider(key="params.temperature").value == pytest.approx(recommended_params("qwen3", True).temperature)
    at.toggle(key="chat.thinking").set_value(False).run()
    assert at.slider(key="params.temperature").value == pytest.approx(recommended_params("qwen3", False).temperature)
    send(at, "Think about it")
    chat_id = at.query_params["chat"]
    assert store().get(chat_id).settings["thinking"] is False
    assert store().get(chat_id).messages[-1].status == "complete"


def test_context_meter_warns_what_would_be_dropped(monkeypatch, tiny_qwen25_dir):
    """A history longer than the tiny model's 512-token window: the meter reports the window and the
    oldest messages the next prompt will leave out (fit_messages on history + a draft)."""
    s = store()
    chat_id = s.create()
    for i in range(6):
        s.add_message(chat_id, "user", f"question {i} " + "word " * 60)
        s.add_message(chat_id, "assistant", f"answer {i} " + "word " * 60)
    at = load_model(start(monkeypatch, tiny_qwen25_dir, {"chat": chat_id}))
    meter = [p for p in at.get("progress") if "Context:" in p.proto.text]
    assert meter and "/ 512 tokens" in meter[0].proto.text
    assert any("oldest message" in w.value and "left out" in w.value for w in at.warning)


def test_load_failure_is_shown_and_the_app_stays_usable(monkeypatch, tmp_path):
    """A model path that does not exist: sending a message shows core's message and hint, keeps the
    message, raises nothing; the sidebar still works afterwards."""
    missing = tmp_path / "no-such-model"
    at = send(start(monkeypatch, missing), "Hello?")
    errors = [e.value for e in at.error]
    assert any("not a registry alias, an existing local path, or a hub id" in e for e in errors)
    assert any("python -m core models" in e for e in errors)  # the hint, shown with the message
    assert store().get(at.query_params["chat"]).messages[-1].content == "Hello?"
    at.button(key="model.load").click().run()
    assert not at.exception and at.error


def test_unknown_chat_in_the_url_gives_a_fresh_chat(monkeypatch, tiny_qwen25_dir):
    """A link to a deleted chat: a notice, an empty chat, the bad id gone from the URL, no exception."""
    at = start(monkeypatch, tiny_qwen25_dir, {"chat": "0" * 32})
    assert any("no longer exists" in i.value for i in at.info)
    assert at.chat_message.len == 0 and "chat" not in at.query_params
