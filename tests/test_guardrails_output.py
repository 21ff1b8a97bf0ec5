"""Output rails while streaming: cut-off on harmful content, cancellation upstream, PII redaction."""

from __future__ import annotations

from typing import Iterator

import pytest

from core.guardrails.output_rail import check_output, guard_stream
from core.guardrails.policy import default_policy
from core.guardrails.trace import TraceEntry

POLICY = default_policy()

HARMFUL_REPLY = (
    "Sure, here is a plan. First gather your tools. "
    "To make a pipe bomb you need a steel pipe, end caps and a fuse. "
    + "Then continue with more details. " * 40
)
BENIGN_REPLY = (
    "To kill a hanging Python process, find its PID with `ps aux | grep python` and run `kill -9 PID`. "
    "Version 1.2.3.4 fixed this on 2024-01-15. You can also email support@example.com or call (415) 555-2671."
)


class Upstream:
    """A generator-backed upstream that records how far it was consumed and whether it was closed."""

    def __init__(self, text: str, size: int) -> None:
        self.text, self.size = text, size
        self.produced = 0
        self.closed = False
        self._gen = self._run()

    def _run(self) -> Iterator[str]:
        try:
            for i in range(0, len(self.text), self.size):
                chunk = self.text[i:i + self.size]
                self.produced += len(chunk)
                yield chunk
        finally:  # what a real generation loop does when closed: stop generating
            self.closed = True

    def __iter__(self) -> "Upstream":
        return self

    def __next__(self) -> str:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
def test_harmful_reply_is_cut_off_and_generation_cancelled(size: int):
    """Fed one char at a time or in big chunks: the stream ends with the refusal and upstream is closed early."""
    upstream = Upstream(HARMFUL_REPLY, size)
    cancelled: list[bool] = []
    events = list(guard_stream(upstream, POLICY, on_cancel=lambda: cancelled.append(True)))
    last = events[-1]
    assert last.kind == "blocked" and last.category == "violence_weapons"
    assert last.text == POLICY.refusal("violence_weapons")
    assert upstream.closed
    if size < len(HARMFUL_REPLY):
        assert cancelled == [True]
        assert upstream.produced < len(HARMFUL_REPLY)  # generation stopped before the end
    shown = "".join(e.text for e in events if e.kind == "delta")
    assert "pipe bomb" not in shown  # checked text only is released
    assert last.trace[0].rail == "output" and last.trace[0].verdict == "block" and last.trace[0].rule


@pytest.mark.parametrize("size", [1, 5, 50, 10_000])
def test_benign_reply_streams_through_with_pii_redacted(size: int):
    """Nothing is cut; PII is redacted; look-alikes (version, date, kill -9) stay; deltas add up to 'done'."""
    events = list(guard_stream(Upstream(BENIGN_REPLY, size), POLICY))
    done = events[-1]
    assert done.kind == "done"
    assert [e.kind for e in events[:-1]] == ["delta"] * (len(events) - 1)
    shown = "".join(e.text for e in events if e.kind == "delta")
    assert shown == done.text
    assert "support@example.com" not in shown and "555-2671" not in shown
    assert "[EMAIL REDACTED]" in shown and "[PHONE REDACTED]" in shown
    assert "kill -9 PID" in shown and "1.2.3.4" in shown and "2024-01-15" in shown
    assert [s.kind for s in done.spans] == ["email", "phone"]
    rails = {t.rail: t for t in done.trace}
    assert rails["output"].verdict == "allow" and rails["pii"].verdict == "warn"


def test_pii_split_across_chunk_boundaries_never_leaks():
    """An e-mail and a card number cut into pieces at awkward places are never shown in part."""
    chunks = ["Write to jo", "hn.do", "e@exam", "ple.c", "om, card 4111 11", "11 1111 1", "111 ok"]
    shown = ""
    for event in guard_stream(chunks, POLICY, check_every=1):
        if event.kind == "delta":
            shown += event.text
            assert "john" not in shown and "4111" not in shown
    assert shown == "Write to [EMAIL REDACTED], card [CARD REDACTED] ok"


def test_consumer_stopping_early_cancels_upstream():
    """When the UI stops reading (user pressed stop), the upstream generation is closed too."""
    upstream = Upstream(BENIGN_REPLY * 10, 3)
    stream = guard_stream(upstream, POLICY)
    next(stream)
    stream.close()
    assert upstream.closed


def test_warned_category_streams_on_with_a_warning_event():
    policy = POLICY.with_category("violence_weapons", action="warn")
    events = list(guard_stream(Upstream(HARMFUL_REPLY, 20), policy))
    kinds = [e.kind for e in events]
    assert kinds.count("warning") == 1 and kinds[-1] == "done"
    assert "pipe bomb" in events[-1].text


def test_redaction_can_be_switched_off():
    out = check_output(BENIGN_REPLY, POLICY, redact=False)
    assert out.kind == "done" and "support@example.com" in out.text


def test_custom_checker_blocks_and_a_failing_checker_is_recorded_not_fatal():
    def checker(text: str) -> TraceEntry:
        verdict = "block" if "forbidden" in text else "allow"
        return TraceEntry("my-checker", verdict, "privacy_pii" if verdict == "block" else None, rule="word")

    blocked = check_output("this contains a forbidden word", POLICY, checker=checker)
    assert blocked.kind == "blocked" and blocked.category == "privacy_pii"

    def broken(text: str) -> TraceEntry:
        raise RuntimeError("checker exploded")

    done = check_output("a perfectly normal reply about tea", POLICY, checker=broken)
    assert done.kind == "done" and done.text == "a perfectly normal reply about tea"
    errors = [t for t in done.trace if t.verdict == "error"]
    assert errors and "checker exploded" in errors[0].note


def test_jailbreak_phrases_in_a_reply_are_not_blocked():
    """A reply explaining prompt injection quotes attack phrases; that is not an attack on the model."""
    reply = "Attackers often write 'ignore all previous instructions' to hijack a chatbot; filter such input."
    assert check_output(reply, POLICY).kind == "done"


def test_non_string_chunks_raise_a_clear_error():
    with pytest.raises(TypeError, match="chunks must be str"):
        list(guard_stream(["ok ", b"bytes"], POLICY))  # type: ignore[list-item]
