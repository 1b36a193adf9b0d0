"""ManoMano's relay in the double: it sends the sellers' inbound addresses their mails
(through the MX a request names) and takes the sellers' replies over SMTP.

A reply is taken for a buyer's alias or the customer service's address (any other
recipient: ``550 5.1.1`` at RCPT), then checked after the ``250``: its files' types
(PDF, JPEG, PNG), their count (5) and their total (10 MB) [assumed: ManoMano publishes
no limit]; a refusal, or an alias the admin made unreachable, is an RFC 3464 bounce to
the reply's envelope sender, with a null sender of its own. Accepted replies land on the
alias's thread (``GET /_sandbox/manomano/threads/{alias}``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import format_datetime, formatdate, make_msgid
from typing import TYPE_CHECKING, Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from keybuzz_sandbox.smtp_servers import relay_listening, serving_smtp

from .env import BUYER_DOMAIN, SUPPORT_ADDRESS, ManoManoDoubleSettings

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

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
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

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
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <mailer-daemon@relay.manomano.com>"
    report["To"] = to
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = formatdate(usegmt=True)
    report["Message-ID"] = make_msgid(domain="relay.manomano.com")
    report["Auto-Submitted"] = "auto-replied"
    refused_id = str(mail.get("Message-ID", ""))
    if refused_id:
        report["In-Reply-To"] = refused_id
    report.attach(MIMEText(f"{why}\n\nDestinataire : {alias}\n", "plain", "utf-8"))
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; relay.manomano.com"
    per_message["Arrival-Date"] = format_datetime(datetime.now(UTC))
    per_recipient["Final-Recipient"] = f"rfc822; {alias}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = f"smtp; 550 {status} {why}"
    state = MIMEBase("message", "delivery-status")
    state.set_payload([per_message, per_recipient])
    report.attach(state)
    headers = "".join(f"{k}: {v}\n" for k, v in mail.items())
    report.attach(MIMEText(headers, "rfc822-headers", "utf-8"))
    return report


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
                }  # fmt: skip
            )
            if sender:
                task = asyncio.create_task(
                    self._bounce(bounce(mail, alias, status, why, sender), sender)
                )
                self.relay.tasks.add(task)
                task.add_done_callback(self.relay.tasks.discard)
        return "250 2.0.0 OK: queued"

    async def _bounce(self, report: MIMEMultipart, to: str) -> None:
        host, port = self.relay.target()
        for attempt in range(4):
            try:
                await aiosmtplib.send(
                    report, sender="", recipients=[to], hostname=host, port=port,
                    start_tls=False, timeout=30,
                )  # fmt: skip
                return
            except (aiosmtplib.SMTPException, OSError) as exc:
                log.warning("bounce to %s, attempt %d: %s", to, attempt + 1, exc)
                await asyncio.sleep(0.5 * 2**attempt)


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
        raw, sender="bounces@relay.manomano.com", recipients=[to], hostname=mx[0], port=mx[1],
        start_tls=False, use_tls=False, timeout=30,
    )  # fmt: skip


# Where it takes replies (the ``Double``'s ``reply_relay_at``).
listening_at = relay_listening("manomano")


@contextlib.asynccontextmanager
async def serving(relay: Relay) -> AsyncIterator[None]:
    """The reply relay (SMTP) while the web application runs."""

    async def stopping() -> None:
        for task in list(relay.tasks):
            task.cancel()

    async with serving_smtp(
        Handler(relay),
        host=relay.settings.reply_smtp_host,
        port=relay.settings.reply_smtp_port,
        hostname="relay.manomano.com",
        ident="ManoMano relay (KeyBuzz sandbox)",
        max_bytes=MAX_MESSAGE_BYTES,
        stopping=stopping,
    ) as relay.reply_smtp_port:
        try:
            yield
        finally:
            relay.reply_smtp_port = None
