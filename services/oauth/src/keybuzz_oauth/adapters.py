"""The adapters of oauth's ports outside its database: ``VaultCredentials``
(``ports.CredentialsVault``: the shops' credentials typed in, at their connectors' paths;
a redirect flow's secrets are its connector's ``AccountVault``) and ``ShopVerifier``
(``ports.ShopCredentialsVerifier``: the connector's ``credential_check`` on the shops'
API). The code exchange's adapter is the connector's own (``redirect_flow.code_exchange``)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.addresses import data_client
from keybuzz_shared.connectors.credential_form import stored
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    ConnectorError,
    CredentialsRefused,
    InstanceIdentity,
    MarketplaceUnavailable,
    ShopApiSettings,
)
from keybuzz_shared.connectors.shop_sessions import delete_entry
from keybuzz_shared.vault import VaultClient

from keybuzz_oauth.connections import ShopCredentials
from keybuzz_oauth.ports import ShopAnswerUnreadable, ShopRefused, ShopUnavailable

SHOP_API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class VaultCredentials:
    """``ports.CredentialsVault`` on OpenBao."""

    def __init__(self, vault: VaultClient) -> None:
        self.vault = vault

    async def store_shop(self, credentials: ShopCredentials) -> None:
        path = connector_for(credentials.marketplace).credentials_path(credentials.tenant_id)
        await self.vault.write(path, {**credentials.fields, "created_at": credentials.created_at})

    async def read_shop(self, tenant_id: str, marketplace: str) -> ShopCredentials | None:
        connector = connector_for(marketplace)
        data = await self.vault.read(connector.credentials_path(tenant_id))
        fields = stored(connector.credential_fields, data or {})
        if not fields:
            return None
        created_at = str((data or {}).get("created_at") or "")
        return ShopCredentials(tenant_id, marketplace, fields, created_at)

    async def delete_shop(self, tenant_id: str, marketplace: str) -> None:
        await delete_entry(self.vault, connector_for(marketplace).credentials_path(tenant_id))


class ShopVerifier:
    """``ports.ShopCredentialsVerifier``: the shop's connector checks the credentials on its
    API as ``apis[marketplace]`` (its connector's settings, handed on unread) describes it
    (TLS verified; its addresses, a catalogue's among them, checked as they are called:
    none inside our network unless ``inside_allowed``)."""

    def __init__(
        self,
        apis: Mapping[str, ShopApiSettings],
        http: httpx.AsyncClient | None = None,
        *,
        inside_allowed: bool = False,
    ) -> None:
        self.apis = apis  # asked at each check: a marketplace added meanwhile included
        self.http = http or data_client(SHOP_API_TIMEOUT, inside_allowed=inside_allowed)

    async def verify(self, credentials: ShopCredentials) -> str:
        check = connector_for(credentials.marketplace).credential_check
        settings = self.apis.get(credentials.marketplace)
        if check is None or settings is None:
            raise ShopAnswerUnreadable(f"{credentials.marketplace} shops are not checked here")
        try:
            return await check.verify(credentials.fields, http=self.http, settings=settings)
        except CredentialsRefused as exc:
            raise ShopRefused(str(exc)) from None
        except MarketplaceUnavailable as exc:
            raise ShopUnavailable(str(exc), exc.retry_after) from None
        except ConnectorError as exc:
            raise ShopAnswerUnreadable(str(exc)) from None

    def identity_on(self, marketplace: str, account: str) -> str | None:
        settings = self.apis.get(marketplace)  # None: not served now
        check = None if settings is None else connector_for(marketplace).credential_check
        if settings is None or not isinstance(check, InstanceIdentity):
            return None
        return check.identity_on(settings, account)

    async def aclose(self) -> None:
        await self.http.aclose()
