"""An agent's reply from a ticket: checked, built as the mail Amazon's relay accepts, queued.

Amazon forwards a seller's mail to a buyer's alias (``…@marketplace.amazon.<tld>``)
only from the seller account's registered address or an approved sender, with
attachments of supported types up to 10 MB in all (DESIGN.md §2). Everything that
can be checked here is checked before anything is stored; what only Amazon knows
(is the sender approved? did the buyer opt out?) comes back as a bounce (bounces.py).

The mail is built once, when the reply is queued, and stored (``raw`` of its external
message): every attempt sends the same bytes with the same deterministic Message-ID
``<reply-<ticketMessageId>@<INBOUND_DOMAIN>>`` (docs/POLLER.md, "Replies").
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Annotated, TypeVar

import msgspec
from keybuzz_shared.service import Runtime

from keybuzz_poller import reply_store
from keybuzz_poller.relay_mail import ORDER_ID
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.tickets import storable, storable_json

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # Amazon's limit, all attachments of a message together
# What Amazon's relay takes (docs/SANDBOX.md, "Reply relay"): extension → content types.
ATTACHMENT_TYPES: dict[str, frozenset[str]] = {
    ".pdf": frozenset({"application/pdf"}),
    ".jpg": frozenset({"image/jpeg"}),
    ".jpeg": frozenset({"image/jpeg"}),
    ".png": frozenset({"image/png"}),
    ".gif": frozenset({"image/gif"}),
    ".txt": frozenset({"text/plain"}),
    ".doc": frozenset({"application/msword"}),
    ".docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
}
MAX_TEXT_CHARS = 100_000
# One address, no display name, no header injection: what a Seller Central sender looks like.
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]")
In = TypeVar("In")
Out = TypeVar("Out")


class InvalidReply(Exception):
    """Text or an attachment the relay would not take, or that cannot be read."""


class AttachmentsTooLarge(InvalidReply):
    """Over Amazon's 10 MB for all attachments of a message."""


class UnsupportedAttachment(InvalidReply):
    """A file type Amazon's relay refuses."""


class ReplyTicketNotFound(Exception):
    """No such ticket for this tenant."""


class CannotReply(Exception):
    """The reply cannot be sent as things stand (no approved sender, no buyer address …)."""


class InvalidSettings(Exception):
    """A poller setting the tenant got wrong."""


class AttachmentIn(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content_type: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content_base64: str


class ReplyRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    text: str
    attachments: list[AttachmentIn] = []


class ReplyQueued(msgspec.Struct, kw_only=True, rename="camel"):
    ticket_message_id: str
    ticket_id: str
    message_id: str  # the mail's RFC 5322 Message-ID
    status: str = "QUEUED"


class ReplySettings(msgspec.Struct, kw_only=True, rename="camel"):
    reply_from_address: str | None = None


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    content: bytes


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """A checked reply: what the agent wrote and attached."""

    text: str
    attachments: list[Attachment]


class ReplyMail(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the mail is made of, so the same inputs make the same bytes."""

    message_id: str
    sender: str  # header From: the tenant's approved sender
    recipient: str  # the buyer's alias
    subject: str
    in_reply_to: str | None
    date: datetime
    reply: Reply


# --- checks (pure) -------------------------------------------------------------------


def check_reply(request: ReplyRequest) -> Reply:
    """The reply as the relay will take it, or the first problem, named."""
    text = request.text.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidReply("text must not be empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidReply(f"text is longer than {MAX_TEXT_CHARS} characters")
    if storable(text) != text:
        raise InvalidReply("text holds characters a mail cannot carry (NUL)")
    attachments = [_attachment(a) for a in request.attachments]
    total = sum(len(a.content) for a in attachments)
    if total > MAX_ATTACHMENT_BYTES:
        raise AttachmentsTooLarge(
            f"attachments total {total} bytes, over Amazon's limit of {MAX_ATTACHMENT_BYTES} "
            "bytes (10 MB) per message"
        )
    return Reply(text=text, attachments=attachments)


def _attachment(given: AttachmentIn) -> Attachment:
    name = given.filename.strip()
    if _UNSAFE_FILENAME.search(name) or not name:
        raise InvalidReply(f"attachment filename {given.filename!r} is not a plain file name")
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = given.content_type.strip().lower()
    if extension not in ATTACHMENT_TYPES:
        allowed = " ".join(sorted(ATTACHMENT_TYPES))
        raise UnsupportedAttachment(
            f"attachment {name!r}: Amazon accepts only these file types: {allowed}"
        )
    if kind not in ATTACHMENT_TYPES[extension]:
        expected = ", ".join(sorted(ATTACHMENT_TYPES[extension]))
        raise UnsupportedAttachment(
            f"attachment {name!r}: content type {given.content_type!r} does not match "
            f"{extension} (expected {expected})"
        )
    try:
        content = base64.b64decode(given.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidReply(f"attachment {name!r}: contentBase64 is not valid base64") from None
    return Attachment(filename=name, content_type=kind, content=content)


def check_sender_address(address: str) -> str:
    value = address.strip()
    if len(value) > 254 or not EMAIL_ADDRESS.fullmatch(value):
        raise InvalidSettings("replyFromAddress must be one e-mail address (name@domain)")
    return value.lower()


# --- the mail (pure) -----------------------------------------------------------------


def reply_message_id(ticket_message_id: str, inbound_domain: str) -> str:
    return f"<reply-{ticket_message_id}@{inbound_domain}>"


def reply_subject(buyer_subject: str, order_id: str | None) -> str:
    """``Re: <buyer subject>``; the order id stays in it (Amazon files the reply by it)."""
    subject = " ".join(buyer_subject.split())
    if not re.match(r"(?i)re\s*:", subject):
        subject = f"Re: {subject}" if subject else "Re:"
    if order_id and not ORDER_ID.search(subject):
        subject = f"{subject} (Order: {order_id})"
    return subject


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


# --- use cases -----------------------------------------------------------------------


async def queue_reply(
    runtime: Runtime[PollerSettings], tenant_id: str, ticket_id: str, request: ReplyRequest
) -> ReplyQueued:
    """Check the reply, then store its mail, ticket message and sending work in one transaction."""
    # Before anything is read or stored. Decoding (and below, encoding) up to 10 MB of
    # attachments takes a while: off the event loop.
    reply = await _off_loop(request.attachments, check_reply, request)
    ticket_message_id = str(uuid.uuid4())
    message_id = reply_message_id(ticket_message_id, runtime.settings.inbound_domain)
    async with runtime.unit_of_work() as uow:
        sender = await reply_store.reply_from_address(uow.conn, tenant_id)
        context = await reply_store.reply_context(uow.conn, tenant_id, ticket_id)
        if context is None:
            raise ReplyTicketNotFound(f"no ticket {ticket_id}")
        recipient, envelope_sender = _addresses(sender, context)
        created_at = datetime.now(UTC)
        mail = ReplyMail(
            message_id=message_id,
            sender=recipient[0],
            recipient=recipient[1],
            subject=reply_subject(context.subject, context.order_id),
            in_reply_to=context.buyer_message_id,
            date=created_at,
            reply=reply,
        )
        raw = await _off_loop(reply.attachments, build_mail, mail)
        await reply_store.insert_reply(
            uow.conn, _new_reply(tenant_id, ticket_message_id, context, mail, envelope_sender, raw)
        )
    return ReplyQueued(
        ticket_message_id=ticket_message_id, ticket_id=ticket_id, message_id=message_id
    )


async def _off_loop(attachments: Sequence[object], work: Callable[[In], Out], given: In) -> Out:
    """``work(given)`` in a worker thread when there are attachments, else right here."""
    if attachments:
        return await asyncio.to_thread(work, given)
    return work(given)


def _addresses(
    sender: str | None, context: reply_store.ReplyContext
) -> tuple[tuple[str, str], str]:
    """((header From, buyer alias), envelope sender), or why the reply cannot go."""
    if sender is None:
        raise CannotReply(
            "no approved sender address for replies: set replyFromAddress with "
            "PUT /api/v1/poller/settings (Seller Central's registered address or an approved sender)"
        )
    if not context.buyer_email:
        raise CannotReply(
            "this ticket has no buyer address (…@marketplace.amazon.<tld>) to reply to"
        )
    if not context.inbound_address:
        raise CannotReply("the tenant has no inbound address for Amazon's bounces to come back to")
    return (sender, context.buyer_email), context.inbound_address


def _new_reply(
    tenant_id: str,
    ticket_message_id: str,
    context: reply_store.ReplyContext,
    mail: ReplyMail,
    envelope_sender: str,
    raw: bytes,
) -> reply_store.NewReply:
    attachments = [
        {"filename": a.filename, "contentType": a.content_type, "size": len(a.content)}
        for a in mail.reply.attachments
    ]
    return reply_store.NewReply(
        ticket_message_id=ticket_message_id,
        external_message_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        ticket_id=context.ticket_id,
        marketplace=context.marketplace,
        message_id=mail.message_id,
        order_id=context.order_id,
        envelope_sender=envelope_sender,
        recipient=mail.recipient,
        subject=storable(mail.subject),
        text=mail.reply.text,
        attachments=msgspec.json.encode(storable_json(attachments)).decode(),
        country=context.country,
        created_at=mail.date,
        mail=raw,
    )


async def reply_settings(runtime: Runtime[PollerSettings], tenant_id: str) -> ReplySettings:
    address = await reply_store.reply_from_address(runtime.pool, tenant_id)
    return ReplySettings(reply_from_address=address)


async def save_reply_settings(
    runtime: Runtime[PollerSettings], tenant_id: str, settings: ReplySettings
) -> ReplySettings:
    if settings.reply_from_address is None:
        raise InvalidSettings("replyFromAddress is required")
    address = check_sender_address(settings.reply_from_address)
    await reply_store.save_reply_from_address(runtime.pool, tenant_id, address)
    return ReplySettings(reply_from_address=address)
