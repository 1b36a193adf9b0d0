"""How the tenant-sync service is assembled."""

from pathlib import Path

from keybuzz_shared.service import ServiceDefinition

from keybuzz_tenant_sync.settings import TenantSyncSettings

DEFINITION = ServiceDefinition(
    name="tenant-sync",
    description="Mirror the product app's tenants and create their inbound e-mail addresses",
    settings_type=TenantSyncSettings,
    migrations=Path(__file__).parent / "migrations",
)
