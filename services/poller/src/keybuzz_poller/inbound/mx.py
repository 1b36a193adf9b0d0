"""The inbound MX: an SMTP receiver for INBOUND_DOMAIN that files mail into Dovecot over LMTP.

It runs inside the poller process (started by the frame's ``on_startup`` hook) and
answers ``550`` at RCPT for anything but a known, enabled address of a tenant that is
not archived (one answer for all three, so it does not tell which addresses exist),
``552`` past ``MX_MAX_MESSAGE_BYTES``, ``452`` past ``MX_MAX_RECIPIENTS``, and ``250``
only once Dovecot has accepted the mail into every recipient's tenant folder (``451``
otherwise: the sending MTA keeps it and retries, so an accepted mail is never lost).
A mail is delivered once per tenant folder and stamped with its first recipient; a copy
delivered again after a 451 is recognised by its Message-ID, or by the digest the MX
stamps (``_stamped``). Session limits: ``mx_session.py``; the whole story: docs/POLLER.md,
"The MX".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import IO

from aiosmtpd.smtp import SMTP, Envelope, Session

from keybuzz_poller.inbound.addresses import (
    ACCEPTED_HEADER,
    DIGEST_HEADER,
    INBOUND_HEADER,
    Recipient,
    RecipientLookup,
    normalise,
)
from keybuzz_poller.inbound.lmtp import LINE_ENDING, DeliveryFailed, Spooled
from keybuzz_poller.inbound.mx_limits import RECIPIENTS, SessionGate
from keybuzz_poller.inbound.mx_session import MxEnvelope, MxSession

log = logging.getLogger(__name__)
DIGEST_IN_LOOP_BYTES = 256 * 1024

STOP_SECONDS = 5.0
# aiosmtpd logs every envelope address at INFO (``recip: <relay label>.<tenant>.fr.<token>@…``):
# the inbound address is never logged (docs/POLLER.md), so only its warnings pass.
AIOSMTPD_LOGGER = "mail.log"


Deliver = Callable[[Recipient, str, Spooled], Awaitable[None]]


class MxHandler:
    """aiosmtpd handler: RCPT asks ``lookup``, DATA delivers to every accepted recipient."""

    def __init__(self, lookup: RecipientLookup, deliver: Deliver, gate: SessionGate) -> None:
        self.lookup = lookup
        self.deliver = deliver
        self.gate = gate  # the limits, and where their hits are told

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        assert isinstance(envelope, MxEnvelope)
        wanted = normalise(address)
        if any(normalise(a) == wanted for a in envelope.rcpt_tos):
            return "250 2.1.5 OK"  # the same address again: nothing to look up or add
        if len(envelope.rcpt_tos) >= self.gate.limits.max_recipients:
            self.gate.hit(RECIPIENTS, _client(session))
            return "452 4.5.3 Too many recipients"
        try:
            recipient = await self.lookup.lookup(wanted)
        except Exception:
            log.exception("recipient lookup failed")
            return "451 4.3.0 Temporary failure, try again later"
        if recipient is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        if all(r.folder != recipient.folder for r in envelope.recipients):
            envelope.recipients.append(recipient)  # one delivery per folder, whatever its address
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope, MxEnvelope) and envelope.spool is not None
        sender = envelope.mail_from or ""
        if envelope.size > DIGEST_IN_LOOP_BYTES:
            digest = await asyncio.to_thread(received_digest, envelope.spool)
        else:  # a relay mail (a few KB): microseconds, not worth a worker thread's queue
            digest = received_digest(envelope.spool)
        accepted_at = datetime.now(UTC)
        try:
            for recipient in envelope.recipients:
                stamped = Spooled(_stamped(recipient, digest, accepted_at), envelope.spool)
                await self.deliver(recipient, sender, stamped)
        except DeliveryFailed as exc:
            log.warning(
                "inbound mail not accepted by the mailbox",
                extra={"reason": str(exc), "temporary": exc.temporary},
            )
            if exc.temporary:
                return "451 4.3.0 Mailbox temporarily unavailable, try again later"
            return "554 5.3.0 Mailbox refused the message"
        for recipient in envelope.recipients:
            log.info(
                "inbound mail delivered",
                extra={
                    "tenant_id": recipient.tenant_id,
                    "country": recipient.country,
                    "bytes": envelope.size,
                },
            )
        return "250 2.0.0 OK: delivered"

    async def handle_exception(self, error: Exception) -> str:
        """Instead of aiosmtpd's ``500 Error: (<exception>) <text>``, which may quote the envelope."""
        log.error("MX session failed", extra={"error": type(error).__name__})
        return "451 4.3.0 Temporary failure, try again later"


def received_digest(content: IO[bytes]) -> str:
    """``sha256:<hex>`` of the mail as received, line endings as CRLF; read from 0, left at 0."""
    content.seek(0)
    digest = hashlib.sha256()
    for line in content:
        digest.update(LINE_ENDING.sub(b"\r\n", line))
    content.seek(0)
    return f"sha256:{digest.hexdigest()}"


def _stamped(recipient: Recipient, digest: str, accepted_at: datetime) -> bytes:
    """Our headers, prepended (the parser reads the topmost, so a sender's own are ignored):
    the envelope recipient (To: holds the seller's address when forwarded), the digest
    of the mail as received (its identity without a Message-ID) and when we accepted it."""
    return (
        f"{INBOUND_HEADER}: {recipient.address}\r\n{DIGEST_HEADER}: {digest}\r\n"
        f"{ACCEPTED_HEADER}: {accepted_at.isoformat(timespec='microseconds')}\r\n"
    ).encode()


def _client(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else "unknown"


class MxServer:
    """The SMTP listener, in the service's own event loop."""

    def __init__(self, handler: MxHandler, host: str, port: int, hostname: str) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.hostname = hostname
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        logging.getLogger(AIOSMTPD_LOGGER).setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        log.info("MX listening", extra={"host": self.host, "port": self.port})

    def _protocol(self) -> MxSession:
        return MxSession(self.handler, self.handler.gate, self.hostname)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()  # no new connections; a transaction in flight ends on its own
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), STOP_SECONDS)
            self._server = None
