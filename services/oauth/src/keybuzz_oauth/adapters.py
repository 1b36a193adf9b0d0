"""The Vault adapter of ``ports.CredentialsVault``: the shared credential functions of
``keybuzz_shared.amazon`` on the service's Vault client. (LWA's adapter is
``keybuzz_shared.amazon.LwaClient`` itself: its ``exchange_code`` is the port.)"""

from __future__ import annotations

from keybuzz_shared.amazon import (
    AppCredentials,
    TenantCredentials,
    check_tenant_credentials,
    delete_tenant_credentials,
    load_app_credentials,
    store_tenant_credentials,
)
from keybuzz_shared.vault import VaultClient


class VaultCredentials:
    """``ports.CredentialsVault`` on OpenBao; ``app_source`` names the LWA app's secret."""

    def __init__(self, vault: VaultClient, app_source: str) -> None:
        self.vault = vault
        self.app_source = app_source

    async def app_credentials(self) -> AppCredentials:
        return await load_app_credentials(self.vault, self.app_source)

    async def store(self, credentials: TenantCredentials) -> str:
        return await store_tenant_credentials(self.vault, credentials)

    async def check(self, tenant_id: str) -> TenantCredentials:
        return await check_tenant_credentials(self.vault, tenant_id)

    async def delete(self, tenant_id: str) -> None:
        await delete_tenant_credentials(self.vault, tenant_id)
