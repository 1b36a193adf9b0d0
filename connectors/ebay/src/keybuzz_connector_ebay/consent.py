"""eBay's consent as the seam's ``RedirectFlow`` (docs/EBAY.md, "Connecting"), on the kit's
authorization code grant (``code_grant``): the seller consents on eBay's sign-in page
(OAuth 2 authorization code grant [official]), eBay sends the browser back with ``code``
and ``state`` only, the code is traded at the token endpoint (the app's id and secret as
HTTP Basic, the app's RuName as ``redirect_uri`` [official]) and the account it was
granted for asked of the Identity API (``userId`` [official]). Vault keeps the app's id
and secret once (``ENTRIES``), and each seller's refresh token with the id and source of
the app it was issued to (a refresh token works with that app only [official]): a shop's
session takes the app's secret from the app's entry (``shop_credentials``), so rotating
it rewrites one entry."""

from __future__ import annotations

import re

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.vault import VaultClient

from keybuzz_connector_ebay.code_grant import (
    AppEntries,
    AppKeptOnceIn,
    CodeGrant,
    ConsentAccount,
    ConsentEntries,
    ConsentSite,
    ConsentSites,
    ConsentVault,
    authorize_url,
)
from keybuzz_connector_ebay.settings import SCOPES, EbayFlowSettings

NAME = "eBay"
# Our app's entry (``secret/keybuzz/ebay/app``, another source's under it): its client id
# and secret, its RuName (what eBay calls the redirect it registered, sent as
# ``redirect_uri``) and our callback behind it; a seller's at ``ebay_api`` under its tenant.
ENTRIES = ConsentEntries(
    NAME,
    app_root="secret/keybuzz/ebay/app",
    tenant_secret="ebay_api",
    app_fields=("client_id", "client_secret", "ru_name", "redirect_uri"),
    account_field="user_id",
)
app_path, tenant_path = ENTRIES.app_path, ENTRIES.tenant_path
# How long a shop session's copy of the app's entry is used before Vault is read again (a
# rotated secret is taken within it; at once after eBay refused the app, ``app_refused``).
APP_MAX_AGE_SECONDS = 60.0
# eBay's sites a seller may consent from [official: marketplace ids]: one account sells on
# every one of them, its tokens good on all (one region).
SITES = ConsentSites(NAME, {
    "FR": ("EBAY_FR", "fr-FR"), "DE": ("EBAY_DE", "de-DE"), "GB": ("EBAY_GB", "en-GB"),
    "IT": ("EBAY_IT", "it-IT"), "ES": ("EBAY_ES", "es-ES"), "NL": ("EBAY_NL", "nl-NL"),
    "AT": ("EBAY_AT", "de-AT"), "BE": ("EBAY_FRBE", "fr-BE"), "US": ("EBAY_US", "en-US"),
})  # fmt: skip
SCOPE = " ".join(SCOPES)
_USER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_APPS = AppEntries(NAME, APP_MAX_AGE_SECONDS)
# eBay refused our app's id and secret (``invalid_client`` [official]): held, read again.
app_refused = _APPS.refused


class _User(msgspec.Struct, rename="camel"):
    user_id: str


async def user_id(identity: kit.Requester) -> str:
    """The account a token was granted for: the Identity API's ``getUser``."""
    user: _User = await identity.request("GET", "user/", name="getUser", shape=_User)
    return user.user_id


class EbayRedirectFlow(AppKeptOnceIn):
    callback_names = seam.CallbackNames(account_id=None, code="code")

    def __init__(self) -> None:
        super().__init__(_APPS, app_path)

    def site(self, code: str) -> ConsentSite:
        return SITES.site(code)

    def consent_url(
        self,
        app: seam.RedirectApp,
        site: seam.ConsentSite,
        *,
        state: str,
        redirect_uri: str,
        origin: str | None = None,
        draft: bool | None = None,
    ) -> str:
        """eBay's sign-in page; ``redirect_uri`` is the app's RuName there [official]."""
        origin, locale = origin or "https://auth.ebay.com", SITES.locale(site.code, "fr-FR")
        return authorize_url(origin, app, NAME, scope=SCOPE, state=state, locale=locale)

    def is_account_id(self, value: str) -> bool:
        return bool(_USER_ID.fullmatch(value))

    def credentials(self, *, tenant_id: str, refresh_token: str, account_id: str,
                    site: seam.ConsentSite, created_at: str) -> ConsentAccount:  # fmt: skip
        return ConsentAccount(
            tenant_id, refresh_token, account_id, site.id, site.region, created_at
        )

    def vault(self, vault: VaultClient, app_source: str) -> ConsentVault:
        return EbayVault(vault, app_source)

    def code_exchange(self, settings: seam.RedirectFlowSettings) -> CodeGrant:
        if not isinstance(settings, EbayFlowSettings):
            raise TypeError(f"eBay's code exchange needs EbayFlowSettings, not {type(settings)!r}")
        return CodeGrant(NAME, settings, f"{settings.identity_url}/commerce/identity/v1/", user_id)


class EbayVault(ConsentVault):
    """The seam's ``AccountVault`` at eBay's ``ENTRIES``."""

    def __init__(self, vault: VaultClient, app_source: str) -> None:
        super().__init__(vault, app_source, ENTRIES)
