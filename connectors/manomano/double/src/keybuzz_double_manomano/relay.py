"""ManoMano's relay in the double (docs/MANOMANO.md, "The double"): it sends the sellers'
inbound addresses their mails (through the MX a request names) and takes the sellers'
replies over SMTP, read as every relay double reads them (one that cannot be: ``554`` at
DATA), checked against ManoMano's limits [assumed] after the ``250`` and bounced (RFC 3464,
null sender) when they break them or their alias was made unreachable."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import aiosmtplib
from keybuzz_sandbox.double_kit.bounces import Mailer, Refusal
from keybuzz_sandbox.double_kit.replies import (
    PassedReply,
    RefusedReply,
    RelayHandler,
    ReplyMail,
)
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


class ThreadReply(PassedReply, kw_only=True):
    to: str  # the alias it was sent to


@dataclass
class Relay:
    """The relay's state: replies by alias, refusals, unreachable aliases, the MX."""

    settings: ManoManoDoubleSettings
    threads: dict[str, list[ThreadReply]] = field(default_factory=dict)
    refused: list[RefusedReply] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    reply_smtp_port: int | None = None  # bound, once it serves
    mx: tuple[str, int] | None = None  # where bounces go; None: the settings' MX

    def target(self) -> tuple[str, int]:
        return self.mx or (self.settings.mx_host, self.settings.mx_port)


MAILER = Mailer(
    sender="Mail Delivery System <mailer-daemon@relay.manomano.com>",
    subject="Undelivered Mail Returned to Sender",
    mta="relay.manomano.com",
    footer="Destinataire : {alias}\n",
)


def refusal(status: str, why: str) -> Refusal:
    return Refusal(reason=why, status=status, diagnostic=f"550 {status} {why}", explanation=why)


def refusal_of(reply: ReplyMail, alias: str, relay: Relay) -> Refusal | None:
    """Why the relay refuses the reply, None when it passes."""
    if alias in relay.unreachable:
        return refusal(
            "5.1.1", "Le destinataire ne peut plus être joint par la messagerie ManoMano."
        )
    if len(reply.attachments) > MAX_FILES:
        return refusal(
            "5.3.4", f"Un message ne peut pas porter plus de {MAX_FILES} pièces jointes."
        )
    for file in reply.attachments:
        name = file.filename.lower()
        extension = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if extension not in TYPES:
            return refusal("5.6.1", f"Type de pièce jointe refusé : {name}.")
    if sum(file.size for file in reply.attachments) > MAX_FILE_BYTES:
        return refusal("5.3.4", "Les pièces jointes dépassent 10 Mo au total.")
    return None


class Handler(RelayHandler):
    accepted = "250 2.0.0 OK: queued"

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay.target, relay.refused)
        self.relay = relay

    async def recipient_refusal(self, address: str) -> str | None:
        address = address.lower()
        if address.endswith("@" + BUYER_DOMAIN) or address == SUPPORT_ADDRESS:
            return None
        return "550 5.1.1 Recipient address rejected: unknown ManoMano address"

    async def take(self, reply: ReplyMail, alias: str, bounce_to: str) -> None:
        refused = refusal_of(reply, alias, self.relay)
        if refused is None:
            self.relay.threads.setdefault(alias, []).append(ThreadReply.of(reply, to=alias))
            return
        self.refuse(reply, alias, refused, MAILER, bounce_to)


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
    handler = Handler(relay)
    return serving_relay(
        relay,
        handler,
        hostname="relay.manomano.com",
        ident="ManoMano relay (KeyBuzz sandbox)",
        max_bytes=MAX_MESSAGE_BYTES,
        stopping=lambda: handler.bounces.drain(grace_seconds=0.0),
    )
