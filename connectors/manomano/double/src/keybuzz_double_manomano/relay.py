"""ManoMano's relay in the double (docs/MANOMANO.md, "The double"): it sends the sellers'
inbound addresses their mails (through the MX a request names) and takes the sellers'
replies over SMTP, read as every relay double reads them (one that cannot be: ``554`` at
DATA), checked against ManoMano's limits [assumed] after the ``250`` and bounced (RFC 3464,
null sender) when they break them or their alias was made unreachable."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from email.mime.multipart import MIMEMultipart
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from keybuzz_sandbox.double_kit.bounces import Bounces, Refused, bounce_report, send_bounce
from keybuzz_sandbox.double_kit.replies import MalformedMail, ReplyMail, now_iso, parse_reply
from keybuzz_sandbox.smtp_servers import relay_listening, serving_relay

from .env import BUYER_DOMAIN, SUPPORT_ADDRESS, ManoManoDoubleSettings

TYPES = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024  # all files of a reply together
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


@dataclass
class Relay:
    """The relay's state: replies by alias, refusals, unreachable aliases, the MX."""

    settings: ManoManoDoubleSettings
    threads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refused: list[dict[str, Any]] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    reply_smtp_port: int | None = None  # bound, once it serves
    mx: tuple[str, int] | None = None  # where bounces go; None: the settings' MX
    bounces: Bounces = field(default_factory=Bounces)

    def target(self) -> tuple[str, int]:
        return self.mx or (self.settings.mx_host, self.settings.mx_port)


def takes(address: str) -> bool:
    address = address.lower()
    return address.endswith("@" + BUYER_DOMAIN) or address == SUPPORT_ADDRESS


def refusal_of(reply: ReplyMail, alias: str, relay: Relay) -> tuple[str, str] | None:
    """(status, why) when the relay refuses the reply, else None."""
    if alias in relay.unreachable:
        return "5.1.1", "Le destinataire ne peut plus être joint par la messagerie ManoMano."
    if len(reply.attachments) > MAX_FILES:
        return "5.3.4", f"Un message ne peut pas porter plus de {MAX_FILES} pièces jointes."
    for file in reply.attachments:
        name = file.filename.lower()
        extension = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if extension not in TYPES:
            return "5.6.1", f"Type de pièce jointe refusé : {name}."
    if sum(file.size for file in reply.attachments) > MAX_FILE_BYTES:
        return "5.3.4", "Les pièces jointes dépassent 10 Mo au total."
    return None


def bounce(reply: ReplyMail, alias: str, status: str, why: str, to: str) -> MIMEMultipart:
    refused = Refused(
        recipient=alias,
        message_id=reply.message_id,
        headers=reply.header_block,
        text=f"{why}\n\nDestinataire : {alias}\n",
        status=status,
        diagnostic=f"550 {status} {why}",
    )
    sender = "Mail Delivery System <mailer-daemon@relay.manomano.com>"
    subject = "Undelivered Mail Returned to Sender"
    return bounce_report(refused, sender=sender, to=to, subject=subject, mta="relay.manomano.com")


class Handler:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not takes(address):
            return "550 5.1.1 Recipient address rejected: unknown ManoMano address"
        envelope.rcpt_tos.append(address.lower())
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        try:
            reply = await asyncio.to_thread(parse_reply, envelope.original_content or b"")
        except MalformedMail as exc:
            return f"554 5.6.0 Message refused: {exc}"
        sender = "" if envelope.mail_from in (None, "", "<>") else str(envelope.mail_from)
        for alias in envelope.rcpt_tos:
            refused = refusal_of(reply, alias, self.relay)
            if refused is None:
                self.relay.threads.setdefault(alias, []).append(_entry(reply, alias))
                continue
            status, why = refused
            self.relay.refused.append(
                {
                    "messageId": reply.message_id,
                    "alias": alias,
                    "status": status,
                    "reason": why,
                    "bouncedTo": sender or None,
                }
            )
            if sender:
                report = bounce(reply, alias, status, why, sender)
                self.relay.bounces.start(send_bounce(report, sender, self.relay.target))
        return "250 2.0.0 OK: queued"


def _entry(reply: ReplyMail, alias: str) -> dict[str, Any]:
    return {
        "messageId": reply.message_id,
        "inReplyTo": reply.in_reply_to,
        "from": reply.sender,
        "to": alias,
        "subject": reply.subject,
        "text": reply.text,
        "attachments": [
            {"filename": file.filename, "contentType": file.content_type}
            for file in reply.attachments
        ],
        "receivedAt": now_iso(),
    }


async def deliver(raw: bytes, to: str, mx: tuple[str, int]) -> None:
    """The relay's mail to an inbound address, through the MX (SMTP, as ManoMano's)."""
    await aiosmtplib.send(
        raw,
        sender="bounces@relay.manomano.com",
        recipients=[to],
        hostname=mx[0],
        port=mx[1],
        start_tls=False,
        use_tls=False,
        timeout=30,
    )


# Where it takes replies (the ``Double``'s ``reply_relay_at``).
listening_at = relay_listening("manomano")


def serving(relay: Relay) -> contextlib.AbstractAsyncContextManager[None]:
    """The reply relay (SMTP) while the web application runs."""
    return serving_relay(
        relay,
        Handler(relay),
        hostname="relay.manomano.com",
        ident="ManoMano relay (KeyBuzz sandbox)",
        max_bytes=MAX_MESSAGE_BYTES,
        stopping=lambda: relay.bounces.drain(grace_seconds=0.0),
    )
