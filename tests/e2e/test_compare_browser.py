"""End-to-end: the Compare page in Chromium, the offline Qwen2.5-Coder-0.5B against itself in fp32 and bf16.

The journey a user takes: open Compare, set pane 1 to fp32 and pane 2 to
bf16 in their settings (both load straight from the GGUF, so no conversion
step), keep the replies short, send one prompt, and watch both panes write at
the same time (each pane's text grows while it says "Writing…"), then find
each pane's figures under it, the chart and table below, and a Markdown
export holding both replies. Then a long prompt is stopped half-way with
"Stop all panes": both panes keep their text and say they were stopped.
Screenshots go to tests/artifacts/compare-*.png.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import settle, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.offline_model, pytest.mark.slow]

PROMPT = "Name three primary colors."
LONG_PROMPT = "Write a long story about a brave dragon, in at least ten paragraphs."
MAX_NEW_TOKENS = "16"
ANSWER_TIMEOUT_S = 200  # two loads of the 0.5B GGUF (fp32 and bf16, ~40 s each on 2 cores), then the replies


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"compare-{name}.png"), full_page=True)


def running(page) -> bool:
    """Whether a script run is in progress (the app root's ``data-test-script-state``)."""
    state = page.evaluate("() => document.querySelector('[data-test-script-state]')?.dataset.testScriptState")
    return state == "running"


def pane(page, number: int):
    """The bordered column of pane ``number`` (the one whose header says "Pane N")."""
    return page.locator('[data-testid="stColumn"]').filter(has=page.get_by_text(f"Pane {number}", exact=True))


def open_settings(page, number: int, tab: str) -> object:
    column = pane(page, number)
    expander = column.locator('[data-testid="stExpander"]').filter(has_text="Settings")
    if not expander.locator('[data-testid="stExpanderDetails"]').is_visible():
        expander.get_by_text("Settings", exact=True).click()
    column.get_by_role("tab", name=tab).click()
    return column


def choose(page, number: int, label: str, option: str) -> None:
    """Pick a selectbox option by typing it: the list closes on any scroll, which clicking an option can cause.
    Typing filters only once the list is open (ArrowDown opens it, after a moment)."""
    column = open_settings(page, number, "Model")
    field = column.locator('[data-testid="stSelectbox"]').filter(has_text=label).locator("input")
    for _ in range(3):
        field.focus()
        page.keyboard.press("ArrowDown")
        time.sleep(0.5)
        page.keyboard.type(option)
        try:
            page.get_by_role("option", name=option, exact=True).wait_for(timeout=5_000)
            break
        except Exception:  # noqa: BLE001 - the list did not open in time: try again
            page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    settle(page)


def type_number(page, number: int, label: str, value: str) -> None:
    column = open_settings(page, number, "Sampling")
    field = column.locator('[data-testid="stNumberInput"]').filter(has_text=label).locator("input")
    field.fill(value)
    field.press("Enter")
    settle(page)


def send(page, text: str) -> None:
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(text)
    box.press("Enter")


def pane_text(page, number: int) -> str:
    return pane(page, number).inner_text()  # header, configuration summary, settings and output


def output(page, number: int) -> str:
    """What pane ``number`` shows below its settings: status, reply, figures."""
    return page.locator(f".st-key-cmp-out-p{number}").inner_text()


REPLY_JS = """(n) => {
    const out = document.querySelector(`.st-key-cmp-out-p${n}`);
    if (!out) return "";
    return [...out.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .filter(e => !e.closest('[data-testid="stExpander"], [data-testid="stAlert"]'))
        .map(e => e.innerText).join("\\n");
}"""


def reply(page, number: int) -> str:
    """The reply text of pane ``number`` as drawn (captions, earlier turns and errors left out)."""
    return page.evaluate(REPLY_JS, number)


def test_two_quantizations_stream_side_by_side_with_figures(app_server, page):
    page.goto(f"{app_server.url}/compare")
    page.locator("h1").filter(has_text="Compare").wait_for(timeout=60_000)
    page.get_by_text("Side by side", exact=True).wait_for(timeout=30_000)  # its component loads lazily
    wait_idle(page)
    shot(page, "01-start")

    choose(page, 1, "Quantization", "fp32")
    choose(page, 2, "Quantization", "bf16")
    for number in (1, 2):
        type_number(page, number, "Max new tokens", MAX_NEW_TOKENS)
    assert " · fp32 · " in pane_text(page, 1) and " · bf16 · " in pane_text(page, 2)
    shot(page, "02-configured")

    send(page, PROMPT)
    page.locator('.st-key-cmp-out-p1 [data-testid="stProgress"]').wait_for(timeout=30_000)  # pane 1's model loads
    shot(page, "03-loading")

    # Poll both panes while the run lasts: a pane streams when its reply grows while it says "Writing…".
    lengths: dict[int, set[int]] = {1: set(), 2: set()}
    both_writing_with_text = False
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while time.monotonic() < deadline:
        writing = {n: "Writing…" in output(page, n) for n in (1, 2)}
        replies = {n: reply(page, n) for n in (1, 2)}
        for n in (1, 2):
            if writing[n] and replies[n]:
                lengths[n].add(len(replies[n]))
        if all(writing.values()) and all(replies.values()):
            if not both_writing_with_text:
                shot(page, "04-streaming")
            both_writing_with_text = True
        if not running(page) and all("tokens/s" in output(page, n) for n in (1, 2)):
            break
        time.sleep(0.15)
    assert both_writing_with_text, "both panes were writing, with text on screen, at the same time"
    assert all(len(seen) >= 3 for seen in lengths.values()), f"each reply grew while streaming: {lengths}"

    for number, quant in ((1, "fp32"), (2, "bf16")):
        text = output(page, number)
        assert "tokens/s" in text and "first token" in text and "memory" in text, text
        assert f"ran as {quant} on CPU" in text
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)  # its component loads lazily
    assert page.locator('[data-testid="stException"]').count() == 0
    shot(page, "05-answered")

    with page.expect_download(timeout=30_000) as download_info:
        page.get_by_role("button", name="Markdown").click()
    path = ARTIFACTS / "compare-export.md"
    download_info.value.save_as(str(path))
    exported = path.read_text(encoding="utf-8")
    assert PROMPT in exported and exported.count("**Reply**") == 2
    assert "| Quantization | fp32 (ran as fp32) |" in exported and "| Quantization | bf16 (ran as bf16) |" in exported

    for number in (1, 2):
        type_number(page, number, "Max new tokens", "400")
    send(page, LONG_PROMPT)
    page.wait_for_function(  # both panes are writing the new reply and have some text on screen
        "() => [1, 2].every(n => { const o = document.querySelector(`.st-key-cmp-out-p${n}`);"
        " return o && o.innerText.includes('Writing') && (" + REPLY_JS + ")(n).length > 0; })",
        timeout=90_000,
        polling=200,
    )
    page.get_by_role("button", name="Stop all panes").click()
    page.wait_for_function(  # the next run waits for the stopped panes, then draws them
        "() => [1, 2].every(n => document.querySelector(`.st-key-cmp-out-p${n}`)?.innerText.includes('Stopped'))",
        timeout=60_000,
        polling=200,
    )
    wait_idle(page)
    for number in (1, 2):
        assert "Stopped: the reply was cut short" in output(page, number)
        assert "Earlier turns (1)" in output(page, number) and reply(page, number)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.locator(".st-key-cmp-out-p1").scroll_into_view_if_needed()
    shot(page, "06-stopped")
