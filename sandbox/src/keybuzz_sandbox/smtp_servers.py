"""What the sandbox's SMTP servers (the reply front, the relay doubles) share."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.smtp import SMTP


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
