"""The one place orders' ports are assembled: the PostgreSQL adapters on the service's
pool and units of work, the tenants' marketplaces from Vault, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from keybuzz_shared.amazon import load_tenant_credentials
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import store_unit_of_work
from keybuzz_shared.vault import VaultClient

from keybuzz_orders.backfill.store import PostgresJobStore
from keybuzz_orders.notifications.notification_store import PostgresNotificationStore
from keybuzz_orders.ports import BackfillPorts, OrdersPorts


class VaultMarketplaces:
    """``ports.Marketplaces`` from the tenants' credentials in Vault."""

    def __init__(self, vault: VaultClient) -> None:
        self.vault = vault

    async def marketplace_id(self, tenant_id: str) -> str:
        return (await load_tenant_credentials(self.vault, tenant_id)).marketplace_id


def assemble(runtime: Runtime[Any]) -> OrdersPorts:
    """``on_startup``, before the components that take the ports."""

    def clock() -> datetime:
        return datetime.now(UTC)

    ports = OrdersPorts(
        notification_units=store_unit_of_work(runtime.unit_of_work, PostgresNotificationStore),
        backfill=BackfillPorts(
            jobs=PostgresJobStore(runtime.pool),
            marketplaces=VaultMarketplaces(runtime.vault),
            clock=clock,
            lease_seconds=runtime.settings.backfill_lease_seconds,
        ),
        clock=clock,
    )
    runtime.provide(ports)
    return ports


def ports_of(runtime: Runtime[Any]) -> OrdersPorts:
    return runtime.component(OrdersPorts)
