"""The marketplace's buyer-seller e-mail relay (used by poller)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol

import msgspec

from keybuzz_shared.connectors.seam.limits import Limits
from keybuzz_shared.connectors.seam.messages import (
    InboxFile,
    InboxMessage,
    SenderType,
    ThreadKey,
)

# A file name extension (lower case, with its dot) -> the content types a file of it may
# carry in a reply mail.
CONTENT_TYPES: Mapping[str, frozenset[str]] = {
    ".pdf": frozenset({"application/pdf"}),
    ".jpg": frozenset({"image/jpeg"}),
    ".jpeg": frozenset({"image/jpeg"}),
    ".png": frozenset({"image/png"}),
    ".gif": frozenset({"image/gif"}),
    ".txt": frozenset({"text/plain"}),
    ".doc": frozenset({"application/msword"}),
    ".docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
}


def attachment_types(*extensions: str) -> dict[str, frozenset[str]]:
    """A relay's ``RelayReplyRules.attachment_types``: each of ``extensions`` (keys of
    ``CONTENT_TYPES``) with its content types."""
    return {e: CONTENT_TYPES[e] for e in extensions}


class RelayReplyRules(msgspec.Struct, frozen=True, kw_only=True):
    """What the relay takes in a seller's reply mail."""

    max_text_chars: int
    max_attachments: int
    max_attachment_bytes: int  # all attachments of a message together
    # File name extension (lower case, with its dot) -> the content types it may carry.
    attachment_types: Mapping[str, frozenset[str]]

    @classmethod
    def within(
        cls, limits: Limits, attachment_types: Mapping[str, frozenset[str]]
    ) -> RelayReplyRules:
        """The rules of a connector whose reply ``limits`` hold by mail too."""
        return cls(
            max_text_chars=limits.max_text_length,
            max_attachments=limits.max_attachments,
            max_attachment_bytes=limits.max_attachment_bytes,
            attachment_types=attachment_types,
        )


class MailPart(Protocol):
    """A file a relay mail carries, as the poller's parser read it."""

    @property
    def filename(self) -> str: ...

    @property
    def content_type(self) -> str: ...


class ParsedMail(Protocol):
    """A relay mail as the poller's parser read it (its MIME, headers and the buyer's words
    between the relay's marker lines), for its relay to map (``MailRelay.message``)."""

    @property
    def external_id(self) -> str:
        """Its Message-ID, else a digest of the mail: the same mail, the same id."""
        ...

    @property
    def subject(self) -> str: ...

    @property
    def order_id(self) -> str | None:
        """The first order id the relay's ``order_ids_in`` found (subject, else body)."""
        ...

    @property
    def buyer_email(self) -> str | None:
        """The sender (From, else Reply-To) when it is one of the relay's buyer aliases."""
        ...

    @property
    def buyer_name(self) -> str | None: ...

    @property
    def text(self) -> str:
        """The buyer's own words."""
        ...

    @property
    def raw(self) -> bytes:
        """The mail as delivered: what a relay verifies a signature of (DKIM)."""
        ...

    @property
    def raw_text(self) -> str:
        """The whole mail as text: what an agent reads of a mail the parser could not."""
        ...

    @property
    def parse_error(self) -> str | None: ...

    @property
    def sent_at(self) -> datetime | None:
        """Its Date header: only its sender's word."""
        ...

    @property
    def automatic(self) -> bool:
        """An auto-reply, a report or a notification from an address nobody answers, as
        its headers claim (what counts of it is what its marketplace signed:
        ``kit.signed_mail``); never for a mail with a field allowed once doubled."""
        ...

    @property
    def from_address(self) -> str | None:
        """The From address (lower case), as written."""
        ...

    @property
    def field_counts(self) -> Mapping[str, int]:
        """Each header field name (lower case) -> how many times the mail carries it."""
        ...

    @property
    def attachments(self) -> Sequence[MailPart]: ...


def demo_relay_mail(
    label: str,
    tenant_id: str,
    inbound_domain: str,
    stamp: str,
    *,
    order_id: str,
    sender: tuple[str, str],
    subject: str,
    sent: datetime,
    body: str,
) -> bytes:
    """A relay's demo mail (``MailRelay.demo_mail``) from ``sender`` (name, address) about
    ``order_id``: stamped with an address that tells the parser only the relay and the
    country (no real token), its Message-ID per tenant (the same order in two demo tenants
    is two messages)."""
    msg = EmailMessage()
    msg[stamp] = f"{label}.{tenant_id}.fr.mock@{inbound_domain}"
    msg["From"] = formataddr(sender)
    msg["To"] = f"mock-seller@{inbound_domain}"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = f"<mock-{order_id}.{tenant_id}@keybuzz.mock>"
    msg.set_content(body)
    return msg.as_bytes()


_REPLY_PREFIX = re.compile(r"(?i)re\s*:")


def relay_reply_subject(
    buyer_subject: str,
    order_id: str | None,
    *,
    order_ids_in: Callable[[str], Sequence[str]],
    order_note: str = "({})",
    already_a_reply: re.Pattern[str] | None = None,
) -> str:
    """A reply's subject as a relay files it: the buyer's on one line, ``Re:`` before it
    unless it is ``already_a_reply`` (None: a ``Re:``), and the order id (``order_note``)
    after it when the subject does not name it, since the relay files the reply by it."""
    subject = " ".join(buyer_subject.split())
    if not (already_a_reply or _REPLY_PREFIX).match(subject):
        subject = f"Re: {subject}" if subject else "Re:"
    if order_id and not order_ids_in(subject):
        subject = f"{subject} {order_note.format(order_id)}"
    return subject


def relayed_message(
    mail: ParsedMail,
    received_at: datetime,
    *,
    sender_type: SenderType,
    thread: ThreadKey | None = None,
) -> InboxMessage:
    """What every relay's ``message`` makes alike of a parsed mail, given the sender type
    it decided: the thread of the order the mail names unless ``thread`` is given, its
    sender named as the parser read the buyer's name, the buyer's words (the whole mail
    when the parser could not read it: nothing is dropped), its files (no link: their
    content is in the mail), written when its Date says, else when it was received."""
    return InboxMessage(
        message_id=mail.external_id,
        thread=thread or ThreadKey("ORDER", mail.order_id or ""),
        sender_type=sender_type,
        sender_name=mail.buyer_name,
        subject=mail.subject,
        body=mail.text if mail.parse_error is None else mail.raw_text,
        created_at=mail.sent_at or received_at,
        unread=True,
        files=tuple(
            InboxFile(name=part.filename, url="", content_type=part.content_type)
            for part in mail.attachments
        )
        if mail.attachments
        else (),
    )


class MailRelay(Protocol):
    """The marketplace's buyer-seller e-mail relay: a buyer's mail reaches the tenant's
    inbound address from an anonymised alias, and a reply to the alias reaches the buyer.
    The mail itself (MIME, bounces, the MX) is the poller's; what is the relay's is here."""

    @property
    def address_label(self) -> str:
        """The first label of the local part of the tenant's inbound addresses for it."""
        ...

    @property
    def buyer_address_form(self) -> str:
        """A buyer alias as people read it (``…@relay.example.<tld>``), for messages."""
        ...

    @property
    def reply_rules(self) -> RelayReplyRules: ...

    def is_buyer_address(self, address: str) -> bool:
        """An anonymised buyer alias of the relay."""
        ...

    def buyer_name(self, display_name: str) -> str | None:
        """The buyer's name from the display name of their alias (the relay's suffix off)."""
        ...

    def order_ids_in(self, text: str) -> list[str]:
        """The marketplace's order ids written in a mail's text, in order of appearance."""
        ...

    def message(self, mail: ParsedMail, received_at: datetime) -> InboxMessage:
        """The mail as the seam's message: its thread (its order's, from the order id the
        relay found; an empty id when it names none) and who wrote it (BUYER,
        MARKETPLACE_SUPPORT or SYSTEM, as the relay tells them apart), through
        :func:`relayed_message`."""
        ...

    def reply_subject(self, buyer_subject: str, order_id: str | None) -> str:
        """The subject of a reply to a mail with ``buyer_subject``, as the relay files it."""
        ...

    @property
    def demo_mail_count(self) -> int:
        """How many demo mails a tenant's demo mailbox holds (the relay's mock mode)."""
        ...

    def demo_mail(self, tenant_id: str, index: int, inbound_domain: str, stamp: str) -> bytes:
        """The ``index``-th demo mail of a tenant, the same bytes every time; ``stamp`` is
        the header the MX puts the inbound address in."""
        ...
