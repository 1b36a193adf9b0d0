"""A marketplace's consent by OAuth 2's authorization code grant, the parts of the seam's
``RedirectFlow`` every such marketplace has alike, declared by the connector: its sites
(``ConsentSites``), our app and a seller's consent as Vault keeps them (``ConsentApp``,
``ConsentAccount``, ``ConsentVault`` at ``ConsentEntries``), the app's secret kept once for every seller's shop
session (``AppKeptOnceIn``, the seam's ``AppKeptOnce``), and the code traded for the
seller's refresh token at the token endpoint, the app's id and secret as HTTP Basic, then
the account it was granted for asked with the access token just given (``CodeGrant``).
What is the marketplace's stays the connector's: its consent page, its sites, its paths
in Vault, how it names a seller's account."""

from __future__ import annotations

import base64
import logging
import ssl
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
from cachetools import TTLCache
from keybuzz_shared.connectors.kit import ApiSpec, CallErrors, HeaderAuth, Refusals, Requester
from keybuzz_shared.connectors.seam import (
    AccountCredentials,
    AccountCredentialsMissing,
    AppNotConfigured,
    CredentialsRefused,
    GrantInvalid,
    GrantRefused,
    MarketplaceUnavailable,
    RedirectApp,
    RedirectFlowSettings,
    TokenEndpointUnavailable,
)
from keybuzz_shared.connectors.shop_sessions import token_path
from keybuzz_shared.vault import VaultClient, VaultError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsentSite:
    """The seam's ``ConsentSite``, with the language its consent page is shown in."""

    code: str
    id: str
    locale: str
    region: str = "GLOBAL"


class ConsentSites:
    """The sites a seller may consent from: country code -> (site id, locale)."""

    def __init__(self, label: str, sites: Mapping[str, tuple[str, str]]) -> None:
        self.label, self.sites = label, sites

    def site(self, code: str) -> ConsentSite:
        """The site of a country code or a site id, in any case; ValueError when unknown."""
        upper = code.strip().upper()
        for short, (site_id, locale) in self.sites.items():
            if upper in (short, site_id):
                return ConsentSite(short, site_id, locale)
        raise ValueError(f"{self.label} has no site {code!r} ({', '.join(self.sites)})")

    def locale(self, code: str, default: str) -> str:
        return self.sites.get(code, ("", default))[1]


@dataclass(frozen=True)
class ConsentApp:
    """Our app at the marketplace (the seam's ``RedirectApp``): its client id and secret,
    what the consent page and the code exchange are sent as ``redirect_uri``
    (``redirect_name``: the name the marketplace registered the redirect under, where it
    names it) and our callback behind it."""

    application_id: str
    client_secret: str = field(repr=False)
    redirect_name: str
    redirect_uri: str
    source: str
    draft: bool = False


@dataclass(frozen=True)
class ConsentAccount:
    """A seller's consent (the seam's ``AccountCredentials``)."""

    tenant_id: str
    refresh_token: str = field(repr=False)
    seller_id: str  # the marketplace's id of the seller's account
    marketplace_id: str
    region: str
    created_at: str


@dataclass(frozen=True)
class Granted:
    """The seam's ``AccountGrant``: a consent's refresh token and whose account it is."""

    refresh_token: str | None = field(repr=False)
    account_id: str


def consent_app(app: RedirectApp, label: str) -> ConsentApp:
    if not isinstance(app, ConsentApp):
        raise TypeError(f"{label}'s consent needs a ConsentApp, not {type(app)!r}")
    return app


def authorize_url(origin: str, app: RedirectApp, label: str, **params: str) -> str:
    """``<origin>/oauth2/authorize``, asking for a code sent back to the app's
    ``redirect_name``, with ``params`` (scope, state, ...)."""
    ask = {
        "client_id": app.application_id,
        "response_type": "code",
        "redirect_uri": consent_app(app, label).redirect_name,
        **params,
    }
    return f"{origin.rstrip('/')}/oauth2/authorize?{urlencode(ask)}"


class AppEntries:
    """The app entries (client id and secret) shop sessions read, a copy per Vault client
    (one whose policy cannot read a path never sees what another read there), each used
    ``max_age`` seconds at most, an entry missing too: a rotated or new secret is taken
    within it, at once after the marketplace refused the app (``refused``)."""

    def __init__(self, label: str, max_age: float) -> None:
        self.label, self.max_age = label, max_age
        self._copies: weakref.WeakKeyDictionary[VaultClient, TTLCache[str, dict[str, str]]]
        self._copies = weakref.WeakKeyDictionary()

    async def read(self, vault: VaultClient, path: str) -> dict[str, str]:
        copies = self._copies.get(vault)
        if copies is None:
            copies = self._copies[vault] = TTLCache(maxsize=64, ttl=self.max_age)
        if (kept := copies.get(path)) is not None:
            return kept
        data = await vault.read(path) or {}
        read = {
            k: v
            for k, v in data.items()
            if k in ("client_id", "client_secret") and isinstance(v, str)
        }
        # Kept missing too (a seller's entry holding its own secret, no default app kept):
        # else each poll of such a shop asks Vault again; one written since is taken within
        # ``max_age``, as a rotated secret is.
        copies[path] = read
        return read

    def forget(self) -> None:
        for copies in list(self._copies.values()):
            copies.clear()

    def refused(self, response: httpx.Response, document: Any) -> Refusals.Held | None:
        """The marketplace refused our app's id and secret (``invalid_client``, RFC 6749),
        not the seller's consent: the shop is held, never asked to reconnect, and the app's
        entry read again at its next session (its secret may have been rotated since)."""
        if not isinstance(document, dict) or document.get("error") != "invalid_client":
            return None
        log.error(
            "%s refused the app's credentials (invalid_client): the app's entry is read again",
            self.label,
        )
        self.forget()
        return Refusals.Held(
            self.max_age, f"{self.label} refused the app's credentials (invalid_client)"
        )


class AppKeptOnceIn:
    """The seam's ``AppKeptOnce`` on ``entries``: the seller's entry with the secret of the
    app it names (``app_source``, its entry at ``app_path(source)``). An entry holding an
    app secret of its own (and no ``app_source``) takes the default app's when it is the
    same app, its own otherwise: nothing needs rewriting."""

    def __init__(self, entries: AppEntries, app_path: Callable[[str], str]) -> None:
        self.entries, self.app_path = entries, app_path

    async def shop_credentials(
        self, vault: VaultClient, stored: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        source = stored.get("app_source")
        if not isinstance(source, str) or not source:
            try:
                app = await self.entries.read(vault, self.app_path("default"))
            except VaultError:  # a policy without the app's entry: the entry's own secret
                return stored
            if app.get("client_secret") and app.get("client_id") == stored.get("client_id"):
                return {**stored, "client_secret": app["client_secret"]}
            return stored
        path, label = self.app_path(source), self.entries.label
        app = await self.entries.read(vault, path)
        if not app.get("client_id") or not app.get("client_secret"):
            raise MarketplaceUnavailable(f"{label}'s app is not in Vault at {path}")
        if app["client_id"] != stored.get("client_id"):
            raise CredentialsRefused(
                f"the seller consented to {label} app {stored.get('client_id')!r}, not the "
                f"one Vault keeps at {path}: the seller must connect {label} again"
            )
        return {**stored, "client_secret": app["client_secret"]}


@dataclass(frozen=True)
class ConsentEntries:
    """Where Vault keeps a marketplace's consents: our app's entry at ``app_root`` (its
    default source) or ``<app_root>/<source>``, its fields ``app_fields`` (client id,
    secret, redirect name, callback); each seller's under its tenant, named
    ``tenant_secret``, its account under ``account_field``; ``label``: the marketplace, as
    messages name it."""

    label: str
    app_root: str
    tenant_secret: str
    app_fields: tuple[str, str, str, str]
    account_field: str

    def app_path(self, source: str) -> str:
        return self.app_root if source == "default" else f"{self.app_root}/{source}"

    def tenant_path(self, tenant_id: str) -> str:
        return f"secret/keybuzz/tenants/{tenant_id}/{self.tenant_secret}"


class ConsentVault:
    """The seam's ``AccountVault`` on ``entries``: the app of ``app_source``, each seller's
    refresh token with its account and the id and source of the app it was issued to (a
    refresh token works with that app only), never the app's secret."""

    def __init__(self, vault: VaultClient, app_source: str, entries: ConsentEntries) -> None:
        self.vault, self.app_source, self.entries = vault, app_source, entries
        self.label, self.account_field = entries.label, entries.account_field
        self.app_path, self.tenant_path = entries.app_path, entries.tenant_path

    async def app_credentials(self) -> ConsentApp:
        path = self.app_path(self.app_source)
        data = await self.vault.read(path) or {}
        fields = self.entries.app_fields
        missing = [f for f in fields if not isinstance(data.get(f), str) or not data[f]]
        if missing:
            raise AppNotConfigured(f"{self.label}'s app at {path} lacks {', '.join(missing)}")
        client_id, secret, name, callback = (str(data[f]) for f in fields)
        return ConsentApp(client_id, secret, name, callback, self.app_source)

    async def store(self, credentials: AccountCredentials) -> str:
        app = await self.app_credentials()
        path = self.tenant_path(credentials.tenant_id)
        await self.vault.write(path, {
            self.account_field: credentials.seller_id, "refresh_token": credentials.refresh_token,
            "client_id": app.application_id, "app_source": self.app_source,
            "marketplace_id": credentials.marketplace_id, "created_at": credentials.created_at,
        })  # fmt: skip
        return path

    async def check(self, tenant_id: str) -> ConsentAccount:
        data = await self.vault.read(self.tenant_path(tenant_id)) or {}
        if not all(data.get(f) for f in (self.account_field, "refresh_token", "client_id")):
            raise AccountCredentialsMissing(f"no {self.label} consent of {tenant_id} in Vault")
        return ConsentAccount(tenant_id, str(data["refresh_token"]), str(data[self.account_field]),
                              str(data.get("marketplace_id", "")), "GLOBAL",
                              str(data.get("created_at", "")))  # fmt: skip

    async def delete(self, tenant_id: str) -> None:
        """The consent, and the token kept beside it for every process."""
        await self.vault.delete(self.tenant_path(tenant_id))
        await self.vault.delete(token_path(self.tenant_path(tenant_id)))


class _Refused(GrantRefused):
    def __init__(self, label: str, code: str, detail: str) -> None:
        super().__init__(f"{label} refused the grant ({code}): {detail}")
        self.code = code


class _Invalid(GrantInvalid, _Refused):
    pass


def token_endpoint_spec(label: str) -> ApiSpec:
    """The token endpoint's calls, their failures the seam's redirect flow's: an error code
    (RFC 6749) ``invalid_grant`` is GrantInvalid, another GrantRefused, an endpoint that
    does not answer TokenEndpointUnavailable."""

    def refusal(call: str, status: int, document: Any) -> Exception:
        error = document.get("error") if isinstance(document, dict) else None
        code = error if isinstance(error, str) else f"http_{status}"
        kind = _Invalid if code == "invalid_grant" else _Refused
        return kind(label, code, f"{call}: HTTP {status}")

    def unavailable(call: str, reason: str, *, retry_after: float | None = None) -> Exception:
        return TokenEndpointUnavailable(f"{label} ({call}) {reason}")

    errors = CallErrors(
        unavailable=unavailable, unreadable=unavailable, outcome_unknown=unavailable,
        refused=lambda call, status, detail: _Refused(label, f"http_{status}", detail),
        credentials_refused=lambda detail: _Refused(label, "invalid_client", detail),
    )  # fmt: skip
    return ApiSpec(label, log, errors, Refusals(error=refusal), max_response_bytes=64 << 10)


class _Tokens(msgspec.Struct):
    access_token: str
    refresh_token: str | None = None


class CodeGrant:
    """The seam's ``CodeExchange``: the code traded for tokens at the settings' token
    endpoint, our app's id and secret as HTTP Basic and its ``redirect_name`` as
    ``redirect_uri``, then ``account`` asked whose they are, on a requester at
    ``account_url`` that carries the access token just given."""

    def __init__(
        self,
        label: str,
        settings: RedirectFlowSettings,
        account_url: str,
        account: Callable[[Requester], Awaitable[str]],
    ) -> None:
        cacert = settings.token_cacert
        verify = ssl.create_default_context(cafile=cacert) if cacert else True
        self.http = httpx.AsyncClient(timeout=10.0, verify=verify)
        self.label, self.settings, self.spec = label, settings, token_endpoint_spec(label)
        self.account_url, self.account = account_url, account

    async def exchange_code(self, app: RedirectApp, code: str, redirect_uri: str) -> Granted:
        ours = consent_app(app, self.label)
        pair = base64.b64encode(f"{ours.application_id}:{ours.client_secret}".encode()).decode()
        endpoint = self.settings.token_endpoint
        token = Requester(self.spec, HeaderAuth({}), self.http, endpoint)
        form = urlencode({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": ours.redirect_name}).encode()  # fmt: skip
        basic = {"Authorization": f"Basic {pair}"}
        granted: _Tokens = await token.token(endpoint, form, shape=_Tokens, headers=basic)
        bearer = HeaderAuth(
            {"Authorization": f"Bearer {granted.access_token}"}, secrets=(granted.access_token,)
        )
        account = await self.account(Requester(self.spec, bearer, self.http, self.account_url))
        return Granted(granted.refresh_token, account)

    async def aclose(self) -> None:
        await self.http.aclose()
