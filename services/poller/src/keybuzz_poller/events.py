"""The poller's subscriptions; each hands its event to a use case on ports.

- ``tenant.synced`` (durable ``poller-inbound-addresses``) and ``tenant.archived``
  (``poller-tenant-archived``): the projection of tenants and their inbound addresses
  (``inbound/projection.py``). A ``tenant.synced`` naming another tenant's address is
  dead-lettered with the reason, nothing of it applied.
- ``connection.connected`` (``poller-connected-poll``): the tenant is due at once
  (``polling/connected.py``).
"""

from __future__ import annotations

from keybuzz_shared.events import ConnectionConnected, TenantArchived, TenantSynced
from keybuzz_shared.messaging import Delivery, EventSubscription, PermanentEventError

from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.inbound import projection
from keybuzz_poller.polling.connected import poll_at_once
from keybuzz_poller.runtime import PollerRuntime


def register_subscribers(runtime: PollerRuntime) -> None:
    async def on_synced(event: TenantSynced, delivery: Delivery) -> None:
        try:
            await projection.apply_synced(ports_of(runtime).inbound, event)
        except projection.AddressOfAnotherTenant as exc:  # never applies, however retried
            raise PermanentEventError(str(exc)) from exc

    async def on_archived(event: TenantArchived, delivery: Delivery) -> None:
        await projection.apply_archived(ports_of(runtime).inbound, event)

    async def on_connected(event: ConnectionConnected, delivery: Delivery) -> None:
        await poll_at_once(ports_of(runtime).polling, event.tenant_id)

    EventSubscription(
        runtime, event_type=TenantSynced, handler=on_synced, purpose="inbound-addresses"
    )
    EventSubscription(
        runtime, event_type=TenantArchived, handler=on_archived, purpose="tenant-archived"
    )
    EventSubscription(
        runtime, event_type=ConnectionConnected, handler=on_connected, purpose="connected-poll"
    )
