"""eBay's consent as the seam's ``RedirectFlow`` (docs/EBAY.md, "Connecting"): the seller
consents on eBay's sign-in page (OAuth 2 authorization code grant [official]), eBay sends
the browser back with ``code`` and ``state`` only, the code is traded at the token endpoint
(the app's id and secret as HTTP Basic, the app's RuName as ``redirect_uri`` [official])
and the account it was granted for asked of the Identity API (``userId`` [official]).
Vault keeps the app's id and secret once (``APP_PATH``), and each seller's refresh token
with the id and source of the app it was issued to (a refresh token works with that app
only [official]): a shop's session takes the app's secret from the app's entry
(``shop_credentials``), so rotating it rewrites one entry."""

from __future__ import annotations

import base64
import logging
import re
import ssl
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
from cachetools import TTLCache
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.connectors.shop_sessions import token_path
from keybuzz_shared.vault import VaultClient, VaultError

from keybuzz_connector_ebay.settings import SCOPES, EbayFlowSettings

log = logging.getLogger(__name__)
APP_PATH = "secret/keybuzz/ebay/app"
TENANT_SECRET = "ebay_api"  # under secret/keybuzz/tenants/<tenant>/
APP_FIELDS = ("client_id", "client_secret", "ru_name", "redirect_uri")
# How long a shop session's copy of the app's entry is used before Vault is read again (a
# rotated secret is taken within it; at once after eBay refused the app, ``app_refused``).
APP_MAX_AGE_SECONDS = 60.0
# eBay's sites a seller may consent from [official: marketplace ids]: one account sells on
# every one of them, its tokens good on all (one region).
SITES = {
    "FR": ("EBAY_FR", "fr-FR"), "DE": ("EBAY_DE", "de-DE"), "GB": ("EBAY_GB", "en-GB"),
    "IT": ("EBAY_IT", "it-IT"), "ES": ("EBAY_ES", "es-ES"), "NL": ("EBAY_NL", "nl-NL"),
    "AT": ("EBAY_AT", "de-AT"), "BE": ("EBAY_FRBE", "fr-BE"), "US": ("EBAY_US", "en-US"),
}  # fmt: skip
_USER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True)
class EbaySite:
    code: str
    id: str
    locale: str
    region: str = "GLOBAL"


@dataclass(frozen=True)
class EbayApp:
    """Our app at eBay: its client id and secret, its RuName (what eBay calls the
    redirect it registered, sent as ``redirect_uri``) and our callback behind it."""

    application_id: str
    client_secret: str = field(repr=False)
    ru_name: str
    redirect_uri: str
    source: str
    draft: bool = False


@dataclass(frozen=True)
class EbayAccount:
    tenant_id: str
    refresh_token: str = field(repr=False)
    seller_id: str  # eBay's immutable userId
    marketplace_id: str
    region: str
    created_at: str


@dataclass(frozen=True)
class EbayGrant:
    """The seam's ``AccountGrant``: a consent's refresh token and the account's userId."""

    refresh_token: str | None = field(repr=False)
    account_id: str


class _Tokens(msgspec.Struct):
    access_token: str
    refresh_token: str | None = None


class _User(msgspec.Struct, rename="camel"):
    user_id: str


class EbayRedirectFlow:
    callback_names = seam.CallbackNames(account_id=None, code="code")

    def site(self, code: str) -> EbaySite:
        upper = code.strip().upper()
        for short, (site_id, locale) in SITES.items():
            if upper in (short, site_id):
                return EbaySite(short, site_id, locale)
        raise ValueError(f"eBay has no site {code!r} ({', '.join(SITES)})")

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
        params = {"client_id": app.application_id, "response_type": "code",
                  "redirect_uri": _app(app).ru_name, "scope": " ".join(SCOPES), "state": state,
                  "locale": SITES.get(site.code, ("", "fr-FR"))[1]}  # fmt: skip
        return f"{(origin or 'https://auth.ebay.com').rstrip('/')}/oauth2/authorize?{urlencode(params)}"

    def is_account_id(self, value: str) -> bool:
        return bool(_USER_ID.fullmatch(value))

    def credentials(self, *, tenant_id: str, refresh_token: str, account_id: str,
                    site: seam.ConsentSite, created_at: str) -> EbayAccount:  # fmt: skip
        return EbayAccount(tenant_id, refresh_token, account_id, site.id, site.region, created_at)

    def vault(self, vault: VaultClient, app_source: str) -> EbayVault:
        return EbayVault(vault, app_source)

    async def shop_credentials(
        self, vault: VaultClient, stored: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The seam's ``AppKeptOnce``: the seller's entry with the secret of the app it
        names (``app_source``). An entry holding an app secret of its own (and no
        ``app_source``) takes the default app's when it is the same app, its own
        otherwise: nothing needs rewriting."""
        source = stored.get("app_source")
        if not isinstance(source, str) or not source:
            return await _with_own_secret(vault, stored)
        path = app_path(source)
        app = await _APPS.read(vault, path)
        if not app.get("client_id") or not app.get("client_secret"):
            raise seam.MarketplaceUnavailable(f"eBay's app is not in Vault at {path}")
        if app["client_id"] != stored.get("client_id"):
            raise seam.CredentialsRefused(
                f"the seller consented to eBay app {stored.get('client_id')!r}, not the one "
                f"Vault keeps at {path}: the seller must connect eBay again"
            )
        return {**stored, "client_secret": app["client_secret"]}

    def code_exchange(self, settings: seam.RedirectFlowSettings) -> EbayCodeExchange:
        if not isinstance(settings, EbayFlowSettings):
            raise TypeError(f"eBay's code exchange needs EbayFlowSettings, not {type(settings)!r}")
        return EbayCodeExchange(settings)


def _app(app: seam.RedirectApp) -> EbayApp:
    if not isinstance(app, EbayApp):
        raise TypeError(f"eBay's consent needs an EbayApp, not {type(app)!r}")
    return app


def tenant_path(tenant_id: str) -> str:
    return f"secret/keybuzz/tenants/{tenant_id}/{TENANT_SECRET}"


def app_path(source: str) -> str:
    return APP_PATH if source == "default" else f"{APP_PATH}/{source}"


class _AppEntries:
    """The app entries shop sessions read, a copy per Vault client (one whose policy
    cannot read a path never sees what another read there), each used
    ``APP_MAX_AGE_SECONDS`` at most."""

    def __init__(self) -> None:
        self._copies: weakref.WeakKeyDictionary[VaultClient, TTLCache[str, dict[str, str]]]
        self._copies = weakref.WeakKeyDictionary()

    async def read(self, vault: VaultClient, path: str) -> dict[str, str]:
        copies = self._copies.get(vault)
        if copies is None:
            copies = self._copies[vault] = TTLCache(maxsize=64, ttl=APP_MAX_AGE_SECONDS)
        if (kept := copies.get(path)) is not None:
            return kept
        data = await vault.read(path) or {}
        read = {
            k: v
            for k, v in data.items()
            if k in ("client_id", "client_secret") and isinstance(v, str)
        }
        if read.get("client_id") and read.get("client_secret"):  # an app missing: asked again
            copies[path] = read
        return read

    def forget(self) -> None:
        for copies in list(self._copies.values()):
            copies.clear()


_APPS = _AppEntries()


async def _with_own_secret(vault: VaultClient, stored: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        app = await _APPS.read(vault, APP_PATH)
    except VaultError:  # a policy without the app's entry: the entry's own secret
        return stored
    if app.get("client_secret") and app.get("client_id") == stored.get("client_id"):
        return {**stored, "client_secret": app["client_secret"]}
    return stored


def app_refused(response: httpx.Response, document: Any) -> kit.Held | None:
    """eBay refused our app's id and secret (``invalid_client`` [official]), not the
    seller's consent: the shop is held, never asked to reconnect, and the app's entry read
    again at its next session (its secret may have been rotated since it was read)."""
    if not isinstance(document, dict) or document.get("error") != "invalid_client":
        return None
    log.error("eBay refused the app's credentials (invalid_client): the app's entry is read again")
    _APPS.forget()
    return kit.Held(APP_MAX_AGE_SECONDS, "eBay refused the app's credentials (invalid_client)")


class EbayVault:
    """The seam's ``AccountVault``: the app at ``APP_PATH[/source]``, each seller's
    refresh token with the app's id and source at its tenant's path (never its secret)."""

    def __init__(self, vault: VaultClient, app_source: str) -> None:
        self.vault, self.app_source = vault, app_source

    async def app_credentials(self) -> EbayApp:
        path = app_path(self.app_source)
        data = await self.vault.read(path) or {}
        missing = [f for f in APP_FIELDS if not isinstance(data.get(f), str) or not data[f]]
        if missing:
            raise seam.AppNotConfigured(f"eBay's app at {path} lacks {', '.join(missing)}")
        return EbayApp(data["client_id"], data["client_secret"], data["ru_name"],
                       data["redirect_uri"], self.app_source)  # fmt: skip

    async def store(self, credentials: seam.AccountCredentials) -> str:
        app = await self.app_credentials()
        path = tenant_path(credentials.tenant_id)
        await self.vault.write(path, {
            "user_id": credentials.seller_id, "refresh_token": credentials.refresh_token,
            "client_id": app.application_id, "app_source": self.app_source,
            "marketplace_id": credentials.marketplace_id, "created_at": credentials.created_at,
        })  # fmt: skip
        return path

    async def check(self, tenant_id: str) -> EbayAccount:
        data = await self.vault.read(tenant_path(tenant_id)) or {}
        if not all(data.get(f) for f in ("user_id", "refresh_token", "client_id")):
            raise seam.AccountCredentialsMissing(f"no eBay consent of {tenant_id} in Vault")
        return EbayAccount(tenant_id, str(data["refresh_token"]), str(data["user_id"]),
                           str(data.get("marketplace_id", "")), "GLOBAL",
                           str(data.get("created_at", "")))  # fmt: skip

    async def delete(self, tenant_id: str) -> None:
        """The consent, and the user token kept beside it for every process."""
        await self.vault.delete(tenant_path(tenant_id))
        await self.vault.delete(token_path(tenant_path(tenant_id)))


class _Refused(seam.GrantRefused):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"eBay refused the grant ({code}): {detail}")
        self.code = code


class _Invalid(seam.GrantInvalid, _Refused):
    pass


def _refusal(call: str, status: int, document: Any) -> Exception:
    error = document.get("error") if isinstance(document, dict) else None
    code = error if isinstance(error, str) else f"http_{status}"
    kind = _Invalid if code == "invalid_grant" else _Refused
    return kind(code, f"{call}: HTTP {status}")


def _unavailable(call: str, reason: str, *, retry_after: float | None = None) -> Exception:
    return seam.TokenEndpointUnavailable(f"eBay ({call}) {reason}")


_ERRORS = kit.CallErrors(
    unavailable=_unavailable, unreadable=_unavailable, outcome_unknown=_unavailable,
    refused=lambda call, status, detail: _Refused(f"http_{status}", detail),
    credentials_refused=lambda detail: _Refused("invalid_client", detail),
)  # fmt: skip
_SPEC = kit.ApiSpec("eBay", log, _ERRORS, kit.Refusals(error=_refusal), max_response_bytes=64 << 10)


class EbayCodeExchange:
    """The seam's ``CodeExchange``: the code traded for tokens, then the Identity API
    asked whose they are, with the access token just given."""

    def __init__(self, settings: EbayFlowSettings) -> None:
        cacert = settings.token_cacert
        verify = ssl.create_default_context(cafile=cacert) if cacert else True
        self.http = httpx.AsyncClient(timeout=10.0, verify=verify)
        self.settings = settings

    async def exchange_code(self, app: seam.RedirectApp, code: str, redirect_uri: str) -> EbayGrant:
        ebay = _app(app)
        pair = base64.b64encode(f"{ebay.application_id}:{ebay.client_secret}".encode()).decode()
        token = kit.Requester(_SPEC, kit.HeaderAuth({}), self.http, self.settings.token_endpoint)
        form = urlencode({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": ebay.ru_name}).encode()  # fmt: skip
        granted: _Tokens = await token.token(
            self.settings.token_endpoint,
            form,
            shape=_Tokens,
            headers={"Authorization": f"Basic {pair}"},
        )
        bearer = {"Authorization": f"Bearer {granted.access_token}"}
        identity = kit.Requester(_SPEC, kit.HeaderAuth(bearer, secrets=(granted.access_token,)),
                                 self.http, f"{self.settings.identity_url}/commerce/identity/v1/")  # fmt: skip
        user: _User = await identity.request("GET", "user/", name="getUser", shape=_User)
        return EbayGrant(granted.refresh_token, user.user_id)

    async def aclose(self) -> None:
        await self.http.aclose()
