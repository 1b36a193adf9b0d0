"""What a message becomes when stored, alike for a relayed mail and a shop's message:
the seam's ``InboxMessage`` as its stored row (``external_row``), its ticket message, and
the ``message.received`` the product app is told of.

A relayed mail comes as the ``InboxMessage`` its relay made of it (``MailRelay.message``)
with its ``MailEnvelope`` beside it: how it was delivered (the raw mail, the inbound
address, the MX's stamps, the buyer's alias replies go to), which no marketplace's API
message has.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import msgspec
from keybuzz_shared.connectors.seam import InboxMessage
from keybuzz_shared.events import MessageReceived, new_event_id
from keybuzz_shared.ids import uuid7_string
from keybuzz_shared.mended import REPLACED
from keybuzz_shared.text import display_name, storable, storable_json
from keybuzz_shared.ticket_topics import Topics

from keybuzz_poller.tickets.ports import (
    BUYER,
    MARKETPLACE_SUPPORT,
    Attachment,
    ExternalMessageRow,
    TicketMessageRow,
)

PREVIEW_CHARS = 200
_PREVIEW_READ = 4 * PREVIEW_CHARS


class MailFile(Protocol):
    """A file of a relayed mail as the parser read it (its content stays in the mail)."""

    @property
    def filename(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    @property
    def size(self) -> int: ...


class MailEnvelope(Protocol):
    """What a relayed mail's row keeps beyond its ``InboxMessage``: the mail's delivery
    (the parser's ``RelayMail`` is one)."""

    @property
    def raw(self) -> bytes: ...

    @property
    def quoted(self) -> str:
        """Earlier messages quoted below the buyer's words."""
        ...

    @property
    def buyer_email(self) -> str | None:
        """The buyer's alias at the relay: where a reply by mail goes, and the thread's."""
        ...

    @property
    def inbound_address(self) -> str | None: ...

    @property
    def country(self) -> str | None: ...

    @property
    def sent_at(self) -> datetime | None:
        """Its Date header, kept as written (None when it has none)."""
        ...

    @property
    def accepted_at(self) -> datetime | None: ...

    @property
    def parse_error(self) -> str | None: ...

    @property
    def attachments(self) -> Sequence[MailFile]: ...


# The listing of a message with no file, the most common, encoded once.
_NO_FILES = "[]"


def external_row(
    message: InboxMessage,
    *,
    tenant_id: str,
    marketplace: str,
    received_at: datetime,
    row_id: str | None = None,
    mail: MailEnvelope | None = None,
    attachments: Sequence[Attachment] = (),
    mark_read: bool = False,
) -> ExternalMessageRow:
    """The message as its ticket stores it, a relayed mail (``mail``, its envelope) or a
    shop's message alike: stored once per (tenant, marketplace, ``message_id``).

    A shop's message lists the files it carries as downloaded (``attachments``: their
    contents are stored beside it) and keeps itself, without its files' URLs (they may
    carry access tokens), as received; ``mark_read``: pending until marked read at the
    marketplace. A mail keeps its raw bytes and its Date as written, and no sender type:
    the marketplace's clock is not its sender's word (``responses.message_facts``)."""
    buyer_name = message.sender_name if message.sender_type == BUYER else None
    staff_name = message.sender_name if message.sender_type == MARKETPLACE_SUPPORT else None
    if mail is None:
        raw = msgspec.json.encode(msgspec.structs.replace(message, files=()))
        listed: list[dict[str, object]] = [
            {
                "filename": a.filename,
                "contentType": a.content_type,
                "size": a.size or 0,
                "skipped": a.skipped,
            }
            for a in attachments
        ]
    else:
        raw = mail.raw
        listed = [
            {"filename": a.filename, "contentType": a.content_type, "size": a.size}
            for a in mail.attachments
        ]
    order_id = message.thread.order
    subject, body = storable(message.subject), storable(message.body)
    return ExternalMessageRow(
        id=row_id or uuid7_string(),
        tenant_id=tenant_id,
        marketplace=marketplace,
        external_id=storable(message.message_id),
        order_id=storable(order_id) if order_id else None,
        buyer_email=_optional(mail.buyer_email.lower() if mail and mail.buyer_email else None),
        buyer_name=_optional(buyer_name),
        subject=subject,
        body=body,
        quoted=storable(mail.quoted) if mail else "",
        attachments=msgspec.json.encode(storable_json(listed)).decode() if listed else _NO_FILES,
        inbound_address=_optional(mail.inbound_address) if mail else None,
        country=mail.country if mail else None,
        sent_at=mail.sent_at if mail else message.created_at,
        received_at=received_at,
        raw=raw,
        parse_error=_optional(mail.parse_error) if mail else _unreadable(subject, body),
        accepted_at=mail.accepted_at if mail else None,
        # A mail's sender type is kept where its relay tells it from the buyer's (NULL
        # reads as the buyer's): its support, its notices.
        sender_type=message.sender_type if mail is None or message.sender_type != BUYER else None,
        sender_name=display_name(staff_name),
        mark_read_pending=mark_read,
    )


# A shop's message whose text held characters that could not be read: bytes not UTF-8 or
# characters XML forbids (the kit's ``mended``) or a NUL (``storable``), each replaced.
UNREADABLE_TEXT = "its text held characters that could not be read, each shown as U+FFFD"


def _unreadable(*texts: str) -> str | None:
    """The flag of a shop's message holding a replaced character (``parseError`` shown)."""
    return UNREADABLE_TEXT if any(REPLACED in text for text in texts) else None


def _optional(text: str | None) -> str | None:
    return storable(text) if text else None


def preview(text: str) -> str:
    """At most PREVIEW_CHARS characters of the buyer's words, on one line: each run of
    blanks one space (``str.split`` splits on the characters a regex's ``\\s`` matches, in
    C: ~0.4 µs on a short message, a regex's substitution ~2.5). Read from a head of
    the text when that head gives PREVIEW_CHARS already: what follows cannot change them."""
    head = " ".join(text[:_PREVIEW_READ].split())
    if len(head) >= PREVIEW_CHARS or len(text) <= _PREVIEW_READ:
        return head[:PREVIEW_CHARS]
    return " ".join(text.split())[:PREVIEW_CHARS]


def ticket_message(
    external: ExternalMessageRow,
    ticket_id: str,
    *,
    message_id: str | None = None,
    direction: str = "INBOUND",
    awaits_reply: bool = True,
) -> TicketMessageRow:
    """The stored message's place on its ticket (its words and time stay the external
    message's)."""
    return TicketMessageRow(
        id=message_id or uuid7_string(),
        ticket_id=ticket_id,
        tenant_id=external.tenant_id,
        external_message_id=external.id,
        awaits_reply=awaits_reply,
        direction=direction,
    )


def message_received(
    external: ExternalMessageRow,
    message: TicketMessageRow,
    event_id: str | None = None,
    topics: Topics | None = None,
) -> MessageReceived:
    """``topics``: the buyer's message's language and topic, as read when it was stored."""
    return MessageReceived(
        event_id=event_id or new_event_id(),
        tenant_id=external.tenant_id,
        marketplace=external.marketplace,
        external_message_id=external.id,
        ticket_id=message.ticket_id,
        ticket_message_id=message.id,
        inbound_address=external.inbound_address,
        order_id=external.order_id,
        received_at=external.received_at,
        preview=preview(external.body),
        language=topics.language if topics else None,
        language_source=topics.language_source if topics else None,
        topic=topics.subject if topics else None,
        topic_source=topics.subject_source if topics else None,
    )
