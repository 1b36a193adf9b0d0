"""Use cases of the connection projection: what oauth's ``connection.*`` events say.

tenant-sync never reads the oauth service's tables; the status endpoint shows
this projection instead. Each event type has its own durable consumer, so events
of one tenant may be handled out of order: every write compares ``occurredAt``
and keeps the newest (``ports.TenantStore``), which also makes a redelivery change nothing.
"""

from __future__ import annotations

import logging

from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
)

from keybuzz_tenant_sync.domain import connection_change, credentials_refused
from keybuzz_tenant_sync.ports import TenantSyncPorts
from keybuzz_tenant_sync.sync import addresses_on_connection

log = logging.getLogger(__name__)


async def apply_change(
    ports: TenantSyncPorts, event: ConnectionConnected | ConnectionDisconnected
) -> None:
    """``connection.connected`` / ``connection.disconnected``; a connection that brings
    inbound addresses gets them (``sync.addresses_on_connection``)."""
    if not await ports.tenants.apply_connection_change(connection_change(event)):
        log.info("older connection event ignored", extra=_event_log(event))
    if isinstance(event, ConnectionConnected):
        # Even when the change was applied before: a redelivery after a crash between
        # the two still makes them (making an address twice keeps the first).
        await addresses_on_connection(ports, event)


async def record_refusal(ports: TenantSyncPorts, event: ConnectionReauthRequired) -> None:
    """``connection.reauth_required``: kept apart from the connection's life (see domain.py)."""
    if not await ports.tenants.record_refusal(credentials_refused(event)):
        log.info("older connection event ignored", extra=_event_log(event))


def _event_log(event: ConnectionDisconnected | ConnectionConnected) -> dict[str, str]:
    return {"tenant_id": event.tenant_id, "event_id": event.event_id, "event_type": event.type}
