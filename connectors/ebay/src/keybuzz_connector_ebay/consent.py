"""eBay's consent as the seam's ``RedirectFlow`` (docs/EBAY.md, "Connecting"), on the kit's
authorization code grant (``kit.consent``): the seller consents on eBay's sign-in page
(OAuth 2 authorization code grant [official]), eBay sends the browser back with ``code``
and ``state`` only, the code is traded at the token endpoint (the app's id and secret as
HTTP Basic, the app's RuName as ``redirect_uri`` [official]) and the account it was
granted for asked of the Identity API (``userId`` [official]). Vault keeps the app's id
and secret once (``APP_PATH``), and each seller's refresh token with the id and source of
the app it was issued to (a refresh token works with that app only [official]): a shop's
session takes the app's secret from the app's entry (``shop_credentials``), so rotating
it rewrites one entry."""

from __future__ import annotations

import re

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.connectors.kit.consent import (
    AppEntries,
    AppKeptOnceIn,
    CodeGrant,
    ConsentAccount,
    ConsentSite,
    ConsentSites,
    ConsentVault,
    authorize_url,
)
from keybuzz_shared.vault import VaultClient

from keybuzz_connector_ebay.settings import SCOPES, EbayFlowSettings

NAME = "eBay"
APP_PATH = "secret/keybuzz/ebay/app"
TENANT_SECRET = "ebay_api"  # under secret/keybuzz/tenants/<tenant>/
# An app's entry: its client id and secret, its RuName (what eBay calls the redirect it
# registered, sent as ``redirect_uri``) and our callback behind it.
APP_FIELDS = ("client_id", "client_secret", "ru_name", "redirect_uri")
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
_USER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def tenant_path(tenant_id: str) -> str:
    return f"secret/keybuzz/tenants/{tenant_id}/{TENANT_SECRET}"


def app_path(source: str) -> str:
    return APP_PATH if source == "default" else f"{APP_PATH}/{source}"


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
        return authorize_url(origin or "https://auth.ebay.com", app, NAME, scope=" ".join(SCOPES),
                             state=state, locale=SITES.locale(site.code, "fr-FR"))  # fmt: skip

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
    """The seam's ``AccountVault``: the app at ``APP_PATH[/source]``, each seller's refresh
    token with the app's id and source at its tenant's path (never its secret)."""

    def __init__(self, vault: VaultClient, app_source: str) -> None:
        super().__init__(vault, app_source, label=NAME, app_path=app_path,
                         tenant_path=tenant_path, app_fields=APP_FIELDS, account_field="user_id")  # fmt: skip
