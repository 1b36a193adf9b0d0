"""How the tenant-sync service is assembled."""

from pathlib import Path

from keybuzz_shared.service import ServiceDefinition

from keybuzz_tenant_sync.app import TenantSyncController
from keybuzz_tenant_sync.bootstrap import assemble, disassemble
from keybuzz_tenant_sync.events import register_subscribers
from keybuzz_tenant_sync.micro import micro_endpoints
from keybuzz_tenant_sync.ports import TenantSyncPorts
from keybuzz_tenant_sync.settings import TenantSyncSettings

DEFINITION = ServiceDefinition(
    name="tenant-sync",
    description="Mirror the product app's tenants and create their inbound e-mail addresses",
    settings_type=TenantSyncSettings,
    migrations=Path(__file__).parent / "migrations",
    route_handlers=[TenantSyncController],
    register_subscribers=register_subscribers,
    micro_endpoints=micro_endpoints,
    on_startup=[assemble],
    on_shutdown=[disassemble],
    dependencies={"ports": TenantSyncPorts},
)
