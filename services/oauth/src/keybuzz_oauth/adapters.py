"""The adapters of oauth's ports outside its database: ``VaultCredentials``
(``ports.CredentialsVault``: the shared credential functions of ``keybuzz_shared.connectors.amazon``
on the service's Vault client, and the shops' secrets beside them) and ``FnacShops``
(``ports.ShopCredentialsVerifier``: the shared Fnac client's ``auth``). LWA's adapter is
``keybuzz_shared.connectors.amazon.LwaClient`` itself: its ``exchange_code`` is the port."""

from __future__ import annotations

import httpx
from keybuzz_shared.connectors.amazon import (
    AppCredentials,
    TenantCredentials,
    check_tenant_credentials,
    delete_tenant_credentials,
    load_app_credentials,
    store_tenant_credentials,
)
from keybuzz_shared.connectors.fnac.client import FnacClient, FnacCredentials
from keybuzz_shared.connectors.fnac.errors import (
    FnacCredentialsRefused,
    FnacProtocolError,
    FnacRequestRefused,
    FnacUnavailable,
)
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.vault import VaultClient

from keybuzz_oauth.connections import ShopCredentials
from keybuzz_oauth.ports import ShopAnswerUnreadable, ShopRefused, ShopUnavailable

SHOP_FIELDS = ("partner_id", "shop_id", "key")
FNAC_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


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

    async def store_shop(self, credentials: ShopCredentials) -> None:
        path = connector_for(credentials.marketplace).credentials_path(credentials.tenant_id)
        secret = {name: getattr(credentials, name) for name in SHOP_FIELDS}
        await self.vault.write(path, {**secret, "created_at": credentials.created_at})

    async def read_shop(self, tenant_id: str, marketplace: str) -> ShopCredentials | None:
        data = await self.vault.read(connector_for(marketplace).credentials_path(tenant_id))
        if not data or not all(str(data.get(name) or "").strip() for name in SHOP_FIELDS):
            return None
        return ShopCredentials(
            tenant_id=tenant_id,
            marketplace=marketplace,
            **{name: str(data[name]) for name in SHOP_FIELDS},
            created_at=str(data.get("created_at") or ""),
        )

    async def delete_shop(self, tenant_id: str, marketplace: str) -> None:
        await self.vault.delete(connector_for(marketplace).credentials_path(tenant_id))


class FnacShops:
    """``ports.ShopCredentialsVerifier`` on Fnac's seller API, which serves Darty's shops
    too: one ``auth`` call with the shop's credentials (TLS verified, the client's retries)."""

    def __init__(self, base_url: str, http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url
        self.http = http or httpx.AsyncClient(timeout=FNAC_TIMEOUT)

    async def verify(self, credentials: ShopCredentials) -> None:
        shop = FnacCredentials(
            partner_id=credentials.partner_id, shop_id=credentials.shop_id, key=credentials.key
        )
        try:
            # A person waits for the answer: one retry, a short back-off; a longer
            # Retry-After from Fnac is passed on to the caller rather than waited for here.
            client = FnacClient(
                self.http, self.base_url, shop, attempts=2, max_backoff=2.0, max_retry_after=5.0
            )
            await client.authenticate()
        except FnacCredentialsRefused as exc:
            raise ShopRefused(str(exc)) from None
        except FnacUnavailable as exc:
            raise ShopUnavailable(str(exc), exc.retry_after) from None
        except (FnacProtocolError, FnacRequestRefused) as exc:
            raise ShopAnswerUnreadable(str(exc)) from None

    async def aclose(self) -> None:
        await self.http.aclose()
