"""What the sandbox's SMTP servers (the reply front, the relay doubles) share."""

from __future__ import annotations

import asyncio


def stop_taking_mail(server: asyncio.Server) -> None:
    """``server`` takes no new connection; on Python 3.13+ its idle clients are dropped
    too, so that ``wait_closed`` does not wait for a client that keeps its session open."""
    server.close()
    close_clients = getattr(server, "close_clients", None)
    if close_clients is not None:
        close_clients()
