"""tenant-sync settings (docs/CONTRACTS.md, "Configuration")."""

from typing import ClassVar

from keybuzz_shared.settings import CommonSettings


class TenantSyncSettings(CommonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "TENANT_SYNC_PORT"}

    http_port: int = 8004
    # Domain of the inbound addresses (<connector's local part>@<INBOUND_DOMAIN>).
    inbound_domain: str = "inbound.keybuzz.test"
