"""reading/mime.py: header values and texts decoded as relay_mail relies on (pure)."""

from __future__ import annotations

from email.utils import getaddresses

import pytest
from keybuzz_poller.reading.mime import decode_text, header_addresses, header_text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("=?utf-8?q?caf=C3=A9?= au\r\n lait", "café au lait"),
        # blanks between two encoded words go, those next to plain text stay
        ("=?utf-8?q?a?=  =?utf-8?b?Yg==?= c", "ab c"),
        ("x =?utf-8?q?a?=", "x a"),
        # an iso-8859-1 label means windows-1252: 0x80 is the euro sign
        ("=?ISO-8859-1?Q?5_=80_rembours=E9s?=", "5 € remboursés"),
        # base64 without its padding, a language suffix (RFC 2231), an unknown charset
        ("=?utf-8?b?w6k?=", "é"),
        ("=?utf-8*fr?q?=C3=A9t=C3=A9?=", "été"),
        ("=?x-no-such?q?abc?=", "abc"),
        # a malformed word stays as written
        ("=?utf-8?q?broken", "=?utf-8?q?broken"),
        ("=?utf-8?b?@@@?=", "=?utf-8?b?@@@?="),
    ],
)
def test_rfc2047_words_are_decoded(raw: str, text: str) -> None:
    assert header_text(raw) == text


def test_raw_8bit_bytes_in_a_header_are_decoded_like_a_body() -> None:
    # The parser hands raw bytes over as surrogates (surrogateescape).
    latin1 = "Réclamation 12 €".encode("cp1252").decode("ascii", "surrogateescape")
    utf8 = "Jérôme".encode().decode("ascii", "surrogateescape")
    assert header_text(latin1) == "Réclamation 12 €"
    assert header_text(utf8) == "Jérôme"
    address = "Jérôme <jé@x.fr>".encode().decode("ascii", "surrogateescape")
    assert header_addresses(address) == [("Jérôme", "jé@x.fr")]


@pytest.mark.parametrize(
    "value",
    [
        "Jean - Amazon Marketplace <b7q2x9w4k1@marketplace.amazon.fr>",
        "<a@b.c>",
        "  Jean   Dupont \t <a.b-c+d@x-y.z>  ",
        "- <a@b>",
        "Jean - X <a_b@c.d.e>",
        # not the simple form: read by getaddresses
        '"Dupont, Jean" <a@b.c>',
        "a@b.c",
        "Jean <a@b.c>, Paul <p@b.c>",
        "Jean (comment) <a@b.c>",
        "Jean <a..b@c>",
    ],
)
def test_addresses_are_what_getaddresses_gives(value: str) -> None:
    assert header_addresses(value) == getaddresses([value])


def test_an_encoded_name_is_decoded_after_the_split() -> None:
    value = "=?utf-8?q?Dupont=2C_J=C3=A9r=C3=B4me?= <a@b.c>"
    assert header_addresses(value) == [("Dupont, Jérôme", "a@b.c")]


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("Grüße €".encode("cp1252"), "iso-8859-1", "Grüße €"),
        ("Grüße".encode(), "us-ascii", "Grüße"),
        ("Grüße".encode(), "x-no-such", "Grüße"),
        ("Grüße".encode("cp1252"), "utf-8", "Grüße"),
        (b"\x81\x8d", "utf-8", "\x81\x8d"),  # not even windows-1252: one char per byte
    ],
)
def test_texts_decode_whatever_their_label(data: bytes, charset: str, text: str) -> None:
    assert decode_text(data, charset) == text
