"""A shop's connection, as the poller follows it: ``connection.connected`` of a shop polled
over its marketplace's API starts its polls (due at once), ``connection.disconnected`` stops them, and so does the
marketplace refusing the shop's key: the shop is REAUTH_REQUIRED and
``connection.reauth_required`` tells the other services (oauth shows it to the seller)."""

from __future__ import annotations

import logging

from keybuzz_shared.connectors.registry import (
    connector_serving,
    connectors,
)
from keybuzz_shared.connectors.seam import Connector, messages_by_api
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
)

from keybuzz_poller.shops.connection_ports import (
    DISCONNECTED,
    REAUTH_REQUIRED,
    ShopPollingPorts,
    ShopStatus,
)
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.ports import ShopPorts

log = logging.getLogger(__name__)


def shop_marketplaces() -> frozenset[str]:
    """The marketplaces whose shops the poller polls over their API: the connectors with a
    ``shop_api`` part and no mail relay (``messages_by_api``), as registered now (a
    connector registered after import included)."""
    return frozenset(c.marketplace for c in connectors() if messages_by_api(c))


def shop_marketplace(connector: Connector) -> str:
    """The connector's marketplace, when its shops are polled over its API; LookupError
    when they are not (no ``shop_api``, or its buyers write through its mail relay)."""
    if not messages_by_api(connector):
        raise LookupError(f"{connector.marketplace} shops are not polled over an API")
    return connector.marketplace


def polled_by_api(marketplace: str) -> bool:
    """``marketplace``'s shops are polled over its API: served by a connector with a
    ``shop_api`` and no mail relay (asked now: a marketplace added since start-up included)."""
    connector = connector_serving(marketplace)
    return connector is not None and messages_by_api(connector)


async def shop_connected(ports: ShopPollingPorts, event: ConnectionConnected) -> None:
    shop = Shop(event.tenant_id, event.marketplace)
    ports.forget_key(shop)  # reconnected: maybe with a new key, read at the next poll
    if await ports.connections.connect(shop, event.seller_id, event.occurred_at):
        ports.wake()
        log.info(
            "shop connected: poll due now",
            extra={"tenant_id": shop.tenant_id, "marketplace": shop.marketplace},
        )


async def shop_disconnected(ports: ShopPollingPorts, event: ConnectionDisconnected) -> None:
    """Disconnected, or REAUTH_REQUIRED (whoever saw the key refused): polls stop. A
    connection that was never the tenant's (``received_in_error``) also takes away what its
    polls brought, in the same transaction; a seller's own disconnect keeps its history."""
    connection = REAUTH_REQUIRED if isinstance(event, ConnectionReauthRequired) else DISCONNECTED
    shop = Shop(event.tenant_id, event.marketplace)
    ports.forget_key(shop)
    if event.received_in_error:
        await _forget_received(ports, shop, event)
    elif await ports.connections.disconnect(shop, connection, event.occurred_at):
        log.info(
            "shop polls stopped",
            extra={
                "tenant_id": shop.tenant_id,
                "marketplace": shop.marketplace,
                "connection": connection,
            },
        )


async def _forget_received(
    ports: ShopPollingPorts, shop: Shop, event: ConnectionDisconnected
) -> None:
    async with ports.unit_of_work() as unit:
        if await unit.store.disconnect(shop, DISCONNECTED, event.occurred_at) is None:
            return  # said already, or a newer connection of the tenant decided
        tickets = await unit.store.forget_received(shop)
    log.warning(
        "shop ended as a takeover: what it brought is deleted",
        extra={"tenant_id": shop.tenant_id, "marketplace": shop.marketplace, "tickets": tickets},
    )


async def key_refused(ports: ShopPollingPorts, shop: Shop, reason: str) -> None:
    """The marketplace refused the shop's key mid-poll: REAUTH_REQUIRED, and said so once."""
    ports.forget_key(shop)
    async with ports.unit_of_work() as unit:
        seller_id = await unit.store.disconnect(shop, REAUTH_REQUIRED, ports.clock())
        if seller_id is None:
            return  # a newer event decided already
        unit.emit(
            ConnectionReauthRequired(
                tenant_id=shop.tenant_id,
                marketplace=shop.marketplace,
                seller_id=seller_id,
                reason=reason,
            )
        )
    log.warning(
        "shop key refused: reauthorization required",
        extra={"tenant_id": shop.tenant_id, "marketplace": shop.marketplace},
    )


async def shop_statuses(ports: ShopPollingPorts, tenant_id: str) -> list[ShopStatus]:
    return await ports.connections.statuses(tenant_id)


def calls_per_day(shops: ShopPorts, marketplace: str) -> int | None:
    """The daily allowance of ``marketplace``'s shops, when it has one (and is still polled)."""
    try:
        allowance = shops.reading(marketplace).allowance
    except LookupError:  # a marketplace no registered connector polls any more
        return None
    return None if allowance is None else allowance.calls_per_day
