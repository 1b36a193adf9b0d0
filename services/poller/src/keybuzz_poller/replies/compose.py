"""A reply's mail (pure): built once, as the marketplace's relay accepts it, from a checked reply.

The mail is stored when the reply is queued (``raw`` of its external message): every
attempt sends the same bytes with the same deterministic Message-ID
``<reply-<ticketMessageId>@<INBOUND_DOMAIN>>`` (docs/POLLER.md, "Replies").
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

import msgspec

from keybuzz_poller.inbound.relays import relay_for
from keybuzz_poller.replies.checks import Reply


class ReplyMail(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the mail is made of, so the same inputs make the same bytes."""

    message_id: str
    sender: str  # header From: the tenant's approved sender
    recipient: str  # the buyer's alias
    subject: str
    in_reply_to: str | None
    date: datetime
    reply: Reply


def reply_message_id(ticket_message_id: str, inbound_domain: str) -> str:
    return f"<reply-{ticket_message_id}@{inbound_domain}>"


def reply_subject(buyer_subject: str, order_id: str | None, marketplace: str | None = None) -> str:
    """The reply's subject as ``marketplace``'s relay (None: the first relay) files it."""
    return relay_for(marketplace).reply_subject(buyer_subject, order_id)


def build_mail(mail: ReplyMail) -> bytes:
    """The reply as sent: CRLF line ends, 7-bit safe (quoted-printable/base64 bodies)."""
    message = EmailMessage(policy=SMTP)
    message["From"] = mail.sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
        message["References"] = mail.in_reply_to
    message.set_content(mail.reply.text, cte="quoted-printable")
    for attachment in mail.reply.attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message.as_bytes()
