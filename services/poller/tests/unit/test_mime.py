"""reading/mime.py: header values and texts decoded as relay_mail relies on (pure)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

import pytest
from keybuzz_poller.reading.mime import (
    IndexedMessage,
    _plain_params,
    decode_text,
    first_headers,
    header_addresses,
    header_date,
    header_text,
    read_message,
)
from mail_golden import mail_files, mail_name


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


_MAIL = (
    b"From: Buyer <b@x.fr>\r\nTo: s@x.fr\r\nSubject: one\r\nSubject: two\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nhello\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
    b'Content-Disposition: attachment; filename="facture.pdf"\r\n\r\nJVBERi0=\r\n--b1--\r\n'
)


def _answers(message: Message) -> list[object]:
    """What the parse asks of each part: fields, content type, parameters, membership."""
    return [
        (
            part.get("subject"),
            part["content-type"],
            part.get("x-missing", "none"),
            part.get_content_type(),
            part.get_content_charset(),
            part.get_param("boundary"),
            part.get_filename(),
            part.get_content_disposition(),
            "content-type" in part,
            "Content-Disposition" in part,
            part.get_all("subject"),
        )
        for part in message.walk()
    ]


def _set_raw(message: Message) -> None:
    message.set_raw("Subject", "raw")  # the parser's call: below the first Subject
    message.set_raw("Content-Disposition", "inline; filename=raw.txt")


def _defaults(message: Message) -> None:
    for part in message.walk():
        del part["content-type"]
        part.get_content_type()  # the default type, read once
        part.set_default_type("message/rfc822")


# Every way a field changes; each after the fields were read once.
_CHANGES = [
    lambda m: m.replace_header("Subject", "three"),
    lambda m: m.set_param("charset", "utf-8"),
    lambda m: m.set_boundary("b2"),
    lambda m: m.__delitem__("subject"),
    lambda m: m.__setitem__("Subject", "four"),
    lambda m: m.set_type("multipart/alternative"),
    _set_raw,
    _defaults,
]


def test_the_indexed_message_answers_as_the_stdlib_message_after_every_change() -> None:
    """read_message's Message keeps its answers between changes: each change drops them."""
    stdlib = BytesParser(policy=policy.compat32).parsebytes(_MAIL)
    indexed = read_message(_MAIL)
    assert _answers(indexed) == _answers(stdlib)
    for change in _CHANGES:
        change(stdlib)
        change(indexed)
        assert _answers(indexed) == _answers(stdlib)
    assert indexed.as_bytes() == stdlib.as_bytes()


@pytest.mark.parametrize(
    "value",
    [
        "Tue, 24 Nov 2026 01:52:04 +0000",
        "24 Nov 2026 01:52:04 +0100",
        "Mon, 2 Mar 2026 23:59:59 -0930",
        "Mon, 2 MAR 2026 08:00:00 +0175",  # minutes past 59: the stdlib counts them as such
        "Tue, 24 Nov 2026 01:52:04 -0000",  # no known zone: a naive time
        "Tue, 24 Nov 2026 01:52:04 +0000 (UTC)",
        "Tue, 24 Nov 26 01:52:04 +0000",  # two-digit year
        "Tue, 24 Nov 0099 01:52:04 +0000",
        "Tue, 24 Nov 2026 01:52 +0000",
        "Tue, 24 Nov 2026 01:52:04 GMT",
        "Tue, 31 Feb 2026 01:52:04 +0000",  # no such day
        "Tue, 24 Nov 2026 24:00:00 +0000",
        "Tue, 24 Xyz 2026 01:52:04 +0000",
        "Tue, 24 Nov 2026 01:52:04 +9900",  # a zone a day or more away
        "Tue, 24 Nov 2026 \u0660\u0661:52:04 +0000",  # digits other than ASCII's
        "Tue, 24 Nov 2026 01:52:04 +\u0660\u0661\u0660\u0660",
        "not a date",
    ],
)
def test_a_date_reads_as_the_stdlib_reads_it(value: str) -> None:
    def read(parse: Callable[[str], datetime]) -> tuple[datetime, object] | str:
        try:
            parsed = parse(value)
        except (TypeError, ValueError) as exc:
            return type(exc).__name__
        return parsed, parsed.utcoffset()

    assert read(header_date) == read(parsedate_to_datetime)


def test_first_headers_are_the_same_from_the_indexed_message() -> None:
    raw = b"Received: a\r\nSubject: one\r\nreceived: b\r\nSUBJECT: two\r\nX-Empty:\r\n\r\nbody"
    stdlib = BytesParser(policy=policy.compat32).parsebytes(raw)
    assert first_headers(read_message(raw)) == first_headers(stdlib)
    assert first_headers(read_message(raw)) == {"received": "a", "subject": "one", "x-empty": ""}


def _tree(message: Message) -> tuple[object, ...]:
    """Everything the feed parser decides about a part, its subparts included."""
    payload = message.get_payload()
    return (
        type(message).__name__,
        message.get_unixfrom(),
        list(message.raw_items()),
        [(type(d).__name__, str(d)) for d in message.defects],
        message.get_default_type(),
        [_tree(p) for p in payload] if isinstance(payload, list) else payload,
        message.get_content_type(),
    )


# Relay mail as Dovecot serves it, then every shape that is not: each must come out as the
# stdlib's feed parser makes it (built on the short path or handed over to the feed parser).
_SHAPES = [
    b"X-KeyBuzz-Inbound-Address: a@b\r\nFrom: B - Amazon <b@x.fr>\r\nSubject: s\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n\r\nmerci\r\n",
    b"Subject: folded\r\n  over\r\n\ttwo lines\r\nX-Empty:\r\nX-Blanks: \t a  \r\n\r\nbody",
    b"Subject: caf\xc3\xa9 \xe9t\xe9\r\n\r\n8-bit body \xff\r\n",
    b"Subject: no body\r\n\r\n",
    b"Subject: no blank line\r\n",
    b"",
    b"\r\n\r\nbody only",
    b"Subject: lf\nFrom: only\n\nbody\n",
    b"From sender Tue Nov 24 05:00:00 2026\r\nSubject: envelope\r\n\r\nbody",
    b"Subject: a\r\nFrom late envelope\r\nX: b\r\n\r\nbody",
    b" continuation first\r\nSubject: a\r\n\r\nbody",
    b":no name\r\nSubject: a\r\n\r\nbody",
    b"Subject: a\r\nnot a field\r\n\r\nbody",
    b"Subject: a\rbare CR\r\n\r\nbody",
    b"Subject: a\nX: bare LF\r\n\r\nbody",
    b"Subject: a\r\r\n\r\nbody",
    b"Subject: a\r\n\nX: b\r\n\r\nbody",
    b"Subject: a\r\n \r\n\r\nbody",
    b"Bad Name: a\r\n\r\nbody",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart\r\n--b--\r\n",
    b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
    b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n",
    b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nAction: failed\r\n",
    b"Content-Type: Text/Plain\r\nContent-Type: multipart/alternative; boundary=z\r\n\r\nb\r\n",
    b"Subject: 1\r\n\r\nbody\rwith\nline ends\r\n\r\n\r\n",
]


@pytest.mark.parametrize("headers_only", [False, True])
@pytest.mark.parametrize("raw", _SHAPES)
def test_a_message_reads_as_the_feed_parser_reads_it(raw: bytes, headers_only: bool) -> None:
    stdlib = BytesParser(IndexedMessage, policy=policy.compat32)
    expected = stdlib.parsebytes(raw, headersonly=headers_only)
    read = read_message(raw, headers_only=headers_only)
    assert _tree(read) == _tree(expected)
    assert _generated(read) == _generated(expected)


def _generated(message: Message) -> bytes | str:
    try:
        return message.as_bytes()
    except AttributeError as exc:  # a headers-only message/* part: its payload is text
        return repr(exc)


@pytest.mark.parametrize("path", mail_files(), ids=mail_name)
def test_every_test_mail_reads_as_the_feed_parser_reads_it(path: Path) -> None:
    raw = path.read_bytes()
    for headers_only in (False, True):
        expected = BytesParser(IndexedMessage, policy=policy.compat32).parsebytes(
            raw, headersonly=headers_only
        )
        assert _tree(read_message(raw, headers_only=headers_only)) == _tree(expected)


@pytest.mark.parametrize(
    "raw",
    [
        b"x" * 65536 + b"\r\n\r\nbody",  # one long line of name characters, no colon
        b"Subject: a\r\n" + b"x" * 65536 + b" \r\n\r\nbody",
    ],
    ids=["first line", "later line"],
)
def test_a_long_header_line_without_a_colon_reads_in_one_pass(raw: bytes) -> None:
    """Relay mail up to 32 KiB is parsed in the event loop with no time limit
    (parse_workers.INLINE_PARSE_BYTES): a header scan that starts again at each character
    would hold it for seconds (~20 s for these on the machine of docs/BENCHMARKS.md);
    one pass is about a millisecond."""
    # CPU time, this process's own: what the work costs, not how busy the machine is.
    started = time.process_time()
    read = read_message(raw)
    assert time.process_time() - started < 1.0
    assert _tree(read) == _tree(BytesParser(IndexedMessage, policy=policy.compat32).parsebytes(raw))


def test_a_headers_parameters_split_fast_are_the_stdlibs() -> None:
    """hypothesis imported here, not at the module's top: every test worker imports every
    test module (~0.2 s of CPU each), one runs this."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    # A header value as a part's Content-Type or Content-Disposition holds one: a type,
    # then parameters; with the shapes that must leave the fast split to the stdlib (a
    # quoted ";", escapes, RFC 2231 names) and those it must split as the stdlib does
    # (upper-case names, "<…>", quotes inside a value, blanks, empty parameters).
    parameter = st.tuples(
        st.sampled_from([";", "; ", " ;\t", ";;"]),
        st.sampled_from(["charset", "Name", "FILENAME", "a", "", "x*", "x*0*"]),
        st.sampled_from(["=", " = ", ""]),
        st.sampled_from(
            ["utf-8", '"utf-8"', '"a;b"', "<x>", '"x\\"y"', 'a"b"', "", '"', "é", '" a "']
        ),
    ).map("".join)
    parameters = st.tuples(
        st.sampled_from(["text/plain", " Text/HTML ", "attachment", "a=b", ""]),
        st.lists(parameter, max_size=4).map("".join),
    ).map("".join)

    # Load stretches how long generating an example takes; what this proves does not
    # depend on it.
    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(parameters)
    def split_as_the_stdlib(value: str) -> None:
        stdlib = Message(policy=policy.compat32)
        stdlib["Content-Type"] = value
        fast = _plain_params(value)
        assert fast is None or fast == stdlib._get_params_preserve(None, "content-type")

    split_as_the_stdlib()


@pytest.mark.parametrize(
    "value",
    [
        'text/plain; charset="utf-8"',
        "text/html; charset=UTF-8",
        "attachment; filename=a.pdf",
        'multipart/alternative; boundary="=_abc"',
    ],
)
def test_common_parameters_take_the_fast_split(value: str) -> None:
    assert _plain_params(value) is not None
