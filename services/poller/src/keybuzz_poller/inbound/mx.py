"""The inbound MX: an SMTP receiver for INBOUND_DOMAIN that files mail into Dovecot over LMTP.

It runs inside the poller process (started by the frame's ``on_startup`` hook,
stopped on shutdown) and answers, per RFC 5321:

- ``550`` at RCPT for anything but a known, enabled inbound address of a tenant
  that is not archived (the same answer for all three, so the MX does not tell
  which addresses exist);
- ``552`` for a mail larger than ``MX_MAX_MESSAGE_BYTES`` (announced with SIZE);
- ``250`` only once Dovecot has accepted the mail over LMTP into every
  recipient's tenant folder; ``451`` (try again later) when it has not, so an
  accepted mail is never lost — the sending MTA keeps it and retries.

A mail for several recipients is delivered once per recipient; if one delivery
fails after another succeeded, the 451 makes the sender send it again to all of
them, and the copy is recognised later by its Message-ID (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, Envelope, Session

from keybuzz_poller.inbound.addresses import INBOUND_HEADER, Recipient, RecipientLookup, normalise

log = logging.getLogger(__name__)

MAILBOX_USER = "keybuzz"  # the poller's account at Dovecot; +<folder> picks the folder
LMTP_TIMEOUT = 30.0
STOP_SECONDS = 5.0


class DeliveryFailed(Exception):
    def __init__(self, reason: str, temporary: bool) -> None:
        super().__init__(reason)
        self.temporary = temporary


@dataclass(frozen=True)
class Lmtp:
    """Dovecot's LMTP listener."""

    host: str
    port: int
    user: str = MAILBOX_USER

    async def deliver(self, recipient: Recipient, sender: str, content: bytes) -> None:
        """Returns once Dovecot has stored the mail; raises :class:`DeliveryFailed` otherwise."""
        # smtplib.LMTP (stdlib) in a worker thread: it speaks LHLO and is blocking.
        await asyncio.to_thread(self._deliver, f"{self.user}+{recipient.folder}", sender, content)

    def _deliver(self, mailbox: str, sender: str, content: bytes) -> None:
        try:
            with smtplib.LMTP(self.host, self.port, timeout=LMTP_TIMEOUT) as lmtp:
                lmtp.sendmail(sender, [f"{mailbox}@localhost"], content)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            raise DeliveryFailed(f"LMTP refused the recipient ({code})", code < 500) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"LMTP answered {exc.smtp_code}", exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout
            raise DeliveryFailed(f"LMTP unreachable: {type(exc).__name__}", True) from exc


Deliver = Callable[[Recipient, str, bytes], Awaitable[None]]


class MxHandler:
    """aiosmtpd handler: RCPT asks ``lookup``, DATA delivers to every accepted recipient."""

    def __init__(self, lookup: RecipientLookup, deliver: Deliver) -> None:
        self.lookup = lookup
        self.deliver = deliver
        self._recipients: weakref.WeakKeyDictionary[Envelope, list[Recipient]] = (
            weakref.WeakKeyDictionary()
        )

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            recipient = await self.lookup.lookup(normalise(address))
        except Exception:
            log.exception("recipient lookup failed")
            return "451 4.3.0 Temporary failure, try again later"
        if recipient is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        self._recipients.setdefault(envelope, []).append(recipient)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipients = self._recipients.get(envelope, [])
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        try:
            for recipient in recipients:
                await self.deliver(recipient, sender, _stamped(recipient, raw))
        except DeliveryFailed as exc:
            log.warning(
                "inbound mail not accepted by the mailbox",
                extra={"reason": str(exc), "temporary": exc.temporary},
            )
            if exc.temporary:
                return "451 4.3.0 Mailbox temporarily unavailable, try again later"
            return "554 5.3.0 Mailbox refused the message"
        for recipient in recipients:
            log.info(
                "inbound mail delivered",
                extra={
                    "tenant_id": recipient.tenant_id,
                    "country": recipient.country,
                    "bytes": len(raw),
                },
            )
        return "250 2.0.0 OK: delivered"


def _stamped(recipient: Recipient, raw: bytes) -> bytes:
    """Prepend the envelope recipient: To: holds the seller's address when forwarded."""
    return f"{INBOUND_HEADER}: {recipient.address}\r\n".encode() + raw


class MxServer:
    """The SMTP listener, in the service's own event loop."""

    def __init__(
        self, handler: MxHandler, host: str, port: int, max_message_bytes: int, hostname: str
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self.hostname = hostname
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        log.info("MX listening", extra={"host": self.host, "port": self.port})

    def _protocol(self) -> SMTP:
        return SMTP(
            self.handler,
            data_size_limit=self.max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=self.hostname,
            ident="KeyBuzz MX",
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()  # no new connections; a transaction in flight ends on its own
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), STOP_SECONDS)
            self._server = None
