"""End-to-end: the real app in Chromium, answering with the offline Qwen2.5-Coder-0.5B model.

One journey, as a user would take it on a fresh start: type a question on the
first page (no other click: the default model loads on first use with a
progress bar), see the answer stream in, reload and find the conversation,
export it, stop a long answer half-way with the chat input's stop button
(the partial answer is kept, marked stopped), and visit every page.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest

from core.conversations import ConversationStore
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.offline_model, pytest.mark.slow]

QUESTION = "What is the capital of France?"
ANSWER_TIMEOUT_MS = 150_000  # first use: load the 0.5B GGUF (~40 s on 2 CPU cores), then answer


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def last_message_once_settled(home, chat_id: str, timeout_s: float = 30.0):
    """The chat's last stored message once it is no longer "streaming" (the server stops the script at
    its next Streamlit call, i.e. after the token being computed when Stop was clicked)."""
    store = ConversationStore(home / "conversations.sqlite3")
    deadline = time.monotonic() + timeout_s
    while True:
        message = store.get(chat_id).messages[-1]
        if message.status != "streaming" or time.monotonic() > deadline:
            return message
        time.sleep(0.2)


def assistant_with(page, text: str):
    return page.locator('[data-testid="stChatMessage"]').filter(has_text=text)


def test_ask_reload_export_stop_and_visit_pages(app_server, page):
    page.goto(app_server.url)
    chat_box = page.locator('[data-testid="stChatInputTextArea"]')
    chat_box.wait_for(timeout=60_000)
    wait_idle(page, 30_000)
    shot(page, "01-chat-start")

    chat_box.fill(QUESTION)
    chat_box.press("Enter")
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=30_000)  # the default model loads on first use, with a progress bar
    shot(page, "02-loading-model")

    answer = assistant_with(page, "Paris")
    answer.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    wait_idle(page, ANSWER_TIMEOUT_MS)
    page.get_by_text("tokens/s").first.wait_for(timeout=30_000)
    shot(page, "03-answered")
    assert re.search(r"[?&]chat=[0-9a-f]{32}", page.url), page.url

    page.reload()
    assistant_with(page, "Paris").first.wait_for(timeout=60_000)
    page.get_by_text(QUESTION).first.wait_for()
    wait_idle(page, 60_000)
    shot(page, "04-after-reload")

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("This chat: rename, export, delete").click()
    with page.expect_download(timeout=30_000) as download_info:
        sidebar.get_by_role("button", name="Markdown").click()
    download = download_info.value
    path = ARTIFACTS / "exported-chat.md"
    download.save_as(str(path))
    exported = path.read_text(encoding="utf-8")
    assert QUESTION in exported and "Paris" in exported
    shot(page, "05-export")

    chat_box.fill("Write a long story about a brave dragon, in at least ten paragraphs.")
    chat_box.press("Enter")
    page.wait_for_function(  # the second reply has started streaming
        """() => { const m = document.querySelectorAll('[data-testid="stChatMessage"]');
                   return m.length >= 4 && m[3].innerText.trim().length > 15; }""",
        timeout=90_000,
        polling=200,
    )
    page.locator('[data-testid="stChatInputStopButton"]').click()
    chat_id = re.search(r"chat=([0-9a-f]{32})", page.url).group(1)
    stopped = last_message_once_settled(app_server.home, chat_id)
    assert stopped.role == "assistant" and stopped.status == "stopped" and len(stopped.content) > 5
    wait_idle(page, 30_000)
    page.reload()
    page.get_by_text("Stopped: the reply was cut short").wait_for(timeout=60_000)
    wait_idle(page, 60_000)
    shot(page, "06-stopped")

    for name in ["Compare", "RAG", "Guardrails", "Models"]:
        page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
        page.locator("h1").filter(has_text=name).wait_for(timeout=30_000)  # this page's own title
        wait_idle(page, 30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        shot(page, f"07-page-{name.lower()}")
