"""Pure: a reply's signed bounce address, what our servers wrote of a bounce's envelope, and
the check of one against the other (replies/bounce_auth.py)."""

from __future__ import annotations

import uuid

from keybuzz_poller.inbound.addresses import parse_address, split_bounce_tag
from keybuzz_poller.replies.bounce_auth import (
    Envelope,
    NamedReply,
    authenticate,
    bounce_address,
    envelope_of,
)

OLD, NEW = b"o" * 32, b"n" * 32
PLAIN = "amazon.t1.fr.abcdefgh23456789@inbound.keybuzz.test"


def reply(key: bytes = NEW) -> NamedReply:
    ticket_message_id = str(uuid.uuid4())
    return NamedReply(
        ticket_message_id=ticket_message_id,
        envelope_sender=bounce_address(PLAIN, ticket_message_id, key),
    )


def test_the_bounce_address_is_the_inbound_address_tagged_and_still_parses_as_it() -> None:
    named = reply()
    plain, tag = split_bounce_tag(named.envelope_sender.upper())  # case is not kept by MTAs
    assert plain == PLAIN and tag is not None
    assert tag.reply_id == uuid.UUID(named.ticket_message_id).hex
    assert named.envelope_sender.startswith(PLAIN.split("@")[0] + "+b-")
    assert parse_address(named.envelope_sender) == parse_address(PLAIN)
    assert split_bounce_tag(PLAIN) == (PLAIN, None)
    assert bounce_address(named.envelope_sender, named.ticket_message_id, NEW) == (
        named.envelope_sender
    )  # made from the plain address even when given a tagged one


def test_a_rotated_secret_is_accepted_only_while_it_is_the_previous_one() -> None:
    named = reply(OLD)
    envelope = Envelope(recipient=named.envelope_sender, sender="")
    assert authenticate(envelope, [named], [NEW, OLD]) == (named, None)
    refused, reason = authenticate(envelope, [named], [NEW])
    assert refused is None and reason is not None and "signature" in reason


def test_the_envelope_is_what_dovecot_and_the_mx_stamped_on_top() -> None:
    stamped = (
        b"Return-Path: <>\r\nDelivered-To: keybuzz+tenant-t1@localhost\r\n"
        b"Received: from x\r\n\tby vm with LMTP\r\n"
        b"X-KeyBuzz-Inbound-Address: " + PLAIN.upper().encode() + b"\r\n"
        b"Return-Path: <someone@else.example>\r\n"
        b"X-KeyBuzz-Inbound-Address: other@inbound.keybuzz.test\r\nSubject: x\r\n\r\n"
        b"Return-Path: <>\r\n"
    )
    assert envelope_of(stamped) == Envelope(recipient=PLAIN, sender="")
    relayed = b"Return-Path: <mailer-daemon@amazon.fr>\r\nX-KeyBuzz-Inbound-Address: a@b\r\n\r\n"
    assert envelope_of(relayed) == Envelope(recipient="a@b", sender="mailer-daemon@amazon.fr")
    # A Return-Path only under our stamp is the sender's own writing: no envelope sender.
    forged = b"X-KeyBuzz-Inbound-Address: a@b\r\nReturn-Path: <>\r\n\r\n"
    assert envelope_of(forged) == Envelope(recipient="a@b", sender=None)
    refused, reason = authenticate(envelope_of(forged), [reply()], [NEW])
    assert refused is None and reason is not None and "no envelope sender" in reason
