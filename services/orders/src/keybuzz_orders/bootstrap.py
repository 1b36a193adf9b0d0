"""The one place orders' ports are assembled: the PostgreSQL adapters on the service's
pool and units of work, the order source on the SP-API client, the tenants' marketplaces
from Vault, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from keybuzz_shared.amazon import SpApiClient
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_orders.adapters import (
    OrdersV0Listing,
    SpApiOrderReports,
    SpApiOrderSource,
    VaultMarketplaces,
)
from keybuzz_orders.backfill.store import PostgresBackfillStore, PostgresJobStore
from keybuzz_orders.notifications.notification_store import (
    PostgresDetailStore,
    PostgresNotificationStore,
)
from keybuzz_orders.ports import BackfillPorts, DetailPorts, OrdersPorts, OrderUnits, SyncPorts
from keybuzz_orders.settings import OrdersSettings
from keybuzz_orders.store import PostgresOrderStore


def assemble(runtime: Runtime[Any], spapi: SpApiClient) -> OrdersPorts:
    """``on_startup``, before the components that take the ports."""
    settings: OrdersSettings = runtime.settings

    def clock() -> datetime:
        return datetime.now(UTC)

    orders = PostgresOrderStore(runtime.pool)
    order_units: OrderUnits = store_unit_of_work(runtime.unit_of_work, PostgresOrderStore)
    source = SpApiOrderSource(spapi)
    ports = OrdersPorts(
        notification_units=store_unit_of_work(runtime.unit_of_work, PostgresNotificationStore),
        backfill=BackfillPorts(
            jobs=PostgresJobStore(runtime.pool),
            marketplaces=VaultMarketplaces(runtime.vault),
            clock=clock,
            lease_seconds=settings.backfill_lease_seconds,
            units=store_unit_of_work(runtime.unit_of_work, PostgresBackfillStore),
            source=source,
            fallback=OrdersV0Listing(spapi),
            reports=SpApiOrderReports(spapi),
            settings=settings,
        ),
        sync=SyncPorts(
            orders=orders,
            units=order_units,
            source=source,
            page_size=settings.backfill_page_size,
            interval_seconds=float(settings.orders_sync_interval_seconds),
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
    )
    runtime.provide(ports)
    return ports


def ports_of(runtime: Runtime[Any]) -> OrdersPorts:
    return runtime.component(OrdersPorts)
