"""tenant-sync settings (docs/CONTRACTS.md, "Configuration")."""

from typing import ClassVar

from keybuzz_shared.settings import CommonSettings


class TenantSyncSettings(CommonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "TENANT_SYNC_PORT"}
    # The product app's database is read by tenant-sync alone: its dev default refused here.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = CommonSettings.DEV_ONLY_DEFAULTS | {
        "product_database_url"
    }

    http_port: int = 8004
    # Domain of the inbound addresses (<connector's local part>@<INBOUND_DOMAIN>).
    inbound_domain: str = "inbound.keybuzz.test"
