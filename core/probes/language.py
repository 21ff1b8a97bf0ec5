"""A small, honest language detector for short replies.

Contract of :func:`detect_language`: returns a :class:`Detection` whose
``language`` is an ISO 639-1 code or ``"unknown"`` when the evidence is too
thin (a bare name, a number, an empty reply). Never raises.

How it decides, in two steps:
1. Script. Letters are counted per writing system, in word-like units (a
   Latin/Cyrillic/Hangul word is one unit, a Han or Kana character about two
   thirds of one, since one character carries roughly a word's worth), so a
   Chinese reply that mentions "Beijing" is still Chinese. Han with any real
   share of Kana is Japanese; Cyrillic with Ukrainian-only letters is
   Ukrainian, otherwise Russian.
2. For Latin script, function words (stopwords) of en/fr/de/es/it/pt vote;
   a word shared by several languages counts 1/n to each, and a few letters
   that belong to one language (ß, ñ, ã, ...) add a little. No vote at all
   (or a tie) gives "unknown".

It is a heuristic for one or two sentences, not a general-purpose identifier:
it knows only these languages and can be fooled by a reply that mixes them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

LATIN_LANGUAGES = ("en", "fr", "de", "es", "it", "pt")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and is are was were of to in it that this with for be on as you not have has by at from or which "
        "what an can will there their they we he she its would should been i my your do does did but if so "
        "than then these those who how also into about"
    ),
    "fr": _words(
        "le la les des du de un une est et en que qui dans pour pas sur au aux ce cette il elle sont avec ne "
        "se nous vous je mais ou où très été être c' l' d' qu' n' j' s' ces son sa ses leur par plus on"
    ),
    "de": _words(
        "der die das und ist nicht ein eine einen einem dem den des zu mit von auf für im sich es auch sind "
        "wird wie ich sie wir hat aus bei nach oder aber dass ist war werden kann noch nur um über zum zur"
    ),
    "es": _words(
        "el la los las de del y que en es un una por para con no se su al lo como más está son pero muy "
        "también ya sus hay este esta ser fue sobre entre"
    ),
    "it": _words(
        "il lo la gli le di del della dello dei delle che e è un una per con non in sono da al alla anche "
        "come ma più questo questa nel nella l' dell' all' nell' un' sul ed"
    ),
    "pt": _words(
        "o a os as de do da dos das e é que em um uma para com não no na nos nas por mais são ao se como mas "
        "foi também pelo pela isso este esta"
    ),
}
# How many languages list each word: a shared word is weak evidence for each of them.
_SHARED = Counter(word for words in _STOPWORDS.values() for word in words)

# Letters (lower case) that point to one language; each occurrence adds this much.
_LETTER_HINTS: dict[str, tuple[str, float]] = {
    "ß": ("de", 1.0),
    "ä": ("de", 0.5),
    "ö": ("de", 0.5),
    "ü": ("de", 0.5),
    "ñ": ("es", 1.0),
    "¿": ("es", 1.0),
    "¡": ("es", 1.0),
    "ã": ("pt", 1.0),
    "õ": ("pt", 1.0),
    "œ": ("fr", 1.0),
    "ê": ("fr", 0.5),
    "û": ("fr", 0.5),
    "ù": ("fr", 0.5),
    "ì": ("it", 0.5),
    "ò": ("it", 0.5),
}

_UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_URL = re.compile(r"https?://\S+")
_ELISION = re.compile(r"^([a-zà-ÿ]{1,4})['’](.+)$")


@dataclass(frozen=True)
class Detection:
    """The detected language, how sure (share of the evidence, 0..1), and the raw votes."""

    language: str
    confidence: float
    votes: dict[str, float] = field(default_factory=dict)


def _script(char: str) -> str | None:
    code = ord(char)
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "han"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F:
        return "arabic"
    if 0x0370 <= code <= 0x03FF:
        return "greek"
    if 0x0590 <= code <= 0x05FF:
        return "hebrew"
    if 0x0900 <= code <= 0x097F:
        return "devanagari"
    if 0x0E00 <= code <= 0x0E7F:
        return "thai"
    if char.isalpha() and unicodedata.name(char, "").startswith("LATIN"):
        return "latin"
    return None


_SCRIPT_LANGUAGE = {"hangul": "ko", "arabic": "ar", "greek": "el", "hebrew": "he", "devanagari": "hi", "thai": "th"}
_CHAR_UNIT = 2 / 3  # a Han/Kana character carries about two thirds of a word


def script_units(text: str) -> Counter[str]:
    """Word-like units of each script in ``text`` (see the module docstring)."""
    units: Counter[str] = Counter()
    for word in _WORD.findall(text):
        scripts = Counter(s for s in map(_script, word) if s is not None)
        for script, count in scripts.items():
            units[script] += count * _CHAR_UNIT if script in ("han", "kana") else count / max(len(word), 1)
    return units


def _latin_votes(text: str) -> dict[str, float]:
    votes: dict[str, float] = dict.fromkeys(LATIN_LANGUAGES, 0.0)
    for raw in _WORD.findall(text.lower()):
        words = [raw]
        elided = _ELISION.match(raw.replace("’", "'"))
        if elided:  # "l'allemagne" -> "l'" (a French/Italian marker) + "allemagne"
            words = [elided.group(1) + "'", elided.group(2)]
        for word in words:
            shared = _SHARED.get(word, 0)
            if not shared:
                continue
            for language, stopwords in _STOPWORDS.items():
                if word in stopwords:
                    votes[language] += 1.0 / shared
    for char in text.lower():
        hint = _LETTER_HINTS.get(char)
        if hint:
            votes[hint[0]] += hint[1]
    return votes


def detect_language(text: str) -> Detection:
    """Detect the language of ``text`` (code blocks and URLs are ignored)."""
    if not isinstance(text, str):
        return Detection("unknown", 0.0)
    text = _URL.sub(" ", _FENCE.sub(" ", text[:20_000]))
    units = script_units(text)
    total = sum(units.values())
    if total < 1:
        return Detection("unknown", 0.0)
    cjk = units["han"] + units["kana"]
    script, amount = max(((s, u) for s, u in units.items() if s not in ("han", "kana")), default=("latin", 0.0),
                         key=lambda item: item[1])  # fmt: skip
    if cjk >= amount:
        # Japanese mixes Kana into almost every sentence; Chinese never uses it.
        language = "ja" if units["kana"] >= 0.1 * cjk else "zh"
        return Detection(language, round(cjk / total, 3), {language: cjk})
    if script == "cyrillic":
        language = "uk" if any(c in _UKRAINIAN_LETTERS for c in text) else "ru"
        return Detection(language, round(amount / total, 3), {language: amount})
    if script in _SCRIPT_LANGUAGE:
        language = _SCRIPT_LANGUAGE[script]
        return Detection(language, round(amount / total, 3), {language: amount})
    votes = _latin_votes(text)
    ranked = sorted(votes.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < 1.0 or top == second:
        return Detection("unknown", 0.0, votes)
    share = top / sum(votes.values())
    return Detection(best, round(share * (amount / total), 3), votes)
