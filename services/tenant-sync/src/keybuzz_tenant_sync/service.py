"""How the tenant-sync service is assembled."""

from pathlib import Path

from keybuzz_shared.service import ServiceDefinition

from keybuzz_tenant_sync.app import TenantSyncController
from keybuzz_tenant_sync.events import register_subscribers
from keybuzz_tenant_sync.micro import micro_endpoints
from keybuzz_tenant_sync.settings import TenantSyncSettings
from keybuzz_tenant_sync.sync import close_product_pool, open_product_pool

DEFINITION = ServiceDefinition(
    name="tenant-sync",
    description="Mirror the product app's tenants and create their inbound e-mail addresses",
    settings_type=TenantSyncSettings,
    migrations=Path(__file__).parent / "migrations",
    route_handlers=[TenantSyncController],
    register_subscribers=register_subscribers,
    micro_endpoints=micro_endpoints,
    on_startup=[open_product_pool],
    on_shutdown=[close_product_pool],
)
