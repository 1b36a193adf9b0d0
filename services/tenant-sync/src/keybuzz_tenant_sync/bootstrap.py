"""The one place tenant-sync's ports are assembled: the PostgreSQL adapters on the
service's pool and units of work, and the product database's own pool."""

from __future__ import annotations

from keybuzz_shared.db import create_pool
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_tenant_sync.errors import ProductDatabaseUnavailable
from keybuzz_tenant_sync.ports import TenantSyncPorts
from keybuzz_tenant_sync.settings import TenantSyncSettings
from keybuzz_tenant_sync.store import PostgresProductTenants, PostgresTenantStore

TenantSyncRuntime = Runtime[TenantSyncSettings]


async def assemble(runtime: TenantSyncRuntime) -> None:
    """``on_startup``: the product database is a separate database (``keybuzz``), read only."""
    product_pool = await create_pool(runtime.settings.product_database_url, max_size=4)
    runtime.provide(
        TenantSyncPorts(
            tenants=PostgresTenantStore(runtime.pool),
            unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresTenantStore),
            product=PostgresProductTenants(product_pool),
            inbound_domain=runtime.settings.inbound_domain,
        )
    )


async def disassemble(runtime: TenantSyncRuntime) -> None:
    """``on_shutdown``: closes the product database's pool."""
    ports = runtime.components.pop(TenantSyncPorts, None)
    if isinstance(ports, TenantSyncPorts) and isinstance(ports.product, PostgresProductTenants):
        await ports.product.db.close()


def ports_of(runtime: TenantSyncRuntime) -> TenantSyncPorts:
    """The assembled ports; ``ProductDatabaseUnavailable`` before start-up or after stop."""
    try:
        return runtime.component(TenantSyncPorts)
    except LookupError:
        raise ProductDatabaseUnavailable("tenant-sync is not started") from None
