"""A seller connects by consenting on the marketplace's site (used by oauth)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, Self, runtime_checkable

import msgspec

from keybuzz_shared.connectors.seam.errors import TokensMasked

if TYPE_CHECKING:
    from keybuzz_shared.vault import VaultClient


# The seller is sent to the marketplace's consent page; it sends the browser back with an
# authorization code and, where the marketplace says it there, the seller's account id; the
# code is exchanged for a refresh token (and, where the callback named no account, the
# account it was granted for), kept in Vault. oauth owns the generic part (state, browser
# binding, rows, events).


class RedirectFlowError(TokensMasked):
    """Base of a redirect flow's failures (the marketplace's own errors subclass these);
    messages never hold a secret nor a token-shaped part of what the marketplace said."""


class AppNotConfigured(RedirectFlowError):
    """Our app's credentials with the marketplace are not in Vault (or lack a field)."""


class AccountCredentialsMissing(RedirectFlowError):
    """A tenant's credentials are not in Vault (or lack a field)."""


class GrantRefused(RedirectFlowError):
    """The token endpoint refused the request; ``code`` is its error code."""

    code: str


class GrantInvalid(GrantRefused):
    """The authorization code (or refresh token) is revoked, already used or expired."""


class TokenEndpointUnavailable(RedirectFlowError):
    """The token endpoint kept failing transiently: the same request may work later."""


class ConsentSite(Protocol):
    """One site (a country) of the marketplace, where a seller consents."""

    @property
    def code(self) -> str:
        """What the product app sends ("FR")."""
        ...

    @property
    def id(self) -> str:
        """The marketplace's id of the site."""
        ...

    @property
    def region(self) -> str:
        """The tokens of a consent work on every site of its region."""
        ...


class RedirectApp(Protocol):
    """Our app as registered with the marketplace (its secrets stay in the connector)."""

    @property
    def application_id(self) -> str: ...

    @property
    def redirect_uri(self) -> str:
        """The callback registered with the marketplace."""
        ...

    @property
    def draft(self) -> bool:
        """A draft app is consented to on the marketplace's beta consent page."""
        ...

    @property
    def source(self) -> str:
        """Which app's credentials (several may coexist in Vault)."""
        ...


class AccountCredentials(Protocol):
    """What Vault keeps for a tenant's connection: the refresh token and whose it is."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def refresh_token(self) -> str: ...

    @property
    def seller_id(self) -> str: ...

    @property
    def marketplace_id(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def created_at(self) -> str: ...


@dataclass(frozen=True)
class ConsentedAccount:
    """An ``AccountCredentials`` as a consent gives it (the refresh token kept out of
    ``repr``): what a flow's ``credentials`` makes, ``consented``."""

    tenant_id: str
    refresh_token: str = field(repr=False)
    seller_id: str
    marketplace_id: str
    region: str
    created_at: str = ""

    @classmethod
    def consented(
        cls,
        *,
        tenant_id: str,
        refresh_token: str,
        account_id: str,
        site: ConsentSite,
        created_at: str,
    ) -> Self:
        """A consent on ``site`` by the account ``account_id`` (``RedirectFlow.credentials``)."""
        return cls(tenant_id, refresh_token, account_id, site.id, site.region, created_at)


class TokenGrant(Protocol):
    @property
    def refresh_token(self) -> str | None: ...


@runtime_checkable
class AccountGrant(TokenGrant, Protocol):
    """A grant that names the account it was given for: what the code exchange of a flow
    whose callback names no account returns (``CallbackNames.account_id`` None)."""

    @property
    def account_id(self) -> str: ...


class RedirectFlowSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A redirect flow's settings, as a service reads them (``MarketplaceSettings.redirect_flow``)."""

    default_site: str  # the site of a start request that names none
    consent_origin: str | None  # replaces the site's consent origin (the sandbox)
    draft: bool | None  # overrides the app credential's ``draft``
    # Replaces the app credential's ``redirect_uri``: the flow's own callback, as
    # registered with the marketplace (None: the app credential's).
    redirect_uri: str | None
    app_source: str  # which app's credentials
    token_endpoint: str
    token_cacert: str | None  # an extra CA bundle for the token endpoint


class AccountVault(Protocol):
    """The app's credentials and the tenants' refresh tokens, in Vault."""

    async def app_credentials(self) -> RedirectApp:
        """``AppNotConfigured`` when absent or incomplete, ``VaultError`` when Vault fails."""
        ...

    async def store(self, credentials: AccountCredentials) -> str:
        """Writes (replaces) the tenant's credentials; returns their Vault path."""
        ...

    async def check(self, tenant_id: str) -> AccountCredentials:
        """The stored credentials, from a copy a few seconds old at most (cleared by
        ``store``/``delete``); ``AccountCredentialsMissing`` when absent, ``VaultError``."""
        ...

    async def delete(self, tenant_id: str) -> None:
        """Deletes the tenant's credentials (every version); absent is not an error."""
        ...


class CodeExchange(Protocol):
    async def exchange_code(self, app: RedirectApp, code: str, redirect_uri: str) -> TokenGrant:
        """``GrantInvalid`` for a refused code, ``TokenEndpointUnavailable`` when the
        endpoint does not answer, ``GrantRefused`` for any other refusal."""
        ...

    async def aclose(self) -> None: ...


class CallbackNames(NamedTuple):
    """The query parameters of the marketplace's redirect back to us that carry the
    seller's account id and the authorization code. ``account_id`` None: the redirect
    carries no account id; the code exchange's grant names it (``AccountGrant``)."""

    account_id: str | None
    code: str


class RedirectFlow(Protocol):
    """The marketplace's side of the redirect: its sites, its consent URL, its callback's
    parameters and account ids, its token endpoint and where Vault keeps what a consent
    gave."""

    @property
    def callback_names(self) -> CallbackNames:
        """What its callback's parameters are called."""
        ...

    def site(self, code: str) -> ConsentSite:
        """The site of a country code (any case) or of a site id; ValueError when unknown."""
        ...

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
        """Where to send the seller; ``origin`` replaces the site's, ``draft`` the app's."""
        ...

    def is_account_id(self, value: str) -> bool:
        """Whether the callback's (or the grant's) account id has the marketplace's shape."""
        ...

    def credentials(
        self,
        *,
        tenant_id: str,
        refresh_token: str,
        account_id: str,
        site: ConsentSite,
        created_at: str,
    ) -> AccountCredentials:
        """What a consent on ``site`` gives, as Vault keeps it."""
        ...

    def vault(self, vault: VaultClient, app_source: str) -> AccountVault: ...

    def code_exchange(self, settings: RedirectFlowSettings) -> CodeExchange: ...


@runtime_checkable
class AppKeptOnce(Protocol):
    """A redirect flow whose shop sessions need our app's secret beside the seller's
    refresh token: Vault keeps the app's once (rotated in one place), each seller's entry
    naming the app its consent was given to, and the session's credentials are the two
    together (``shop_sessions.stored_credentials``)."""

    async def shop_credentials(
        self, vault: VaultClient, stored: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The seller's entry ``stored`` completed with its app's fields, from a copy of
        the app's entry read moments ago at most; ``CredentialsRefused`` when the entry
        names an app Vault does not keep (the seller must consent again),
        ``MarketplaceUnavailable`` when the app's entry is missing, ``VaultError``."""
        ...
