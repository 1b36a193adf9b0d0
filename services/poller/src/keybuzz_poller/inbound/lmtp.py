"""Delivery to Dovecot over LMTP (RFC 2033), on sessions kept open from one mail to the next.

An asyncio client in the MX's own event loop. The stdlib's ``smtplib.LMTP`` in worker
threads capped the MX near 50 mails/s where Dovecot takes ~250 over as many sessions
(docs/BENCHMARKS.md, bench_push_latency): six default worker threads, each of its
blocking steps waiting for the GIL behind the busy event loop, and a session per mail
(TCP connect, ``LHLO``, Dovecot's client set-up). aiosmtplib speaks no ``LHLO`` and sends
DATA from memory; a mail here streams from its spool in chunks.

A session is reused only after a complete transaction (any failure closes it), and only
within ``IDLE_SECONDS`` of its last mail (Dovecot closes idle clients on its own). A kept
session found closed when its ``MAIL`` is sent (Dovecot restarted meanwhile: the socket
closed, or the ``421`` Dovecot sent it on shutdown read as ``MAIL``'s answer) is replaced
once by a new one: nothing of the mail had been sent on it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from smtplib import quoteaddr  # the null sender of a bounce stays <>
from typing import IO

from prometheus_client import Counter

from keybuzz_poller.inbound.addresses import Recipient

MAILBOX_USER = "keybuzz"  # the poller's account at Dovecot; +<folder> picks the folder
LMTP_TIMEOUT = 30.0
LMTP_WRITE_BYTES = 64 * 1024
IDLE_SECONDS = 20.0
MAX_IDLE_SESSIONS = 32
LOCAL_HOSTNAME = "keybuzz-mx"  # said in LHLO
MAX_REPLY_LINES = 100
# As SMTP sends DATA: every line ending becomes CRLF, a leading dot is doubled.
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


class _Refused(Exception):
    """Dovecot answered a command with something else than what the step needs."""

    def __init__(self, step: str, code: int) -> None:
        super().__init__(f"LMTP answered {step} with {code}")
        self.step, self.code = step, code


class _Stale(Exception):
    """A kept session that Dovecot closed meanwhile: nothing of the mail was sent on it."""


@dataclass(frozen=True)
class Spooled:
    """A received mail: the header the MX adds, then the spooled content (read from 0)."""

    header: bytes
    content: IO[bytes]

    def wire_chunks(self) -> Iterator[bytes]:
        """The mail as SMTP DATA sends it, without the final dot, in chunks of bounded size.

        Read in the event loop, as the MX's session wrote it: from memory, or for a mail
        past MX_SPOOL_MEMORY_BYTES from a local file (64 KiB at a time)."""
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


class LmtpSession:
    """One LMTP connection: commands and their (possibly multi-line) replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used_at = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int) -> LmtpSession:
        reader, writer = await asyncio.open_connection(host, port)
        session = cls(reader, writer)
        try:
            await session.expect("greeting", (220,))
            await session.command(f"LHLO {LOCAL_HOSTNAME}", "LHLO", (250,))
        except BaseException:
            session.close()
            raise
        return session

    async def deliver(self, sender: str, mailbox: str, mail: Spooled) -> None:
        try:
            await self.command(f"MAIL FROM:{quoteaddr(sender)}", "MAIL", (250,))
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            raise _Stale from exc
        except _Refused as exc:
            if exc.code == 421:  # what a stopping Dovecot told the idle session
                raise _Stale from exc
            raise
        await self.command(f"RCPT TO:{quoteaddr(mailbox)}", "RCPT", (250, 251))
        await self.command("DATA", "DATA", (354,))
        for chunk in mail.wire_chunks():
            self.writer.write(chunk)
            await self.writer.drain()
        self.writer.write(b".\r\n")
        await self.expect("the mail", (250,))  # LMTP: one reply per recipient, here one
        self.used_at = time.monotonic()

    async def command(self, line: str, step: str, wanted: tuple[int, ...]) -> None:
        self.writer.write(line.encode() + b"\r\n")
        await self.expect(step, wanted)

    async def expect(self, step: str, wanted: tuple[int, ...]) -> None:
        code = await self._reply()
        if code not in wanted:
            raise _Refused(step, code)

    async def _reply(self) -> int:
        """The reply's code; its text is read and dropped (never logged: it may quote us)."""
        for _ in range(MAX_REPLY_LINES):
            line = await self.reader.readuntil(b"\n")
            if len(line) < 4 or not line[:3].isdigit():
                raise ConnectionError("LMTP reply not understood")
            if line[3:4] != b"-":
                return int(line[:3])
        raise ConnectionError("LMTP reply too long")

    def close(self) -> None:
        self.writer.close()


class Lmtp:
    """Dovecot's LMTP listener, and the sessions to it kept for the next mail."""

    def __init__(self, host: str, port: int, service: str, user: str = MAILBOX_USER) -> None:
        self.host, self.port, self.user = host, port, user
        self._opened = SESSIONS_OPENED.labels(service=service)
        self._idle: list[LmtpSession] = []

    async def deliver(self, recipient: Recipient, sender: str, mail: Spooled) -> None:
        """Returns once Dovecot has stored the mail; raises :class:`DeliveryFailed` otherwise."""
        mailbox = f"{self.user}+{recipient.folder}@localhost"
        try:
            async with asyncio.timeout(LMTP_TIMEOUT):
                try:
                    await self._deliver_on(
                        self._kept() or await self._open(), sender, mailbox, mail
                    )
                except _Stale:
                    await self._deliver_on(await self._open(), sender, mailbox, mail)
        except _Stale as exc:
            raise DeliveryFailed("LMTP closed the session", True) from exc
        except _Refused as exc:
            what = "refused the recipient" if exc.step == "RCPT" else f"answered {exc.code}"
            raise DeliveryFailed(f"LMTP {what} ({exc.code})", exc.code < 500) from exc
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise DeliveryFailed(f"LMTP unreachable: {type(exc).__name__}", True) from exc

    def close(self) -> None:
        """Closes the kept sessions (the MX stops)."""
        idle, self._idle = self._idle, []
        for session in idle:
            session.close()

    async def _deliver_on(
        self, session: LmtpSession, sender: str, mailbox: str, mail: Spooled
    ) -> None:
        try:
            await session.deliver(sender, mailbox, mail)
        except BaseException:
            session.close()
            raise
        if len(self._idle) < MAX_IDLE_SESSIONS:
            self._idle.append(session)
        else:
            session.close()

    def _kept(self) -> LmtpSession | None:
        """The most recently used kept session still young enough; older ones are closed."""
        while self._idle:
            session = self._idle.pop()
            if time.monotonic() - session.used_at < IDLE_SECONDS:
                return session
            session.close()
        return None

    async def _open(self) -> LmtpSession:
        session = await LmtpSession.open(self.host, self.port)
        self._opened.inc()
        return session
