"""PII detection and redaction: recall on real PII, precision on look-alikes, streaming without leaks."""

from __future__ import annotations

import random

import pytest

from core.guardrails.pii import (
    StreamRedactor,
    card_brand,
    find_pii,
    iban_valid,
    luhn_valid,
    placeholder,
    redact,
)

# (text, the PII substring, kind). Card and IBAN numbers are the issuers' published test numbers.
REAL = [
    ("Mail me at john.doe@example.com please", "john.doe@example.com", "email"),
    ("write to a.b-c+tag@mail.co.uk.", "a.b-c+tag@mail.co.uk", "email"),
    ("<jane_smith99@uni-bonn.de>", "jane_smith99@uni-bonn.de", "email"),
    ("Call me at (415) 555-2671 tomorrow", "(415) 555-2671", "phone"),
    ("phone: 212.555.0123", "212.555.0123", "phone"),
    ("Call 1-800-555-0199 today", "1-800-555-0199", "phone"),
    ("office +44 20 7946 0958", "+44 20 7946 0958", "phone"),
    ("Berlin: +49 30 901820", "+49 30 901820", "phone"),
    ("mobile +33 6 12 34 56 78.", "+33 6 12 34 56 78", "phone"),
    ("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111", "card"),
    ("visa 4012888888881881", "4012888888881881", "card"),
    ("mc 5555-5555-5555-4444", "5555-5555-5555-4444", "card"),
    ("amex 3782 822463 10005", "3782 822463 10005", "card"),
    ("discover 6011111111111117", "6011111111111117", "card"),
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "DE89 3704 0044 0532 0130 00", "iban"),
    ("GB82WEST12345698765432", "GB82WEST12345698765432", "iban"),
    ("pay FR14 2004 1010 0505 0001 3M02 606 now", "FR14 2004 1010 0505 0001 3M02 606", "iban"),
    ("NL91 ABNA 0417 1643 00", "NL91 ABNA 0417 1643 00", "iban"),
    ("BE68539007547034", "BE68539007547034", "iban"),
    ("CH93 0076 2011 6238 5295 7 is mine", "CH93 0076 2011 6238 5295 7", "iban"),
]

LOOK_ALIKES = [
    "version 1.2.3.4", "build 10.0.19041.1", "numpy==2.4.6", "v3.11.7",
    "on 2024-01-15", "12/31/2024", "31.12.2024", "the years 1999-2003",
    "at 2024-01-15T10:30:00Z", "10:30:00", "ts 1700000000", "epoch ms 1700000000123",
    "Order #555-123-4567", "order number 4421-8890-12", "Order 4111111111111111", "invoice no. 4012888888881881",
    "ISBN 978-3-16-148410-0", "ISBN 0-306-40615-2", "tracking 1Z999AA10123456784",
    "ip 192.168.100.200", "server = '10.0.0.1:8080'", "0.0.0.0:8000", "ping 8.8.8.8", "ipv6 2001:db8::1",
    "pid 12345", "port 8080", "uuid 123e4567-e89b-12d3-a456-426614174000", "sha 3f2a1b9c4d5e6f7a8b9c",
    "pi is 3.14159265358979", "x = 4111 + 1111", "1234 5678 9012 3456", "4111 1111 1111 1112",
    "DE89 3704 0044 0532 0130 01", "XX89 3704 0044 0532 0130 00", "ABCD EFGH IJKL",
    "@app.route('/x')", "icon@2x.png", "lodash@4.17.21", "git@github.com:org/repo.git", "user@localhost",
    "room 415 555", "+1.5 points", "call ext 1234", "matrix [[1, 2], [3, 4]]", "score 1000000",
]


def test_luhn_and_issuer_checks():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert card_brand("378282246310005") == "amex"
    assert card_brand("1234567812345670") is None  # Luhn-valid but no issuer starts with 1


def test_iban_checksum_and_country_length():
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("DE89370400440532013001")  # checksum
    assert not iban_valid("DE8937040044053201300")  # DE is 22 characters
    assert not iban_valid("XX89370400440532013000")  # unknown country


@pytest.mark.parametrize("text, pii, kind", REAL)
def test_every_real_pii_span_is_found_exactly(text: str, pii: str, kind: str):
    """Recall: the span covers exactly the PII (no more, no less) with the right kind."""
    spans = find_pii(text)
    assert [(text[s.start:s.end], s.kind) for s in spans] == [(pii, kind)]
    assert pii not in redact(text).text and placeholder(kind) in redact(text).text


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_no_look_alike_is_touched(text: str):
    """Precision: versions, dates, times, ids, ISBNs, IPs, hashes and code stay as they are."""
    assert find_pii(text) == []
    assert redact(text).text == text


def test_precision_and_recall_over_all_crafted_cases():
    """Summary over the crafted cases: recall 1.0 on real PII, no false positive on look-alikes."""
    found_real = sum(bool(find_pii(t)) for t, _, _ in REAL)
    false_pos = sum(bool(find_pii(t)) for t in LOOK_ALIKES)
    assert found_real / len(REAL) == 1.0
    assert false_pos == 0
    assert len(REAL) >= 20 and len(LOOK_ALIKES) >= 40


def test_mixed_text_redacts_all_and_keeps_the_rest():
    text = ("Contact john@example.com or (415) 555-2671; card 4111 1111 1111 1111; "
            "IBAN DE89 3704 0044 0532 0130 00. Version 1.2.3.4 released 2024-01-15, order #555-123-4567.")
    out = redact(text)
    assert [s.kind for s in out.spans] == ["email", "phone", "card", "iban"]
    assert out.text == ("Contact [EMAIL REDACTED] or [PHONE REDACTED]; card [CARD REDACTED]; "
                        "IBAN [IBAN REDACTED]. Version 1.2.3.4 released 2024-01-15, order #555-123-4567.")


def test_kinds_and_regions_are_respected():
    """Only the kinds asked for are redacted; a national number needs its region."""
    text = "mail a@b.io, call 030 901820"
    assert [s.kind for s in find_pii(text, kinds=("phone",), phone_regions=("DE",))] == ["phone"]
    assert [s.kind for s in find_pii(text, kinds=("email",))] == ["email"]
    assert [s.kind for s in find_pii(text, phone_regions=("US",))] == ["email"]


@pytest.mark.parametrize("text", ["", "\x00\xff", "@" * 10_000, "1" * 50_000, "+" + "1 " * 5000, "a@b." * 2000])
def test_hostile_input_never_crashes(text: str):
    assert isinstance(find_pii(text), list)


# ----------------------------------------------------------------------------- streaming

STREAM_TEXTS = [
    "Sure! Email john.doe@example.com or call (415) 555-2671. Card: 4111 1111 1111 1111, "
    "IBAN DE89 3704 0044 0532 0130 00. Version 1.2.3.4 on 2024-01-15.",
    "4111111111111111",
    "Contact: a@b.io",
    "Order #555-123-4567 and call +44 20 7946 0958 now",
    "git@github.com:org/repo.git and x@y.com\nGB82 WEST 1234 5698 7654 32\n",
    "no pii here at all, just words and numbers like 1.2.3 " * 4,
]


def _chunkings(text: str, rng: random.Random) -> dict[str, list[str]]:
    rand, i = [], 0
    while i < len(text):
        k = rng.randint(1, 9)
        rand.append(text[i:i + k])
        i += k
    return {"one char": list(text), "random": rand, "two halves": [text[: len(text) // 2], text[len(text) // 2:]],
            "whole": [text]}


@pytest.mark.parametrize("text", STREAM_TEXTS)
def test_streaming_redaction_equals_batch_and_never_leaks(text: str):
    """For every chunking: the released text is always a prefix of the batch result, and ends equal to it.

    A prefix of the redacted text cannot contain any raw PII, so this also shows that no span
    split across chunks is ever released in part.
    """
    want = redact(text)
    for name, chunks in _chunkings(text, random.Random(7)).items():
        redactor = StreamRedactor()
        released = ""
        for chunk in chunks:
            released += redactor.feed(chunk)
            assert want.text.startswith(released), (name, released)
        released += redactor.flush()
        assert released == want.text, name
        assert redactor.spans == list(want.spans), name


def test_split_card_number_is_held_until_it_can_be_decided():
    """Feeding a card number digit by digit releases none of its digits before it is complete."""
    redactor = StreamRedactor()
    released = redactor.feed("my card is ")
    for digit in "4111111111111111":
        released += redactor.feed(digit)
        assert "4111" not in released
    released += redactor.feed(" thanks") + redactor.flush()
    assert released == "my card is [CARD REDACTED] thanks"


def test_hold_back_is_bounded_for_long_digit_runs():
    """A long table of numbers is not held forever: the hold-back is at most a few dozen characters."""
    redactor = StreamRedactor()
    released = redactor.feed("values: " + "12 " * 200)
    assert len(released) > 400
