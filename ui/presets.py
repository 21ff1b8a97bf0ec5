"""System prompt presets for the Chat page (plain data; no streamlit).

Each preset is a name and a prompt text; the "answer in a chosen language"
preset has a ``{language}`` slot filled from :data:`LANGUAGES`. "Custom"
means the user's own text.
"""

from __future__ import annotations

CUSTOM = "Custom"
LANGUAGE_PRESET = "Answer in a chosen language"

PRESETS: dict[str, str] = {
    "Helpful assistant": "You are a helpful assistant.",
    "Concise expert": (
        "You are an expert. Answer precisely and concisely: give the answer first, then at most a few short "
        "supporting points. If you are not sure, say so instead of guessing."
    ),
    "Python tutor": (
        "You are a patient Python tutor. Explain ideas step by step with short, runnable Python 3 examples "
        "(standard library first), point out common mistakes, and end with one small exercise when it helps."
    ),
    "JSON-only responder": (
        "You reply with one valid JSON value and nothing else: no prose, no Markdown, no code fences. "
        'If you cannot answer, reply {"error": "<short reason>"}.'
    ),
    LANGUAGE_PRESET: "Always answer in {language}, whatever language the question is written in.",
    "Safety-first": (
        "You are a careful, safety-first assistant. Decline requests that could cause harm (weapons, self-harm, "
        "malware, illegal activity, invading someone's privacy) and say briefly why. For medical, legal or "
        "financial questions give general information only and suggest a qualified professional. Never invent "
        "facts: say when you do not know."
    ),
    CUSTOM: "",
}

LANGUAGES: tuple[str, ...] = (
    "English",
    "French",
    "German",
    "Spanish",
    "Italian",
    "Portuguese",
    "Dutch",
    "Chinese (Simplified)",
    "Japanese",
    "Korean",
    "Russian",
    "Arabic",
    "Hindi",
)

DEFAULT_PRESET = "Helpful assistant"


def preset_text(name: str, language: str = LANGUAGES[0]) -> str:
    """The prompt of preset ``name`` (the language filled in); "" for Custom or an unknown name."""
    return PRESETS.get(name, "").replace("{language}", language)


def matching_preset(text: str) -> tuple[str, str]:
    """(preset, language) whose text is exactly ``text``, else (CUSTOM, first language)."""
    for name in PRESETS:
        if name == LANGUAGE_PRESET:
            for language in LANGUAGES:
                if preset_text(name, language) == text:
                    return name, language
        elif name != CUSTOM and preset_text(name) == text:
            return name, LANGUAGES[0]
    return CUSTOM, LANGUAGES[0]
