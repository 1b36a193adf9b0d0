"""The one place orders' ports are assembled: the PostgreSQL adapters on the service's
pool and units of work, the order sources (the order feed's, one for each marketplace
whose connector has a shop API), the tenants' marketplaces, and the clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from keybuzz_shared.connectors.registry import PerMarketplace, connectors
from keybuzz_shared.connectors.seam import AppCallBudget, Connector, OpenedFeed, shop_api_of
from keybuzz_shared.events import ConnectionReauthRequired
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_orders.backfill.store import PostgresBackfillStore, PostgresJobStore
from keybuzz_orders.connector_source import ConnectorOrderSource, VaultMarketplaces
from keybuzz_orders.notifications.notification_store import (
    PostgresDetailStore,
    PostgresNotificationStore,
)
from keybuzz_orders.ports import BackfillPorts, DetailPorts, OrdersPorts, OrderUnits, SyncPorts
from keybuzz_orders.settings import OrdersSettings
from keybuzz_orders.store import PostgresOrderStore


def assemble(
    runtime: Runtime[Any], feed: OpenedFeed, http: Mapping[str, httpx.AsyncClient]
) -> OrdersPorts:
    """``on_startup``, before the components that take the ports: ``feed`` is the order
    feed's adapters, ``http`` carries the calls of each marketplace's shop API sessions."""
    settings: OrdersSettings = runtime.settings

    def clock() -> datetime:
        return datetime.now(UTC)

    async def key_refused(tenant_id: str, marketplace: str, shop_id: str, reason: str) -> None:
        # Through the outbox: the event survives a NATS outage.
        async with runtime.unit_of_work() as uow:
            uow.emit(
                ConnectionReauthRequired(
                    tenant_id=tenant_id,
                    marketplace=marketplace,
                    seller_id=shop_id or None,
                    reason=reason,
                )
            )

    def shop_source(connector: Connector) -> ConnectorOrderSource:
        marketplace = connector.marketplace
        return ConnectorOrderSource(
            marketplace,
            runtime.vault,
            http[marketplace],  # KeyError: its orders come from the order feed
            settings.shop_api(marketplace),
            window_days=settings.connector_backfill_window_days,
            clock=clock,
            on_key_refused=key_refused,
        )

    # Each shop API marketplace's, made when first asked (one served after start-up too).
    sources = PerMarketplace(shop_source)

    def order_budgets() -> dict[str, AppCallBudget]:
        """The marketplaces served now whose order API has an application call budget."""
        found = {}
        for connector in connectors():
            try:
                shop_api_of(connector)
                budget = settings.shop_api(connector.marketplace).order_calls
            except LookupError:  # its orders come from the order feed
                continue
            if budget is not None:
                found[connector.marketplace] = budget
        return found

    orders = PostgresOrderStore(runtime.pool)
    order_units: OrderUnits = store_unit_of_work(runtime.unit_of_work, PostgresOrderStore)
    source = feed.source
    ports = OrdersPorts(
        notification_units=store_unit_of_work(runtime.unit_of_work, PostgresNotificationStore),
        backfill=BackfillPorts(
            jobs=PostgresJobStore(runtime.pool),
            marketplaces=VaultMarketplaces(runtime.vault, feed.marketplaces),
            clock=clock,
            lease_seconds=settings.backfill_lease_seconds,
            units=store_unit_of_work(runtime.unit_of_work, PostgresBackfillStore),
            source=source,
            fallback=feed.fallback,
            reports=feed.reports,
            settings=settings,
            sources=sources,
        ),
        sync=SyncPorts(
            orders=orders,
            units=order_units,
            source=source,
            page_size=settings.backfill_page_size,
            interval_seconds=float(settings.orders_sync_interval_seconds),
            sources=sources,
            budgets=order_budgets,
        ),
        orders=orders,
        order_units=order_units,
        source=source,
        details=DetailPorts(
            fetches=PostgresDetailStore(runtime.pool),
            units=store_unit_of_work(runtime.unit_of_work, PostgresDetailStore),
            source=source,
        ),
        clock=clock,
        sources=sources,
    )
    runtime.provide(ports)
    return ports


def ports_of(runtime: Runtime[Any]) -> OrdersPorts:
    return runtime.component(OrdersPorts)
