"""Delivery to Dovecot over LMTP, on sessions kept open from one mail to the next.

A reused session costs ``MAIL``/``RCPT``/``DATA`` only, where a new one adds a TCP
connect, ``LHLO`` and Dovecot's set-up of a client. A session is reused only after a
complete transaction (any failure closes it), and only while younger than
``IDLE_SECONDS`` since its last use (Dovecot closes idle clients on its own). A session
found closed when its ``MAIL`` is sent (Dovecot restarted meanwhile: the socket is
closed, or the ``421`` Dovecot sent it on shutdown comes back as ``MAIL``'s answer) is
replaced once by a new one: nothing of the mail had been sent on it.

smtplib (blocking, so in the default executor's threads) speaks ``LHLO`` and streams DATA
from the spool in chunks, and keeps the deliveries off the event loop the polls run on
(docs/POLLER.md, "The MX"; figures in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import collections
import re
import smtplib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from prometheus_client import Counter

from keybuzz_poller.inbound.addresses import Recipient

MAILBOX_USER = "keybuzz"  # the poller's account at Dovecot; +<folder> picks the folder
LMTP_TIMEOUT = 30.0
LMTP_WRITE_BYTES = 64 * 1024
IDLE_SECONDS = 20.0
MAX_IDLE_SESSIONS = 16
# Said in LHLO; without it smtplib asks the resolver for this host's FQDN every session.
LOCAL_HOSTNAME = "keybuzz-mx"
# As smtplib sends DATA: every line ending becomes CRLF, a leading dot is doubled.
LINE_ENDING = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")

SESSIONS_OPENED = Counter(
    "keybuzz_poller_mx_lmtp_sessions_opened",
    "LMTP sessions the MX opened to Dovecot (reused across mails while they stay open).",
    ["service"],
)


class DeliveryFailed(Exception):
    def __init__(self, reason: str, temporary: bool) -> None:
        super().__init__(reason)
        self.temporary = temporary


class _Stale(Exception):
    """A kept session that Dovecot closed meanwhile: nothing of the mail was sent on it."""


@dataclass(frozen=True)
class Spooled:
    """A received mail: the header the MX adds, then the spooled content (read from 0)."""

    header: bytes
    content: IO[bytes]

    def wire_chunks(self) -> Iterator[bytes]:
        """The mail as SMTP DATA sends it, without the final dot, in chunks of bounded size."""
        self.content.seek(0)
        chunk = bytearray(_on_the_wire(self.header))
        for line in self.content:
            chunk += _on_the_wire(line)
            if len(chunk) >= LMTP_WRITE_BYTES:
                yield bytes(chunk)
                chunk.clear()
        if not chunk.endswith(b"\r\n"):
            chunk += b"\r\n"
        yield bytes(chunk)


def _on_the_wire(line: bytes) -> bytes:
    return _LEADING_DOT.sub(b"..", LINE_ENDING.sub(b"\r\n", line))


class Lmtp:
    """Dovecot's LMTP listener, and the sessions to it kept for the next mail."""

    def __init__(self, host: str, port: int, service: str, user: str = MAILBOX_USER) -> None:
        self.host, self.port, self.user = host, port, user
        self._opened = SESSIONS_OPENED.labels(service=service)
        self._idle: collections.deque[tuple[smtplib.LMTP, float]] = collections.deque()
        self._lock = threading.Lock()

    async def deliver(self, recipient: Recipient, sender: str, mail: Spooled) -> None:
        """Returns once Dovecot has stored the mail; raises :class:`DeliveryFailed` otherwise."""
        await asyncio.to_thread(self._deliver, f"{self.user}+{recipient.folder}", sender, mail)

    def close(self) -> None:
        """Closes the kept sessions (the MX stops)."""
        with self._lock:
            idle, self._idle = list(self._idle), collections.deque()
        for lmtp, _ in idle:
            _close(lmtp)

    def _deliver(self, mailbox: str, sender: str, mail: Spooled) -> None:
        try:
            try:
                self._deliver_on(self._kept() or self._open(), mailbox, sender, mail)
            except _Stale:
                self._deliver_on(self._open(), mailbox, sender, mail)
        except _Stale as exc:
            raise DeliveryFailed("LMTP closed the session", True) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            raise DeliveryFailed(f"LMTP refused the recipient ({code})", code < 500) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"LMTP answered {exc.smtp_code}", exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout
            raise DeliveryFailed(f"LMTP unreachable: {type(exc).__name__}", True) from exc

    def _deliver_on(self, lmtp: smtplib.LMTP, mailbox: str, sender: str, mail: Spooled) -> None:
        try:
            _send_streamed(lmtp, sender, f"{mailbox}@localhost", mail)
        except BaseException:
            _close(lmtp)
            raise
        self._keep(lmtp)

    def _kept(self) -> smtplib.LMTP | None:
        """The most recently used kept session still young enough; older ones are closed."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                lmtp, used_at = self._idle.pop()
            if time.monotonic() - used_at < IDLE_SECONDS:
                return lmtp
            _close(lmtp)

    def _keep(self, lmtp: smtplib.LMTP) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_SESSIONS:
                self._idle.append((lmtp, time.monotonic()))
                return
        _close(lmtp)

    def _open(self) -> smtplib.LMTP:
        lmtp = smtplib.LMTP(
            self.host, self.port, local_hostname=LOCAL_HOSTNAME, timeout=LMTP_TIMEOUT
        )
        self._opened.inc()
        return lmtp


def _send_streamed(lmtp: smtplib.LMTP, sender: str, mailbox: str, mail: Spooled) -> None:
    """smtplib's sendmail for one recipient, with the content streamed from the spool."""
    lmtp.ehlo_or_helo_if_needed()
    try:
        code, reply = lmtp.mail(sender)
    except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        raise _Stale from exc
    if code == 421:  # what a stopping Dovecot told the idle session, read as MAIL's answer
        raise _Stale
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = lmtp.rcpt(mailbox)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({mailbox: (code, reply)})
    code, reply = lmtp.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    for chunk in mail.wire_chunks():
        lmtp.send(chunk)
    lmtp.send(b".\r\n")
    code, reply = lmtp.getreply()  # LMTP: one reply per recipient, here one
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _close(lmtp: smtplib.LMTP) -> None:
    try:
        lmtp.close()
    except OSError:
        pass
