"""``connection.connected``: a tenant that has just connected is polled at once."""

from __future__ import annotations

import logging

from keybuzz_poller.polling.ports import PollingPorts

log = logging.getLogger(__name__)


async def poll_at_once(ports: PollingPorts, tenant_id: str) -> None:
    """Due now, whichever instance takes it; this one is woken to claim it."""
    await ports.schedule.poll_soon(tenant_id)
    ports.wake()
    log.info("connected: poll due now", extra={"tenant_id": tenant_id})
