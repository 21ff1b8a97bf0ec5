"""PII detection and redaction: e-mail addresses, phone numbers, card numbers, IBANs.

Contract:
- :func:`find_pii` returns sorted, non-overlapping :class:`PIISpan` s
  (``text[start:end]`` is the PII) and never raises on any ``str``.
- Precision over look-alikes: a card number must pass the Luhn check *and*
  have a real issuer prefix and length; an IBAN must have a known country
  length and a valid ISO 7064 mod-97 checksum; a phone number must be a valid
  number for its region according to Google's libphonenumber (the
  ``phonenumbers`` package), which already rejects dates, times, versions and
  IP addresses. Numbers introduced by "order", "invoice", "ISBN", "tracking",
  "serial"... are not redacted as phones or cards.
- :func:`redact` replaces each span by ``[KIND REDACTED]``.
- :class:`StreamRedactor` does the same on a stream of chunks and never
  releases the beginning of a span that later chunks could complete: it holds
  back the trailing run of text that could still grow into PII and releases
  it once a character arrives that ends the run (or at :meth:`flush`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal

import phonenumbers

PIIKind = Literal["email", "phone", "card", "iban"]
ALL_KINDS: tuple[str, ...] = ("email", "phone", "card", "iban")


@dataclass(frozen=True)
class PIISpan:
    """``text[start:end]`` is PII of ``kind``."""

    start: int
    end: int
    kind: str

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "kind": self.kind}


@dataclass(frozen=True)
class Redaction:
    text: str
    spans: tuple[PIISpan, ...]


def placeholder(kind: str) -> str:
    return f"[{kind.upper()} REDACTED]"


# ----------------------------------------------------------------------------- validators


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) check."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """Issuer of a card number by its prefix and length (None if no issuer uses it)."""
    n = len(digits)
    p2, p4, p6 = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or p2 == 65 or 644 <= int(digits[:3]) <= 649 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= int(digits[:3]) <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 69) and 12 <= n <= 19:
        return "maestro"
    return None


# IBAN lengths by country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}


def iban_valid(iban: str) -> bool:
    """True for a compact IBAN (no spaces) with a known country length and mod-97 == 1."""
    iban = iban.upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


# ----------------------------------------------------------------------------- detectors

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9])?@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-]|\.[A-Za-z0-9]|:[\w~/])"
)
_NOT_EMAIL_TLD = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"}

# 13-19 digits, contiguous or in groups separated by one consistent space or dash.
_CARD = re.compile(
    r"(?<![\w.,/:-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})(?![\w]|[.,/:-]\d)"
)
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![a-z0-9])")

# Words that introduce an identifier which is not a phone or card number.
_ID_CONTEXT = re.compile(
    r"(?:order|invoice|ticket|tracking|case|ref(?:erence)?|confirmation|booking|isbn(?:-1[03])?|issn|serial|sku|part|"
    r"model|item|po|id|customer|version|build|patent|doi|receipt|transaction|shipment|parcel|pnr|claim|policy|"
    r"commit|pr|issue|bug|run|job|pid|port|ip)\s*(?:no\.?|number|num|nr\.?|#|id)?\s*[:#=]?\s*$",
    re.IGNORECASE,
)


def _id_context(text: str, start: int) -> bool:
    return _ID_CONTEXT.search(text[max(0, start - 32):start]) is not None


def _emails(text: str) -> Iterable[PIISpan]:
    for m in _EMAIL.finditer(text):
        domain = m.group(0).rsplit("@", 1)[1].lower()
        labels = domain.split(".")
        if labels[-1] in _NOT_EMAIL_TLD or re.fullmatch(r"\d+x", labels[0]):
            continue  # "icon@2x.png" is an asset name
        yield PIISpan(m.start(), m.end(), "email")


def _cards(text: str) -> Iterable[PIISpan]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(0))
        if card_brand(digits) and luhn_valid(digits) and not _id_context(text, m.start()):
            yield PIISpan(m.start(), m.end(), "card")


def _ibans(text: str) -> Iterable[PIISpan]:
    for m in _IBAN.finditer(text):
        cand = m.group(0)
        expected = IBAN_LENGTHS.get(cand[:2])
        if expected is None:
            continue
        # The regex may run into a following upper-case word: cut at the country's length.
        count, end = 0, 0
        for i, ch in enumerate(cand):
            if ch != " ":
                count += 1
                if count == expected:
                    end = i + 1
                    break
        if end and iban_valid(cand[:end].replace(" ", "")):
            nxt = text[m.start() + end: m.start() + end + 1]
            if not nxt.isalnum():  # the IBAN must end where a word ends
                yield PIISpan(m.start(), m.start() + end, "iban")


def _phones(text: str, regions: tuple[str, ...]) -> Iterable[PIISpan]:
    seen: set[tuple[int, int]] = set()
    for region in regions or ("US",):
        try:
            matches = list(phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID))
        except Exception:  # the library is defensive, but a detector must never crash a reply
            continue
        for m in matches:
            if (m.start, m.end) in seen or _id_context(text, m.start):
                continue
            seen.add((m.start, m.end))
            yield PIISpan(m.start, m.end, "phone")


_MAY_HAVE_PII = re.compile(r"[@\d]")


def find_pii(text: str, kinds: Iterable[str] = ALL_KINDS, phone_regions: Iterable[str] = ("US",)) -> list[PIISpan]:
    """All PII spans in ``text`` of the given kinds, sorted and non-overlapping.

    Where spans overlap, the one found by the stricter check wins (IBAN and
    card checksums before phone-number validity, e-mail first of all).
    """
    if not isinstance(text, str) or not _MAY_HAVE_PII.search(text):
        return []
    kinds = set(kinds)
    found: list[PIISpan] = []
    if "email" in kinds:
        found += _emails(text)
    if "iban" in kinds:
        found += _ibans(text)
    if "card" in kinds:
        found += _cards(text)
    if "phone" in kinds:
        found += _phones(text, tuple(phone_regions))
    kept: list[PIISpan] = []
    for span in found:  # priority order = discovery order
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def apply_redaction(text: str, spans: Iterable[PIISpan]) -> str:
    out, pos = [], 0
    for s in sorted(spans, key=lambda s: s.start):
        out.append(text[pos:s.start])
        out.append(placeholder(s.kind))
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, kinds: Iterable[str] = ALL_KINDS, phone_regions: Iterable[str] = ("US",)) -> Redaction:
    """``text`` with every PII span replaced by its placeholder, plus the spans."""
    spans = tuple(find_pii(text, kinds, phone_regions))
    return Redaction(apply_redaction(text, spans), spans)


# ----------------------------------------------------------------------------- streaming

# A trailing run that may still grow into a phone/card number or an IBAN.
_TRAIL_DIGITS = re.compile(r"[+(]?\d[\d \-.()/]*$")
_TRAIL_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9 ]*$")
_TRAIL_TOKEN = re.compile(r"\S+$")
MAX_SPACED_SPAN = 64  # longest PII that contains spaces (IBAN with spaces: 42) plus margin
MAX_TOKEN_SPAN = 256  # longest e-mail address (254) plus margin
CONTEXT_CHARS = 64  # released raw text kept for context ("order #", "call me at")


class StreamRedactor:
    """Redact PII from a stream of chunks without leaking spans split across chunks.

    ``feed(chunk)`` returns the text that is safe to show now (already
    redacted); ``flush()`` returns the rest at the end of the stream. The
    concatenation of everything returned equals ``redact(whole_text).text``
    for the same settings. ``spans`` lists the spans found so far, in
    coordinates of the raw stream.
    """

    def __init__(self, kinds: Iterable[str] = ALL_KINDS, phone_regions: Iterable[str] = ("US",)) -> None:
        self.kinds = tuple(kinds)
        self.phone_regions = tuple(phone_regions)
        self.spans: list[PIISpan] = []
        self._context = ""  # tail of raw text already released
        self._pending = ""  # raw text not yet released
        self._released = 0  # raw characters released so far

    def feed(self, chunk: str) -> str:
        if not chunk:
            return ""
        self._pending += chunk
        return self._release(final=False)

    def flush(self) -> str:
        return self._release(final=True)

    @staticmethod
    def _hold_from(buf: str) -> int:
        """Index from which ``buf`` must be held back because later text could extend PII there."""
        n = len(buf)
        cut = n
        m = _TRAIL_TOKEN.search(buf)
        if m:
            cut = max(m.start(), n - MAX_TOKEN_SPAN)
        for trail in (_TRAIL_DIGITS, _TRAIL_IBAN):
            m = trail.search(buf, max(0, n - MAX_SPACED_SPAN * 2))
            if m:
                cut = min(cut, max(m.start(), n - MAX_SPACED_SPAN))
        return cut

    def _release(self, final: bool) -> str:
        buf = self._context + self._pending
        base = len(self._context)
        cut = len(buf) if final else max(base, self._hold_from(buf))
        if cut == base and not final:
            return ""
        spans = [s for s in find_pii(buf, self.kinds, self.phone_regions) if s.end > base]
        changed = True
        while changed:  # never cut inside a span
            changed = False
            for s in spans:
                if s.start < cut < s.end:
                    cut, changed = max(base, s.start), True
        out, pos = [], base
        for s in spans:
            if s.start >= base and s.end <= cut:
                out.append(buf[pos:s.start])
                out.append(placeholder(s.kind))
                pos = s.end
                offset = self._released - base
                self.spans.append(PIISpan(s.start + offset, s.end + offset, s.kind))
        out.append(buf[pos:cut])
        released = buf[base:cut]
        self._released += len(released)
        self._context = (self._context + released)[-CONTEXT_CHARS:]
        self._pending = buf[cut:]
        return "".join(out)
