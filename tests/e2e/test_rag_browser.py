"""End-to-end: the RAG page in Chromium with the offline Qwen2.5-Coder-0.5B and the real MiniLM embeddings.

The journey the issue describes: open RAG, create a collection, upload a small Markdown
file through the file uploader holding a made-up 2025 fact the model cannot know, ask
about it, and read both answers side by side. The answer with retrieval must state the
fact and cite ``[1]``, and source 1 must expand to the uploaded chunk with its score.
Screenshots go to tests/artifacts/rag-*.png.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.offline_model, pytest.mark.slow]

COLLECTION = "space-news"
FILE_NAME = "zorblax-7.md"
NOTE = (
    "# Zorblax-7 mission\n\n"
    "The Zorblax-7 probe landed on Jupiter's moon Europa on 14 March 2025. It found salty ice under the surface.\n"
)
QUESTION = "When did the Zorblax-7 probe land on Europa?"
FACT = "14 March 2025"
REPLY_TOKENS = "96"
ANSWER_TIMEOUT_S = 300  # loading the 0.5B GGUF (~40 s on 2 cores), the embedding model, then two answers


def shot(page, name: str) -> None:
    """Screenshot the whole page: Streamlit scrolls inside its main block, so the viewport is grown to fit it."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height) + 40, 6000))})
    page.screenshot(path=str(ARTIFACTS / f"rag-{name}.png"), full_page=True)
    page.set_viewport_size(size)


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "() => document.querySelector('[data-test-script-state]')?.dataset.testScriptState !== 'running'",
        timeout=timeout_ms,
        polling=200,
    )


def settle(page, timeout_ms: int = 60_000) -> None:
    """Wait for the rerun a widget change starts to end."""
    time.sleep(0.5)
    wait_idle(page, timeout_ms)


def column(page, side: str):
    """The answer column ``side`` ("plain" or "rag")."""
    return page.locator(f".st-key-rag-answer-{side}")


def set_number(page, section: str, label: str, value: str) -> None:
    """Type ``value`` into the sidebar number input ``label`` inside the settings expander ``section``."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    expander = sidebar.locator('[data-testid="stExpander"]').filter(has_text=section)
    if not expander.locator('[data-testid="stExpanderDetails"]').is_visible():
        expander.get_by_text(section, exact=True).click()
    field = expander.locator('[data-testid="stNumberInput"]').filter(has_text=label).locator("input")
    field.fill(value)
    field.press("Enter")
    settle(page)


def choose(page, field, option: str, until) -> None:
    """Pick a selectbox option until the locator ``until`` shows. ArrowDown on the focused field opens the list
    (often only on the second try); typing filters it to the option, Enter picks it. The list closes on any
    scroll, so each step is retried."""
    for _ in range(5):
        field.focus()
        page.keyboard.press("ArrowDown")
        try:
            page.get_by_role("option").first.wait_for(timeout=3_000)
            page.keyboard.type(option)
            page.get_by_role("option", name=option, exact=True).wait_for(timeout=3_000)
            page.keyboard.press("Enter")
            settle(page)
            until.wait_for(timeout=5_000)
            return
        except Exception:  # noqa: BLE001 - the list closed or never opened: try again
            page.keyboard.press("Escape")
    raise AssertionError(f"could not pick {option!r}")


def test_upload_a_2025_fact_and_get_a_cited_answer(app_server, page):
    try:
        journey(app_server, page)
    except BaseException:
        shot(page, "failure")
        raise


def journey(app_server, page) -> None:
    page.goto(f"{app_server.url}/rag")
    page.locator("h1").filter(has_text="RAG").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("Create a collection, or press").is_visible()

    page.get_by_label("New collection", exact=True).fill(COLLECTION)
    page.get_by_role("button", name="Create").click()
    page.get_by_text(f"Created collection {COLLECTION}").wait_for(timeout=30_000)
    wait_idle(page)

    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": FILE_NAME, "mimeType": "text/markdown", "buffer": NOTE.encode()}]
    )
    add = page.get_by_role("button", name=f"Add 1 file to {COLLECTION}")
    add.wait_for(timeout=30_000)
    settle(page)
    add.click()
    page.get_by_text("1 added").wait_for(timeout=120_000)  # the first upload loads MiniLM
    wait_idle(page)
    assert page.locator("li").filter(has_text=f"{FILE_NAME}: added").count() == 1  # the file's line in the report
    shot(page, "01-uploaded")

    set_number(page, "Answers", "Reply length (tokens)", REPLY_TOKENS)
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask both").click()
    grounded = column(page, "rag")
    grounded.get_by_text("Sources", exact=True).wait_for(timeout=ANSWER_TIMEOUT_S * 1000)
    wait_idle(page, ANSWER_TIMEOUT_S * 1000)
    shot(page, "02-answered")

    answer = grounded.locator(".st-key-rag-text-rag").inner_text()
    assert FACT in answer, answer
    assert re.search(r"\[1\]", answer), answer
    assert grounded.get_by_text("Cites [1]").count() == 1
    out_of_range = re.findall(r"\[(\d+)\]", answer.replace("[1]", ""))
    flagged = grounded.locator('[data-testid="stAlert"]').filter(has_text="points at nothing")
    assert flagged.count() == (1 if out_of_range else 0)  # a citation with no source behind it is flagged
    plain = column(page, "plain").inner_text()
    assert "tokens" in plain  # its metrics line: it was answered too

    source = grounded.locator('[data-testid="stExpander"]').filter(has_text=FILE_NAME).first
    source.get_by_text("[1]").click()
    details = source.locator('[data-testid="stExpanderDetails"]')
    details.wait_for(timeout=10_000)
    assert "landed on Jupiter's moon Europa on 14 March 2025" in details.inner_text()
    assert re.search(r"cosine similarity 0\.\d{4}", details.inner_text())
    assert page.locator('[data-testid="stException"]').count() == 0
    time.sleep(0.5)  # the expander's opening animation
    shot(page, "03-source-open")

    # Browse: the document's chunk as stored, then delete the document.
    browser = page.locator('[data-testid="stExpander"]').filter(has_text="Documents and chunks")
    browser.get_by_text("Documents and chunks", exact=True).click()
    field = browser.locator('[data-testid="stSelectbox"]').filter(has_text="Show the chunks of").locator("input")
    chunks = page.locator(".st-key-rag-chunks")
    choose(page, field, FILE_NAME, until=chunks)
    assert "landed on Jupiter's moon Europa" in chunks.inner_text()
    shot(page, "04-browse")
    page.get_by_role("button", name=f"Delete {FILE_NAME}").click()
    page.get_by_text(f"Deleted {FILE_NAME} (1 chunks) from {COLLECTION}").wait_for(timeout=30_000)
    wait_idle(page)
    assert page.get_by_text("0 documents · 0 chunks").is_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
