"""A reply's checks, before anything is stored: text, attachments, the sender setting (pure)."""

from __future__ import annotations

import base64

import msgspec
import pytest
from keybuzz_poller.replies.checks import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_TEXT_CHARS,
    AttachmentIn,
    AttachmentsTooLarge,
    InvalidReply,
    InvalidSettings,
    ReplyRequest,
    UnsupportedAttachment,
    check_reply,
    check_sender_address,
)


def attachment(
    filename: str = "invoice.pdf", content_type: str = "application/pdf", content: bytes = b"%PDF"
) -> AttachmentIn:
    return AttachmentIn(
        filename=filename,
        content_type=content_type,
        content_base64=base64.b64encode(content).decode(),
    )


def refusal(request: ReplyRequest) -> InvalidReply:
    with pytest.raises(InvalidReply) as raised:
        check_reply(request)
    return raised.value


def test_the_text_is_trimmed_with_unix_line_ends() -> None:
    reply = check_reply(ReplyRequest(text="  Hello,\r\nit ships today.\r\n\n "))
    assert reply.text == "Hello,\nit ships today."
    assert reply.attachments == []


@pytest.mark.parametrize("text", ["", "   ", "\r\n\t"])
def test_an_empty_text_is_refused(text: str) -> None:
    assert "empty" in str(refusal(ReplyRequest(text=text)))


def test_the_text_may_be_as_long_as_the_limit_and_not_longer() -> None:
    assert len(check_reply(ReplyRequest(text="a" * MAX_TEXT_CHARS)).text) == MAX_TEXT_CHARS
    assert str(MAX_TEXT_CHARS) in str(refusal(ReplyRequest(text="a" * (MAX_TEXT_CHARS + 1))))


@pytest.mark.parametrize("text", ["hello\x00world", "hello \ud800"])
def test_a_text_a_mail_cannot_carry_is_refused(text: str) -> None:
    assert "cannot carry" in str(refusal(ReplyRequest(text=text)))


def test_attachments_up_to_amazons_limit_together_are_taken_with_their_bytes() -> None:
    half = MAX_ATTACHMENT_BYTES // 2
    request = ReplyRequest(
        text="see attached",
        attachments=[
            attachment("a.pdf", content=b"a" * half),
            attachment("b.PNG", " Image/PNG ", b"b" * (MAX_ATTACHMENT_BYTES - half)),
        ],
    )
    reply = check_reply(request)
    assert [(a.filename, a.content_type, len(a.content)) for a in reply.attachments] == [
        ("a.pdf", "application/pdf", half),
        ("b.PNG", "image/png", MAX_ATTACHMENT_BYTES - half),
    ]


def test_attachments_over_the_limit_together_are_too_large() -> None:
    size = MAX_ATTACHMENT_BYTES // 2 + 1  # each under the limit, both over it
    request = ReplyRequest(
        text="see attached",
        attachments=[
            attachment("a.pdf", content=b"a" * size),
            attachment("b.pdf", content=b"b" * size),
        ],
    )
    assert isinstance(refusal(request), AttachmentsTooLarge)
    one_byte_over = ReplyRequest(
        text="x", attachments=[attachment(content=b"a" * (MAX_ATTACHMENT_BYTES + 1))]
    )
    assert "10 MB" in str(refusal(one_byte_over))


@pytest.mark.parametrize(
    ("filename", "content_type", "names"),
    [
        ("setup.exe", "application/octet-stream", ".pdf"),  # a type the relay refuses
        ("README", "text/plain", ".txt"),  # no extension
        ("scan.pdf", "image/png", "application/pdf"),  # the type does not match the extension
    ],
)
def test_a_file_type_the_relay_refuses_is_unsupported(
    filename: str, content_type: str, names: str
) -> None:
    request = ReplyRequest(text="x", attachments=[attachment(filename, content_type)])
    problem = refusal(request)
    assert isinstance(problem, UnsupportedAttachment)
    assert filename in str(problem) and names in str(problem)


@pytest.mark.parametrize("filename", ["../etc/passwd.txt", "a\\b.txt", "line\nbreak.txt", " "])
def test_a_filename_that_is_not_a_plain_file_name_is_refused(filename: str) -> None:
    problem = refusal(ReplyRequest(text="x", attachments=[attachment(filename, "text/plain")]))
    assert type(problem) is InvalidReply and "plain file name" in str(problem)


def test_content_that_is_not_base64_is_refused() -> None:
    bad = AttachmentIn(filename="a.pdf", content_type="application/pdf", content_base64="%%%")
    problem = refusal(ReplyRequest(text="x", attachments=[bad]))
    assert type(problem) is InvalidReply and "base64" in str(problem)


def test_the_sender_setting_is_one_plain_address_in_lower_case() -> None:
    assert check_sender_address("  Orders@Shop.Example ") == "orders@shop.example"


@pytest.mark.parametrize(
    "address",
    [
        "Shop <orders@shop.example>",
        "orders@localhost",
        "orders@shop.example\r\nBcc: all@example.com",
        "a@b.c, d@e.f",
        f"{'a' * 250}@shop.example",
    ],
)
def test_anything_but_one_plain_address_is_refused_as_the_sender(address: str) -> None:
    with pytest.raises(InvalidSettings):
        check_sender_address(address)


@pytest.mark.parametrize(
    "character",
    ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
    + ["\u200e", "\u200f", "\u0085", "\u2028", "\u2029", "\x00", "\x1b", "\x7f", "\x9b"],
)
def test_a_filename_with_a_bidirectional_or_line_separator_character_is_refused(
    character: str,
) -> None:
    # U+202E shows "evil\u202egpj.pdf" as "evilfdp.jpg": the buyer would open a PDF.
    named = attachment(f"evil{character}gpj.pdf")
    problem = refusal(ReplyRequest(text="x", attachments=[named]))
    assert type(problem) is InvalidReply
    assert f"U+{ord(character):04X}" in str(problem) and "plain file name" in str(problem)
    assert character not in str(problem)  # named, not written out to fool the reader


def test_ordinary_non_ascii_file_names_are_taken() -> None:
    names = ["facture-été.pdf", "Rechnung_Größe.pdf", "請求書.pdf"]
    reply = check_reply(ReplyRequest(text="x", attachments=[attachment(n) for n in names]))
    assert [a.filename for a in reply.attachments] == names


def test_more_attachments_than_the_cap_are_refused_while_decoding_the_request() -> None:
    one = {"filename": "a.txt", "contentType": "text/plain", "contentBase64": "YQ=="}
    taken = msgspec.json.decode(
        msgspec.json.encode({"text": "x", "attachments": [one] * MAX_ATTACHMENTS}),
        type=ReplyRequest,
    )
    assert len(check_reply(taken).attachments) == MAX_ATTACHMENTS
    body = msgspec.json.encode({"text": "x", "attachments": [one] * (MAX_ATTACHMENTS + 1)})
    with pytest.raises(msgspec.ValidationError, match=rf"length <= {MAX_ATTACHMENTS}"):
        msgspec.json.decode(body, type=ReplyRequest)
