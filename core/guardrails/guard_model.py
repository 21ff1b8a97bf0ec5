"""Input rail 3: an optional dedicated guard model, behind the same rail interface.

Contract:
- Two published guard models are known, each with its documented output:
  * ``Qwen/Qwen3Guard-Gen-0.6B``: "Safety: Safe|Unsafe|Controversial" then
    "Categories: ..." (names such as "Violent", "Non-violent Illegal Acts",
    "Jailbreak"), and "Refusal: Yes|No" when a response is moderated.
  * ``meta-llama/Llama-Guard-3-1B``: "safe", or "unsafe" and on the next line
    the violated hazard codes, e.g. "S1,S10" (MLCommons taxonomy S1..S13;
    Llama Guard 3 8B adds S14 Code Interpreter Abuse).
  Both models carry their moderation prompt in their chat template, so the
  rail sends the plain conversation.
- :func:`parse_guard_output` reads either format into a :class:`GuardOutput`.
  Coarse model categories map to *candidate* policy categories; an unsafe
  verdict takes the strictest action among its candidates (a model category
  with no policy counterpart, e.g. "Elections", gets ``unmapped_action``).
- :class:`GuardRail` without a generator returns a trace entry with verdict
  "skipped" and the reason (no network, not installed, ...): the guard is
  optional and its absence is reported, never fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, Mapping

from .policy import Policy
from .selfcheck import TextGenerator, reply_snippet
from .trace import TraceEntry, strictest

GuardFormat = Literal["qwen3guard", "llamaguard3"]


@dataclass(frozen=True)
class GuardModelSpec:
    hub_id: str
    format: GuardFormat
    max_new_tokens: int


GUARD_MODELS: Mapping[str, GuardModelSpec] = {
    "Qwen/Qwen3Guard-Gen-0.6B": GuardModelSpec("Qwen/Qwen3Guard-Gen-0.6B", "qwen3guard", 32),
    "meta-llama/Llama-Guard-3-1B": GuardModelSpec("meta-llama/Llama-Guard-3-1B", "llamaguard3", 16),
}
DEFAULT_GUARD_MODEL = "Qwen/Qwen3Guard-Gen-0.6B"

# Qwen3Guard-Gen category names (from the model card) -> candidate policy categories.
QWEN3GUARD_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "Violent": ("violence_weapons",),
    "Non-violent Illegal Acts": ("illegal_drugs", "cyber_malware", "fraud_scams"),
    "Sexual Content or Sexual Acts": (),  # adult content: not a category of this policy
    "PII": ("privacy_pii",),
    "Suicide & Self-Harm": ("self_harm",),
    "Unethical Acts": ("hate_harassment",),
    "Politically Sensitive Topics": (),
    "Copyright Violation": (),
    "Jailbreak": ("jailbreak",),
}

# Llama Guard 3 hazard codes (MLCommons taxonomy) -> candidate policy categories.
LLAMAGUARD3_CATEGORIES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "S1": ("Violent Crimes", ("violence_weapons",)),
    "S2": ("Non-Violent Crimes", ("illegal_drugs", "cyber_malware", "fraud_scams")),
    "S3": ("Sex-Related Crimes", ("hate_harassment", "violence_weapons")),
    "S4": ("Child Sexual Exploitation", ("sexual_minors",)),
    "S5": ("Defamation", ("hate_harassment",)),
    "S6": ("Specialized Advice", ()),
    "S7": ("Privacy", ("privacy_pii",)),
    "S8": ("Intellectual Property", ()),
    "S9": ("Indiscriminate Weapons", ("violence_weapons",)),
    "S10": ("Hate", ("hate_harassment",)),
    "S11": ("Suicide & Self-Harm", ("self_harm",)),
    "S12": ("Sexual Content", ()),
    "S13": ("Elections", ()),
    "S14": ("Code Interpreter Abuse", ("cyber_malware",)),
}


@dataclass(frozen=True)
class GuardOutput:
    """``label`` is "safe" | "unsafe" | "controversial", or None when unreadable."""

    label: str | None
    raw_categories: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()  # policy category ids, de-duplicated
    unmapped: tuple[str, ...] = ()  # model categories without a policy counterpart
    refusal: str | None = None
    note: str = ""


_QWEN_SAFETY = re.compile(r"Safety:\s*(Safe|Unsafe|Controversial)\b", re.IGNORECASE)
_QWEN_CATS = re.compile(r"Categories:\s*(.*)", re.IGNORECASE)
_QWEN_REFUSAL = re.compile(r"Refusal:\s*(Yes|No)\b", re.IGNORECASE)
_LLAMA_CODES = re.compile(r"\bS(1[0-4]|[1-9])\b")


def _clean(text: str) -> str:
    return re.sub(r"<\|[^|>]*\|>|</?s>", "", text).strip()


def parse_qwen3guard(text: str) -> GuardOutput:
    text = _clean(text)
    m = _QWEN_SAFETY.search(text)
    if not m:
        return GuardOutput(None, note=f"no 'Safety:' line in Qwen3Guard output: {text[:80]!r}")
    label = m.group(1).lower()
    raw: list[str] = []
    cm = _QWEN_CATS.search(text)
    if cm:
        line = cm.group(1)
        # Match the longest names first ("Non-violent Illegal Acts" before "Violent").
        for name in sorted(QWEN3GUARD_CATEGORIES, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", line, re.IGNORECASE):
                raw.append(name)
                line = re.sub(re.escape(name), " ", line, flags=re.IGNORECASE)
    candidates = tuple(dict.fromkeys(c for name in raw for c in QWEN3GUARD_CATEGORIES[name]))
    unmapped = tuple(name for name in raw if not QWEN3GUARD_CATEGORIES[name])
    rm = _QWEN_REFUSAL.search(text)
    return GuardOutput(label, tuple(raw), candidates, unmapped, rm.group(1).lower() if rm else None)


def parse_llamaguard3(text: str) -> GuardOutput:
    text = _clean(text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0].lower() not in ("safe", "unsafe"):
        return GuardOutput(None, note=f"Llama Guard output does not start with safe/unsafe: {text[:80]!r}")
    label = lines[0].lower()
    codes = tuple(dict.fromkeys(f"S{n}" for n in _LLAMA_CODES.findall(" ".join(lines[1:])))) if label == "unsafe" else ()
    candidates = tuple(dict.fromkeys(c for code in codes for c in LLAMAGUARD3_CATEGORIES[code][1]))
    unmapped = tuple(code for code in codes if not LLAMAGUARD3_CATEGORIES[code][1])
    raw = tuple(f"{code} {LLAMAGUARD3_CATEGORIES[code][0]}" for code in codes)
    return GuardOutput(label, raw, candidates, unmapped)


def parse_guard_output(text: str, fmt: GuardFormat) -> GuardOutput:
    if not isinstance(text, str):
        return GuardOutput(None, note=f"guard output is {type(text).__name__}, not text")
    return parse_qwen3guard(text) if fmt == "qwen3guard" else parse_llamaguard3(text)


def guard_output_to_trace(out: GuardOutput, policy: Policy, rail: str, model_id: str) -> TraceEntry:
    """Map a parsed guard output onto the policy's actions."""
    label_desc = out.label or "unreadable"
    rule = f"{model_id}: {label_desc}" + (f" [{', '.join(out.raw_categories)}]" if out.raw_categories else "")
    if out.label is None:
        action = policy.settings.on_unparseable
        return TraceEntry(rail, action, rule=rule, note=f"{out.note}; fallback verdict '{action}'")
    if out.label == "safe":
        note = f"refusal: {out.refusal}" if out.refusal else ""
        return TraceEntry(rail, "allow", score=0.0, rule=rule, note=note)
    if out.label == "controversial":
        action = policy.settings.controversial_action
        category = out.candidates[0] if out.candidates else None
        return TraceEntry(rail, action, category, 0.5, rule, note="controversial: settings.controversial_action applies")
    actions = [policy.action(c) for c in out.candidates]
    if out.unmapped or not out.candidates:
        actions.append(policy.settings.unmapped_action)
    action = strictest(actions)
    category = next((c for c in out.candidates if policy.action(c) == action), None)
    note = "" if category else "no policy category for this model category: unmapped_action applies"
    return TraceEntry(rail, action, category, 1.0, rule, note=note)


def _guard_messages(text: str, response: str | None, fmt: GuardFormat) -> list[dict]:
    messages: list[dict] = [{"role": "user", "content": text}]
    if response is not None:
        messages.append({"role": "assistant", "content": response})
    if fmt == "llamaguard3":
        # Llama Guard 3's chat template reads content as a list of typed parts.
        messages = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages]
    return messages


class GuardRail:
    """A guard model rail; ``generator`` None means unavailable (skipped, with ``reason``)."""

    name = "guard"

    def __init__(self, model_id: str = DEFAULT_GUARD_MODEL, generator: TextGenerator | None = None,
                 reason: str = "no guard model loaded") -> None:
        if model_id not in GUARD_MODELS:
            raise ValueError(f"Unknown guard model '{model_id}'. Known: {', '.join(GUARD_MODELS)}.")
        self.spec = GUARD_MODELS[model_id]
        self.generator = generator
        self.reason = reason

    @property
    def available(self) -> bool:
        return self.generator is not None

    def check(self, text: str, policy: Policy, response: str | None = None) -> TraceEntry:
        """Moderate ``text`` (a prompt), or ``response`` to it when given."""
        if self.generator is None:
            return TraceEntry(self.name, "skipped", note=f"guard model {self.spec.hub_id} unavailable: {self.reason}")
        messages = _guard_messages(text, response, self.spec.format)
        reply = self.generator(messages, self.spec.max_new_tokens)  # type: ignore[arg-type]
        out = parse_guard_output(reply, self.spec.format)
        entry = guard_output_to_trace(out, policy, self.name, self.spec.hub_id)
        return replace(entry, note=f"{entry.note}; reply: {reply_snippet(reply)}".lstrip("; "))
