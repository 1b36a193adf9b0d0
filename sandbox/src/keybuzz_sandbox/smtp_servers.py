"""What the sandbox's SMTP servers (the reply front, the relay doubles) share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)


def stop_taking_mail(server: asyncio.Server) -> None:
    """``server`` takes no new connection; on Python 3.13+ its idle clients are dropped
    too, so that ``wait_closed`` does not wait for a client that keeps its session open."""
    server.close()
    close_clients = getattr(server, "close_clients", None)
    if close_clients is not None:
        close_clients()


async def smtp_server(
    handler: Any, *, host: str, port: int, hostname: str, ident: str, max_bytes: int
) -> tuple[asyncio.Server, int]:
    """An SMTP server for ``handler`` (aiosmtpd's) on ``host:port`` (0: a free port), naming
    itself ``hostname`` and ``ident`` in its greeting, taking mails of ``max_bytes`` at most
    (its SIZE); the server and the port it listens on."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=max_bytes, hostname=hostname, ident=ident),
        host=host,
        port=port,
    )
    return server, int(server.sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def serving_smtp(
    handler: Any,
    *,
    host: str,
    port: int,
    hostname: str,
    ident: str,
    max_bytes: int,
    stopping: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[int]:
    """A relay double's SMTP server (``smtp_server``) while the block runs, giving the port it
    listens on; on leaving, it takes no new mail, ``stopping`` ends what its handler still
    does (bounces under way), then it waits for the server to close."""
    server, bound = await smtp_server(
        handler, host=host, port=port, hostname=hostname, ident=ident, max_bytes=max_bytes
    )
    try:
        yield bound
    finally:
        stop_taking_mail(server)
        if stopping is not None:
            await stopping()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def serving_relay(
    relay: Any,
    handler: Any,
    *,
    hostname: str,
    ident: str,
    max_bytes: int,
    stopping: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[None]:
    """A relay double's ``serving_smtp`` on its settings' ``reply_smtp_host`` and
    ``reply_smtp_port``, the port it is bound to kept as ``relay.reply_smtp_port`` while it
    serves (where ``relay_listening`` reads it), None again once it stops."""
    host, port = relay.settings.reply_smtp_host, relay.settings.reply_smtp_port
    async with serving_smtp(
        handler,
        host=host,
        port=port,
        hostname=hostname,
        ident=ident,
        max_bytes=max_bytes,
        stopping=stopping,
    ) as relay.reply_smtp_port:
        log.info("%s on %s:%d", hostname, host, relay.reply_smtp_port)
        try:
            yield
        finally:
            relay.reply_smtp_port = None


def relay_listening(part: str) -> Callable[[Any], tuple[str, int] | None]:
    """A ``Double.reply_relay_at`` function for the relay double the sandbox keeps as
    ``sandbox.parts[part]``: where it listens (its settings' ``reply_smtp_host``, its bound
    ``reply_smtp_port``), None while it does not serve."""

    def listening_at(sandbox: Any) -> tuple[str, int] | None:
        relay = sandbox.parts.get(part)
        if relay is None or relay.reply_smtp_port is None:
            return None
        return str(relay.settings.reply_smtp_host), int(relay.reply_smtp_port)

    return listening_at
