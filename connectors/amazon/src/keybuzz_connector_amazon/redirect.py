"""Login with Amazon's website authorization workflow, as the seam's ``RedirectFlow``
(docs/ARCHITECTURE.md, "Amazon facts"): the Seller Central consent URL of a marketplace,
the ``selling_partner_id`` of the callback, the ``spapi_oauth_code`` exchanged at LWA, and
the refresh token kept in Vault (``credentials.py``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from keybuzz_shared.connectors.seam import (
    AccountCredentials,
    CallbackNames,
    ConsentSite,
    RedirectApp,
    RedirectFlowSettings,
)
from keybuzz_shared.vault import VaultClient

from keybuzz_connector_amazon.credentials import (
    APP,
    AppCredentials,
    TenantCredentials,
    check_tenant_credentials,
    delete_tenant_credentials,
    store_tenant_credentials,
)
from keybuzz_connector_amazon.lwa import LwaClient
from keybuzz_connector_amazon.marketplaces import Marketplace, marketplace

CONSENT_PATH = "/apps/authorize/consent"
# A selling partner id: Amazon's merchant token ("A1B2C3D4E5F6G7").
_SELLER_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


class AmazonRedirectFlow:
    callback_names = CallbackNames(account_id="selling_partner_id", code="spapi_oauth_code")

    def site(self, code: str) -> Marketplace:
        """UnknownMarketplace (a ValueError) for a code Amazon does not have."""
        return marketplace(code)

    def consent_url(
        self,
        app: RedirectApp,
        site: ConsentSite,
        *,
        state: str,
        redirect_uri: str,
        origin: str | None = None,
        draft: bool | None = None,
    ) -> str:
        """``https://sellercentral.amazon.<tld>/apps/authorize/consent?application_id=…``.

        ``origin`` replaces the marketplace's Seller Central origin (the sandbox);
        ``draft`` overrides the app credential's flag. A draft app needs
        ``version=beta`` or Amazon shows error MD1000.
        """
        seller_central = origin or marketplace(site.id).seller_central_url
        params = {
            "application_id": app.application_id,
            "state": state,
            "redirect_uri": redirect_uri,
        }
        if app.draft if draft is None else draft:
            params["version"] = "beta"
        return f"{seller_central.rstrip('/')}{CONSENT_PATH}?{urlencode(params)}"

    def is_account_id(self, value: str) -> bool:
        return bool(_SELLER_ID.match(value))

    def credentials(self, **consent: Any) -> TenantCredentials:
        return TenantCredentials.consented(**consent)

    def vault(self, vault: VaultClient, app_source: str) -> AmazonAccountVault:
        return AmazonAccountVault(vault, app_source)

    def code_exchange(self, settings: RedirectFlowSettings) -> LwaClient:
        return LwaClient(settings.token_endpoint, cacert=settings.token_cacert)


class AmazonAccountVault:
    """The seam's ``AccountVault`` on the shared credential functions; ``app_source`` names
    the LWA app's secret."""

    def __init__(self, vault: VaultClient, app_source: str) -> None:
        self.vault = vault
        self.app_source = app_source

    async def app_credentials(self) -> AppCredentials:
        return await APP.read(self.vault, self.app_source)

    async def store(self, credentials: AccountCredentials) -> str:
        return await store_tenant_credentials(self.vault, _tenant_credentials(credentials))

    async def check(self, tenant_id: str) -> TenantCredentials:
        return await check_tenant_credentials(self.vault, tenant_id)

    async def delete(self, tenant_id: str) -> None:
        await delete_tenant_credentials(self.vault, tenant_id)


def _tenant_credentials(credentials: AccountCredentials) -> TenantCredentials:
    """What ``AmazonRedirectFlow.credentials`` made: the only credentials Amazon's Vault
    paths keep."""
    if not isinstance(credentials, TenantCredentials):
        raise TypeError(f"Amazon's Vault keeps TenantCredentials, not {type(credentials)!r}")
    return credentials
