"""Rail 5: output rails while streaming — harmful-content cut-off and PII redaction.

Contract of :func:`guard_stream`:
- It consumes ``chunks`` (any iterable of str, e.g. a generation stream) and
  yields :class:`OutputEvent` s: ``delta`` (text to append, already
  redacted), ``warning`` (a warned category appeared; the stream goes on),
  then exactly one terminal event: ``blocked`` (the refusal that replaces
  everything shown so far) or ``done`` (the full redacted reply).
- Text is checked before it is released: the reply is examined every
  ``check_every`` characters (and at newlines and at the end) on a window of
  recent text, so at most ``check_every`` characters plus the PII hold-back
  are waiting at any time.
- On a blocking verdict the upstream iterator is closed (``close()``, which
  for a generator runs its cleanup and so cancels generation) and
  ``on_cancel`` is called. Both also happen when the consumer stops reading
  early (closes this generator).
- PII is redacted with :class:`~core.guardrails.pii.StreamRedactor`, so a
  span split across chunks is never released in part.
- A ``checker`` that raises is recorded as an "error" trace entry and the
  stream continues with the rules alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Literal

from .pii import PIISpan, StreamRedactor
from .policy import CATEGORY_IDS, Policy
from .rules import classify
from .trace import Stopwatch, TraceEntry

# Jailbreak phrases in a reply are explanations, not attacks: not checked on output.
OUTPUT_CATEGORIES = frozenset(c for c in CATEGORY_IDS if c != "jailbreak")
OVERLAP = 300  # chars of already-checked text re-examined with new text (rules look at most ~100 chars apart)

OutputChecker = Callable[[str], TraceEntry]


@dataclass(frozen=True)
class OutputEvent:
    """One step of a guarded stream (see module docstring for the kinds)."""

    kind: Literal["delta", "warning", "blocked", "done"]
    text: str
    category: str | None = None
    trace: tuple[TraceEntry, ...] = ()
    spans: tuple[PIISpan, ...] = ()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, "category": self.category,
                "trace": [t.to_dict() for t in self.trace], "spans": [s.to_dict() for s in self.spans]}


def guard_stream(
    chunks: Iterable[str],
    policy: Policy,
    *,
    use_rules: bool = True,
    checker: OutputChecker | None = None,
    redact: bool | None = None,
    check_every: int = 32,
    on_cancel: Callable[[], None] | None = None,
) -> Iterator[OutputEvent]:
    """Guard a streamed reply; see the module docstring. ``redact`` None follows the policy."""
    if check_every < 1:
        raise ValueError("check_every must be at least 1")
    upstream = iter(chunks)
    do_redact = policy.settings.redact_pii if redact is None else redact
    redactor = StreamRedactor(policy.settings.pii_kinds, policy.settings.phone_regions) if do_redact else None
    full = ""
    checked = 0  # length of the prefix of `full` that passed the harm check
    released = 0  # length of the prefix of `full` handed to the redactor
    shown: list[str] = []
    warned: set[str] = set()
    checker_failed = False
    stats = {"ms": 0.0, "checks": 0}
    finished = False
    cancelled = False

    def cancel() -> None:
        nonlocal cancelled
        if cancelled:
            return
        cancelled = True
        close = getattr(upstream, "close", None)
        if callable(close):
            close()
        if on_cancel is not None:
            on_cancel()

    def check(upto: int) -> TraceEntry | None:
        """The strictest finding in the unchecked text (with overlap), or None."""
        nonlocal checker_failed
        segment = full[max(0, checked - OVERLAP):upto]
        found: list[TraceEntry] = []
        with Stopwatch() as sw:
            if use_rules:
                entry = classify(segment, policy, categories=OUTPUT_CATEGORIES, rail="output")
                if entry.verdict in ("block", "warn"):
                    found.append(entry)
            if checker is not None and not checker_failed:
                try:
                    entry = checker(segment)
                    if entry.verdict in ("block", "warn"):
                        found.append(entry)
                except Exception as exc:  # noqa: BLE001 - a broken checker must not break the reply
                    checker_failed = True
                    found.append(TraceEntry("output-checker", "error", note=f"{type(exc).__name__}: {exc}"))
        stats["ms"] += sw.ms
        stats["checks"] += 1
        blocks = [e for e in found if e.verdict == "block"]
        return blocks[0] if blocks else (found[0] if found else None)

    def release(upto: int) -> str:
        nonlocal released
        new = full[released:upto]
        released = upto
        return redactor.feed(new) if redactor is not None else new

    def summary(verdict: str, category: str | None = None, rule: str | None = None) -> list[TraceEntry]:
        entries = [TraceEntry("output", verdict, category, 1.0 if rule else 0.0, rule, stats["ms"],
                              f"{stats['checks']} checks over {len(full)} characters")]
        if redactor is not None:
            kinds: dict[str, int] = {}
            for s in redactor.spans:
                kinds[s.kind] = kinds.get(s.kind, 0) + 1
            desc = ", ".join(f"{k} x{n}" for k, n in kinds.items()) or "nothing to redact"
            entries.append(TraceEntry("pii", "warn" if redactor.spans else "allow", "privacy_pii" if kinds else None,
                                      None, "redaction", 0.0, f"redacted: {desc}"))
        return entries

    errors: list[TraceEntry] = []
    try:
        for chunk in upstream:
            if not chunk:
                continue
            if not isinstance(chunk, str):
                raise TypeError(f"stream chunks must be str, got {type(chunk).__name__}")
            full += chunk
            if len(full) - checked < check_every and "\n" not in chunk:
                continue
            finding = check(len(full))
            if finding is not None and finding.verdict == "error":
                errors.append(finding)
                finding = None
            if finding is not None and finding.verdict == "block":
                cancel()
                finished = True
                yield OutputEvent("blocked", policy.refusal(finding.category), finding.category,
                                  tuple(errors + summary("block", finding.category, finding.rule)))
                return
            if finding is not None and finding.category not in warned:
                warned.add(finding.category or "")
                yield OutputEvent("warning", policy.refusal(finding.category), finding.category, (finding,))
            checked = len(full)
            text = release(checked)
            if text:
                shown.append(text)
                yield OutputEvent("delta", text)
        if checked < len(full):
            finding = check(len(full))
            if finding is not None and finding.verdict == "error":
                errors.append(finding)
                finding = None
            if finding is not None and finding.verdict == "block":
                finished = True
                yield OutputEvent("blocked", policy.refusal(finding.category), finding.category,
                                  tuple(errors + summary("block", finding.category, finding.rule)))
                return
            if finding is not None and finding.category not in warned:
                warned.add(finding.category or "")
                yield OutputEvent("warning", policy.refusal(finding.category), finding.category, (finding,))
            checked = len(full)
        text = release(len(full)) + (redactor.flush() if redactor is not None else "")
        if text:
            shown.append(text)
            yield OutputEvent("delta", text)
        finished = True
        verdict = "warn" if warned else "allow"
        yield OutputEvent("done", "".join(shown), None, tuple(errors + summary(verdict)),
                          tuple(redactor.spans) if redactor is not None else ())
    finally:
        if not finished:  # the consumer stopped early, or upstream raised
            cancel()


def check_output(text: str, policy: Policy, **kwargs) -> OutputEvent:
    """Guard a complete reply at once; returns the terminal event ("done" or "blocked")."""
    last: OutputEvent | None = None
    for event in guard_stream([text], policy, **kwargs):
        last = event
    assert last is not None
    return last
