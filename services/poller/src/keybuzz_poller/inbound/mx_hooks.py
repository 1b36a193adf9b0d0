"""The MX in the service process: started and stopped by the frame, asking the projection.

Amazon's relay → MX (``mx.py``, SMTP) → Dovecot over LMTP, one folder per tenant; the
recipients it accepts are those of the poller's own projection (``store.py``).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from keybuzz_poller.inbound import store
from keybuzz_poller.inbound.addresses import Recipient
from keybuzz_poller.inbound.mx import Lmtp, MxHandler, MxServer
from keybuzz_poller.inbound.mx_limits import MxLimits, SessionGate
from keybuzz_poller.runtime import PollerRuntime


class ProjectionLookup:
    """Recipients from the poller's own projection of tenant.synced / tenant.archived."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def lookup(self, address: str) -> Recipient | None:
        return await store.find_recipient(self.pool, address)


async def start_mx(runtime: PollerRuntime) -> None:
    """``on_startup``: listen for mail; a poller that cannot listen does not start."""
    settings = runtime.settings
    limits = MxLimits(
        max_sessions=settings.mx_max_sessions,
        max_sessions_per_client=settings.mx_max_sessions_per_client,
        idle_timeout_seconds=settings.mx_idle_timeout_seconds,
        session_timeout_seconds=settings.mx_session_timeout_seconds,
        max_recipients=settings.mx_max_recipients,
        max_message_bytes=settings.mx_max_message_bytes,
        spool_memory_bytes=settings.mx_spool_memory_bytes,
        spool_dir=settings.mx_spool_dir,
    )
    handler = MxHandler(
        ProjectionLookup(runtime.pool),
        Lmtp(settings.lmtp_host, settings.lmtp_port).deliver,
        SessionGate(runtime.name, limits),
    )
    server = MxServer(handler, settings.mx_host, settings.mx_port, settings.inbound_domain)
    await server.start()
    runtime.provide(server)


async def stop_mx(runtime: Any) -> None:
    server = runtime.components.pop(MxServer, None)
    if isinstance(server, MxServer):
        await server.stop()
