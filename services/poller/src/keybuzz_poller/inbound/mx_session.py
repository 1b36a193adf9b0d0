"""One SMTP session of the MX: aiosmtpd's protocol with the limits of ``mx_limits.py``.

- at connect: over ``MX_MAX_SESSIONS`` open sessions, or ``MX_MAX_SESSIONS_PER_CLIENT``
  from the client's IP address, the answer is ``421`` and the connection is closed;
- ``MX_IDLE_TIMEOUT_SECONDS`` without a command (or, in DATA, without a byte) and
  ``MX_SESSION_TIMEOUT_SECONDS`` in all end the session with ``421``;
- DATA is spooled as it arrives (``tempfile.SpooledTemporaryFile``: in memory up to
  ``MX_SPOOL_MEMORY_BYTES``, then a file in ``MX_SPOOL_DIR``), never held whole in
  memory; past ``MX_MAX_MESSAGE_BYTES`` the rest is read and dropped, then ``552``.

SMTPUTF8 is not advertised: a UTF-8 envelope is refused at MAIL (the edge MTA
downgrades or bounces it), because the mail could not be handed on to Dovecot.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import IO, Any, cast

from aiosmtpd.smtp import SMTP, Envelope, syntax

from keybuzz_poller.inbound.addresses import Recipient
from keybuzz_poller.inbound.mx_limits import (
    DATA_BYTES_IN_FLIGHT,
    IDLE_TIMEOUT,
    MESSAGE_SIZE,
    SESSION_TIMEOUT,
    SessionGate,
)

TOO_MANY_SESSIONS = b"421 4.7.0 Too many connections, try again later\r\n"
TIMED_OUT = b"421 4.4.2 Session timed out, closing\r\n"
SPOOL_WRITE_BYTES = 64 * 1024  # lines are gathered into writes of this size


def _say_and_close(transport: asyncio.BaseTransport, line: bytes) -> None:
    """Writes ``line`` and closes once it is flushed. A stream transport, whatever its class:
    uvloop's (what production runs) do not subclass ``asyncio.WriteTransport``."""
    cast(asyncio.WriteTransport, transport).write(line)
    transport.close()


class MxEnvelope(Envelope):
    """aiosmtpd's envelope, with our recipients and the spooled content (no bytes in memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients: list[Recipient] = []
        self.spool: IO[bytes] | None = None  # the content, dot-unstuffed, at position 0
        self.size = 0


class MxSession(SMTP):
    def __init__(self, handler: Any, gate: SessionGate, hostname: str) -> None:
        limits = gate.limits
        super().__init__(
            handler,
            data_size_limit=limits.max_message_bytes,
            enable_SMTPUTF8=False,
            hostname=hostname,
            ident="KeyBuzz MX",
            timeout=limits.idle_timeout_seconds,
        )
        self.gate = gate
        self.limits = limits
        self.client: str | None = None  # set once admitted
        self._session_timer: asyncio.TimerHandle | None = None

    def _create_envelope(self) -> MxEnvelope:
        return MxEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if peer else "unknown"
        refused = self.gate.enter(client)
        if refused is not None:
            self.gate.hit(refused, client)
            _say_and_close(transport, TOO_MANY_SESSIONS)  # aiosmtpd never sees it
            return
        self.client = client
        self._session_timer = self.loop.call_later(
            self.limits.session_timeout_seconds, self._end, SESSION_TIMEOUT
        )
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.client is None:  # refused at connect
            return
        self.gate.leave(self.client)
        if self._session_timer is not None:
            self._session_timer.cancel()
        super().connection_lost(error)

    def _timeout_cb(self) -> None:  # aiosmtpd's idle timer
        self._end(IDLE_TIMEOUT)

    def _end(self, limit: str) -> None:
        self.gate.hit(limit, self.client or "unknown")
        if self.transport is not None:
            _say_and_close(self.transport, TIMED_OUT)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert isinstance(self.envelope, MxEnvelope)
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        with tempfile.SpooledTemporaryFile(
            max_size=self.limits.spool_memory_bytes, dir=self.limits.spool_dir
        ) as spool:
            refusal = await self._receive(spool)
            if refusal is None:
                spool.seek(0)
                self.envelope.spool = spool
                status = await self._call_handler_hook("DATA")
            else:
                status = refusal
            self._set_post_data_state()  # type: ignore[no-untyped-call]  # aiosmtpd's, untyped
        await self.push(status)

    async def _receive(self, spool: IO[bytes]) -> str | None:
        """Reads DATA up to the lone dot into ``spool``; returns the refusal, if any."""
        assert isinstance(self.envelope, MxEnvelope)
        gauge = DATA_BYTES_IN_FLIGHT.labels(self.gate.service)
        size, too_long, in_long_line = 0, False, False
        pending = bytearray()
        try:
            while True:
                try:
                    line = await self._reader.readuntil(b"\r\n")
                except asyncio.LimitOverrunError as exc:  # a line longer than RFC 5321's
                    await self._reader.readexactly(exc.consumed)
                    too_long = in_long_line = True
                    self._reset_timeout()
                    continue
                self._reset_timeout()  # idle means no byte, not no command, in DATA
                if in_long_line:  # the end of an overlong line, not a line of its own
                    in_long_line = False
                    continue
                if line == b".\r\n":
                    break
                size += len(line)
                gauge.inc(len(line))
                too_long = too_long or len(line) > self.line_length_limit
                if too_long or size > self.limits.max_message_bytes:
                    continue  # read to the end, keep nothing (RFC 5321 §4.2.5)
                pending += line[1:] if line.startswith(b".") else line
                if len(pending) >= SPOOL_WRITE_BYTES:
                    spool.write(pending)
                    pending.clear()
            spool.write(pending)
        finally:
            gauge.dec(size)
        if too_long:
            return "500 5.5.2 Line too long (see RFC 5321 4.5.3.1.6)"
        if size > self.limits.max_message_bytes:
            self.gate.hit(MESSAGE_SIZE, self.client or "unknown")
            return "552 5.3.4 Message too big for system"
        self.envelope.size = size
        return None
