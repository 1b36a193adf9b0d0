"""The poller's subscriptions; each hands its event to a use case on ports.

- ``tenant.synced`` (durable ``poller-inbound-addresses``) and ``tenant.archived``
  (``poller-tenant-archived``): the projection of tenants and their inbound addresses
  (``inbound/projection.py``). A ``tenant.synced`` naming another tenant's address is
  dead-lettered with the reason, nothing of it applied.
- ``connection.connected`` (``poller-connected-poll``): the tenant is due at once
  (``polling/connected.py``); a shop polled over its
  marketplace's API starts being polled, due at once
  (``shops/connections.py``).
- ``connection.disconnected`` (``poller-shop-disconnected``) and
  ``connection.reauth_required`` (``poller-shop-reauth-required``): such a shop is polled no
  more. Other marketplaces' are ignored.
"""

from __future__ import annotations

from keybuzz_shared.connectors.registry import served
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    TenantArchived,
    TenantSynced,
)
from keybuzz_shared.messaging import Delivery, EventSubscription, PermanentEventError

from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.inbound import projection
from keybuzz_poller.polling.connected import poll_at_once
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.shops.connections import (
    polled_by_api,
    shop_connected,
    shop_disconnected,
)


def register_subscribers(runtime: PollerRuntime) -> None:
    async def on_synced(event: TenantSynced, delivery: Delivery) -> None:
        try:
            await projection.apply_synced(ports_of(runtime).inbound, event)
        except projection.AddressOfAnotherTenant as exc:  # never applies, however retried
            raise PermanentEventError(str(exc)) from exc

    async def on_archived(event: TenantArchived, delivery: Delivery) -> None:
        await projection.apply_archived(ports_of(runtime).inbound, event)

    async def on_connected(event: ConnectionConnected, delivery: Delivery) -> None:
        if polled_by_api(event.marketplace):
            await shop_connected(ports_of(runtime).shop_polling, event)
        else:
            await poll_at_once(ports_of(runtime).polling, event.tenant_id)

    async def on_disconnected(event: ConnectionDisconnected, delivery: Delivery) -> None:
        # A marketplace served no more: its shops' polls end too (nothing else is its).
        if polled_by_api(event.marketplace) or not served(event.marketplace):
            await shop_disconnected(ports_of(runtime).shop_polling, event)

    EventSubscription(
        runtime, event_type=TenantSynced, handler=on_synced, purpose="inbound-addresses"
    )
    EventSubscription(
        runtime, event_type=TenantArchived, handler=on_archived, purpose="tenant-archived"
    )
    EventSubscription(
        runtime, event_type=ConnectionConnected, handler=on_connected, purpose="connected-poll"
    )
    EventSubscription(
        runtime,
        event_type=ConnectionDisconnected,
        handler=on_disconnected,
        purpose="shop-disconnected",
    )
    EventSubscription(
        runtime,
        event_type=ConnectionReauthRequired,
        handler=on_disconnected,
        purpose="shop-reauth-required",
    )
