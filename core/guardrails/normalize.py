"""Normalisation against obfuscation, for the rule classifier.

Contract: :func:`normalize` returns one or more lower-case *views* of a text
(the first is always the plainly folded text). The rules are matched against
every view, so a view only has to undo one trick without spoiling the others:

1. NFKC (fullwidth, mathematical and circled letters become ASCII), format
   characters removed (zero-width spaces/joiners, soft hyphen, bidi marks),
   combining marks stripped ("bömb" -> "bomb"), confusable look-alikes mapped
   (Cyrillic "о", Greek "ο", small capitals... -> "o"), case folded.
2. Spaced-out letters joined: "b o m b", "b.o.m.b", "b-o-m-b" -> "bomb".
3. Leetspeak undone inside words that mix letters with digits or symbols:
   "k1ll" -> "kill", "h@ck" -> "hack" (pure numbers are left alone).
4. Chat-speak spelled out: "how 2 make", "u", "cant", "whats" -> "how to make",
   "you", "can't", "what's".

Views 2-3 are only added when they differ from view 1. Offsets are not kept:
the views are for classification, never shown to the user.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass

# Look-alikes that NFKC leaves alone, mapped to the ASCII letter they imitate
# (after the Unicode confusables list; upper and lower case, before case folding).
_CONFUSABLE_PAIRS = (
    # Cyrillic
    "аa вb еe ёe кk мm нh оo пn рp сc тt уy хx ѕs іi їi јj ԁd ԛq ԝw һh ӏl үy ҡk ьb "
    "АA ВB ЕE ЁE КK МM НH ОO РP СC ТT УY ХX ЅS ІI ЇI ЈJ ԚQ ԜW ҺH ӀI ҮY "
    # Greek
    "αa βb γy εe ηn ιi κk νv οo ρp τt υu χx ωw ϲc ϳj "
    "ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX ϹC "
    # Latin small capitals and other Latin look-alikes
    "ᴀa ʙb ᴄc ᴅd ᴇe ɢg ʜh ɪi ᴊj ᴋk ʟl ᴍm ɴn ᴏo ᴘp ʀr ꜱs ᴛt ᴜu ᴠv ᴡw ʏy ᴢz "
    "ıi ȷj ɑa ɡg ɩi ɒo ƿp "
    # Armenian
    "օo սu ոn ցg հh"
)
_CONFUSABLES = {ord(pair[0]): pair[1] for pair in _CONFUSABLE_PAIRS.split()}


def _invisible_chars() -> dict[int, None]:
    """Format characters (category Cf) plus blank-looking fillers, to delete."""
    table: dict[int, None] = {}
    for start, stop in ((0, 0x30000), (0xE0000, 0xE0080)):
        for cp in range(start, min(stop, sys.maxunicode + 1)):
            if unicodedata.category(chr(cp)) == "Cf":
                table[cp] = None
    for cp in (0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800):  # Hangul fillers, braille blank
        table[cp] = None
    return table


_TRANSLATE = {**_invisible_chars(), **_CONFUSABLES}

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"})
# A word that ends in a letter/digit; symbols may appear before that ("h@ck", "$ex").
_TOKEN = re.compile(r"[\w@$|!+]*\w")
_HAS_LEET = re.compile(r"[a-z][0-9@$|!+]|[0-9@$|!+][a-z]")
_HAS_LETTER = re.compile(r"[a-z]")

# Three or more single letters/digits, each separated by exactly one separator.
_SPACED = re.compile(r"(?<![^\W_])(?:[^\W_][ .\-_*~·•|/\\,'\"]){2,}[^\W_](?![^\W_])")
_SEPARATORS = re.compile(r"[ .\-_*~·•|/\\,'\"]")
_WS = re.compile(r"\s+")

_CHAT = {
    "u": "you", "ur": "your", "r": "are", "2": "to", "4": "for", "pls": "please", "plz": "please", "cant": "can't",
    "dont": "don't", "wont": "won't", "im": "i'm", "ive": "i've", "youre": "you're", "theyre": "they're",
    "ppl": "people", "sb": "somebody", "smth": "something", "wat": "what", "wats": "what's", "whats": "what's",
    "abt": "about", "cuz": "because", "bc": "because", "b4": "before", "w/o": "without", "howto": "how to",
    "gimme": "give me", "lemme": "let me", "ima": "i'm going to", "imma": "i'm going to", "tryna": "trying to",
}
_CHAT_WORD = re.compile(r"(?<![\w/])(?:" + "|".join(sorted(map(re.escape, _CHAT), key=len, reverse=True)) + r")(?![\w/])")


@dataclass(frozen=True)
class NormalizedText:
    """``views[0]`` is the folded text; further views undo spacing and leetspeak."""

    views: tuple[str, ...]

    @property
    def folded(self) -> str:
        return self.views[0]


def utf8_safe(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD. They are not encodable as UTF-8 (a JSON
    ``"\\ud800"`` escape, a mis-decoded command-line argument), and tokenizers refuse them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def fold(text: str) -> str:
    """Step 1: NFKC, invisible characters removed, marks stripped, confusables mapped, case folded."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return text.translate(_TRANSLATE).casefold()


def _join_spaced(text: str, keep_article: bool) -> str:
    def join(match: re.Match[str]) -> str:
        run = match.group(0)
        joined = _SEPARATORS.sub("", run)
        # "make a b o m b": the article "a" (or "i") is probably a word of its own.
        if keep_article and run[0] in "ai" and run[1] == " ":
            return f"{run[0]} {joined[1:]}"
        return joined

    return _SPACED.sub(join, text)


def _deleet(text: str) -> str:
    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        if _HAS_LETTER.search(token) and _HAS_LEET.search(token):
            return token.translate(_LEET)
        return token

    return _TOKEN.sub(fix, text)


def normalize(text: str) -> NormalizedText:
    """All views of ``text`` worth matching (see the module docstring)."""
    raw = fold(text)  # whitespace kept as is: runs of spaces separate spaced-out words
    folded = _WS.sub(" ", raw).strip()
    candidates = [folded]
    if _SPACED.search(raw):
        candidates = [_join_spaced(raw, keep_article=False), _join_spaced(raw, keep_article=True)]
    views = [folded]
    for view in candidates:
        if _HAS_LEET.search(view):
            view = _deleet(view)
        view = _WS.sub(" ", view).strip()
        if view not in views:
            views.append(view)
    for view in dict.fromkeys((views[0], views[-1])):
        if _CHAT_WORD.search(view):
            chat = _CHAT_WORD.sub(lambda m: _CHAT[m.group(0)], view)
            if chat not in views:
                views.append(chat)
    return NormalizedText(tuple(views))
