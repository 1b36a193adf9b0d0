"""Bounces that authenticate themselves (pure): a signed envelope sender per reply, as BATV.

Otherwise anyone who can mail an inbound address could mark a reply ``BOUNCED`` with a
hand-made report naming its Message-ID. Each reply leaves from the tenant's inbound
address tagged with the reply and an HMAC-SHA256 of both (``BOUNCE_SIGNING_SECRET``, the
previous secret accepted during a rotation)::

    <relay label>.<tenantId>.<country>.<token>+b-<reply id, 32 hex>-<signature, 16 base32>@<domain>

A bounce counts only when it came from the null sender (``Return-Path: <>``), to a tagged
address with a valid signature (``X-KeyBuzz-Inbound-Address``), about the very reply the
tag names. Anything else is kept as an unlinked mail with the reason (``bounces.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Sequence

import msgspec

from keybuzz_poller.inbound.addresses import (
    INBOUND_HEADER,
    BounceTag,
    normalise,
    split_bounce_tag,
    with_bounce_tag,
)

SIGNATURE_BYTES = 10  # 80 bits: each guess costs the attacker a mail
_HEADER_END = re.compile(rb"\r?\n\r?\n")


class NamedReply(msgspec.Struct, frozen=True, kw_only=True):
    """One of the tenant's replies a bounce names."""

    ticket_message_id: str
    envelope_sender: str


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """What our own servers wrote of a mail's envelope into it."""

    recipient: str | None  # the topmost X-KeyBuzz-Inbound-Address (the MX's)
    sender: str | None  # Dovecot's Return-Path above it, without <>; None: none there


def reply_id(ticket_message_id: str) -> str:
    return uuid.UUID(ticket_message_id).hex


def signature(key: bytes, address: str, reply: str) -> str:
    digest = hmac.new(key, f"{address}\n{reply}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:SIGNATURE_BYTES]).decode().lower()


def bounce_address(inbound_address: str, ticket_message_id: str, key: bytes) -> str:
    """The reply's envelope sender: its bounce comes back to it, and only there."""
    plain = split_bounce_tag(inbound_address)[0]
    reply = reply_id(ticket_message_id)
    return with_bounce_tag(plain, reply, signature(key, plain, reply))


def is_signed(tag: BounceTag, keys: Sequence[bytes]) -> bool:
    return any(
        hmac.compare_digest(signature(key, tag.address, tag.reply_id), tag.signature)
        for key in keys
    )


def envelope_of(raw: bytes) -> Envelope:
    """The MX's recipient stamp and, above it, Dovecot's Return-Path (from MAIL FROM).

    A Return-Path or stamp the sender wrote into the mail is below ours: never read.
    """
    found = _HEADER_END.search(raw)
    block = raw[: found.start() if found else len(raw)].decode("latin-1")
    recipient: str | None = None
    sender: str | None = None
    for name, value in _headers(block):
        if name == "return-path" and sender is None:
            sender = normalise(value)
        elif name == INBOUND_HEADER.lower():
            recipient = normalise(value)
            break
    return Envelope(recipient=recipient, sender=sender)


def _headers(block: str) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) of each header, in order."""
    fields: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip().lower(), value.strip()))
    return fields


def authenticate(
    envelope: Envelope, named: Sequence[NamedReply], keys: Sequence[bytes]
) -> tuple[NamedReply | None, str | None]:
    """The named reply this bounce may mark, or None and why not."""
    if envelope.sender is None:
        return None, "bounce not authenticated: no envelope sender recorded by our mail server"
    if envelope.sender != "":
        return None, "bounce not authenticated: its envelope sender is not null (MAIL FROM:<>)"
    tag = split_bounce_tag(envelope.recipient or "")[1]
    if tag is None:
        return None, "bounce not authenticated: not sent to a reply's bounce address"
    if not is_signed(tag, keys):
        return None, "bounce not authenticated: the signature of its bounce address is not valid"
    for reply in named:
        if reply_id(reply.ticket_message_id) == tag.reply_id:
            if normalise(reply.envelope_sender) == envelope.recipient:
                return reply, None
    return None, "bounce not authenticated: sent to the bounce address of another reply"
