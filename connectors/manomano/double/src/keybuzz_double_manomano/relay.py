"""ManoMano's relay in the double: it sends the sellers' inbound addresses their mails
(through the MX a request names) and takes the sellers' replies over SMTP.

A reply is taken for a buyer's alias or the customer service's address (any other
recipient: ``550 5.1.1`` at RCPT), then checked after the ``250``: its files' types
(PDF, JPEG, PNG), their count (5) and their total (10 MB) [assumed: ManoMano publishes
no limit]; a refusal, or an alias the admin made unreachable, is an RFC 3464 bounce to
the reply's envelope sender, with a null sender of its own. Accepted replies land on the
alias's thread (``GET /_sandbox/manomano/threads/{alias}``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.parser import BytesParser
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from keybuzz_sandbox.double_kit.bounces import Bounces, Refused, bounce_report, send_bounce
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


def refusal_of(mail: EmailMessage, alias: str, relay: Relay) -> tuple[str, str] | None:
    """(status, why) when the relay refuses the reply, else None."""
    if alias in relay.unreachable:
        return "5.1.1", "Le destinataire ne peut plus être joint par la messagerie ManoMano."
    files = [part for part in mail.iter_attachments()]
    if len(files) > MAX_FILES:
        return "5.3.4", f"Un message ne peut pas porter plus de {MAX_FILES} pièces jointes."
    total = 0
    for part in files:
        name = (part.get_filename() or "").lower()
        extension = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if extension not in TYPES:
            return "5.6.1", f"Type de pièce jointe refusé : {name or 'sans nom'}."
        content = part.get_payload(decode=True)
        total += len(content) if isinstance(content, bytes) else 0
    if total > MAX_FILE_BYTES:
        return "5.3.4", "Les pièces jointes dépassent 10 Mo au total."
    return None


def bounce(mail: EmailMessage, alias: str, status: str, why: str, to: str) -> MIMEMultipart:
    refused = Refused(
        recipient=alias,
        message_id=str(mail.get("Message-ID", "")),
        headers="".join(f"{k}: {v}\n" for k, v in mail.items()),
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
        raw = envelope.original_content or b""
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(mail, EmailMessage)
        sender = "" if envelope.mail_from in (None, "", "<>") else str(envelope.mail_from)
        for alias in envelope.rcpt_tos:
            refused = refusal_of(mail, alias, self.relay)
            if refused is None:
                self.relay.threads.setdefault(alias, []).append(_entry(mail, alias))
                continue
            status, why = refused
            self.relay.refused.append(
                {
                    "messageId": str(mail.get("Message-ID", "")),
                    "alias": alias,
                    "status": status,
                    "reason": why,
                    "bouncedTo": sender or None,
                }
            )
            if sender:
                report = bounce(mail, alias, status, why, sender)
                self.relay.bounces.start(send_bounce(report, sender, self.relay.target))
        return "250 2.0.0 OK: queued"


def _entry(mail: EmailMessage, alias: str) -> dict[str, Any]:
    body = mail.get_body(preferencelist=("plain", "html"))
    return {
        "messageId": str(mail.get("Message-ID", "")),
        "inReplyTo": str(mail.get("In-Reply-To", "")) or None,
        "from": str(mail.get("From", "")),
        "to": alias,
        "subject": str(mail.get("Subject", "")),
        "text": body.get_content() if body is not None else "",
        "attachments": [
            {"filename": p.get_filename(), "contentType": p.get_content_type()}
            for p in mail.iter_attachments()
        ],
        "receivedAt": datetime.now(UTC).isoformat(),
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
