"""A shop's credentials as Vault keeps them, and the session made on them: what every
service that calls a shop API (the poller's polls and replies, orders) needs alike; a
session that shares its token (``SharesToken``) keeps it in Vault beside the shop's entry
(``token_path``), for every process's session of the shop. A redirect flow's app as Vault
keeps it (``AppEntry``), and kept once for all its sellers (``KeptApp``): its consents, as
oauth stores them, and its shops' credentials, as their sessions take them."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any, Generic, TypeVar, cast

import httpx
import msgspec
from cachetools import TTLCache

from keybuzz_shared.connectors.seam import (
    AccountCredentials,
    AccountCredentialsMissing,
    AppKeptOnce,
    AppNotConfigured,
    Connector,
    ConsentedAccount,
    CredentialsRefused,
    MarketplaceSession,
    MarketplaceUnavailable,
    RedirectApp,
    SharesToken,
    ShopApiSettings,
    StoredToken,
    TokenStoreUnavailable,
    shop_api_of,
)
from keybuzz_shared.file_links import FileLinks
from keybuzz_shared.protocol_checks import conforms
from keybuzz_shared.redaction import remember_secrets
from keybuzz_shared.vault import VaultClient, VaultError

log = logging.getLogger(__name__)
S = TypeVar("S")
M = TypeVar("M")
A = TypeVar("A", bound=RedirectApp)
# What a yes/no field of an entry says for yes.
_YES = frozenset({"1", "true", "yes", "on"})


async def stored_credentials(
    vault: VaultClient, connector: Connector, tenant_id: str
) -> dict[str, str] | None:
    """Every field of the connector's ``credential_fields`` as stored for the tenant's
    shop (with its app's, where its redirect flow keeps them once: ``AppKeptOnce``), or
    None when one is missing or empty. Its secret fields are masked from then on in the
    caller's ``secret_scope`` (logs, recorded errors), in any form."""
    path = connector.credentials_path(tenant_id)
    # Cached (the poller's client keeps them a while): read at every poll otherwise.
    stored: Mapping[str, Any] = await vault.read(path, cached=True) or {}
    flow = connector.redirect_flow
    if stored and conforms(flow, AppKeptOnce):
        stored = await cast(AppKeptOnce, flow).shop_credentials(vault, stored)
    fields = [f.name for f in connector.credential_fields]
    if not all(isinstance(stored.get(f), str) and stored[f] for f in fields):
        return None
    credentials = {f: str(stored[f]) for f in fields}
    remember_secrets(credentials[f.name] for f in connector.credential_fields if f.secret)
    return credentials


def token_path(credentials_path: str) -> str:
    """Where a shop's shared token is kept: beside its entry (``<entry>_token``)."""
    return f"{credentials_path}_token"


async def delete_entry(vault: VaultClient, credentials_path: str) -> None:
    """A shop's entry and the token kept beside it for every process (``token_path``): a
    shop disconnected leaves neither (absent is not an error)."""
    await vault.delete(credentials_path)
    await vault.delete(token_path(credentials_path))


def missing_fields(data: Mapping[str, Any], fields: Iterable[str]) -> list[str]:
    """The ``fields`` an entry lacks or holds blank: what an error may say of it (with its
    path), never a value."""
    return [f for f in fields if not isinstance(v := data.get(f), str) or not v.strip()]


@dataclass(eq=False)
class AppEntry(Generic[A]):
    """A redirect flow's app as Vault keeps it: the default source's entry at ``root``,
    another source's under it, holding ``fields`` (its client id and secret first) and the
    yes/no ``flags``; ``make`` the flow's ``RedirectApp`` of their values, the flags and the
    source. An entry lacking a field is ``not_configured`` (the path, the source and the
    fields missing: the seam's ``AppNotConfigured``, by default naming ``label``)."""

    label: str
    root: str
    fields: tuple[str, ...]
    _: KW_ONLY
    make: Callable[..., A]
    flags: tuple[str, ...] = ()
    not_configured: Callable[[str, str, list[str]], Exception] | None = None

    def _lacks(self, path: str, source: str, missing: list[str]) -> Exception:
        if self.not_configured is not None:
            return self.not_configured(path, source, missing)
        return AppNotConfigured(f"{self.label}'s app at {path} lacks {', '.join(missing)}")

    def path(self, source: str) -> str:
        return self.root if source == "default" else f"{self.root}/{source}"

    async def entry(self, vault: VaultClient, source: str) -> Mapping[str, Any]:
        """The source's entry as Vault has it now, every field in it."""
        path = self.path(source)
        data = await vault.read(path) or {}
        if missing := missing_fields(data, self.fields):
            raise self._lacks(path, source, missing)
        return data

    async def read(self, vault: VaultClient, source: str) -> A:
        """The source's app, of its entry as Vault has it now."""
        data = await self.entry(vault, source)
        flags = {f: str(data.get(f)).strip().lower() in _YES for f in self.flags}
        return self.make(*(str(data[f]) for f in self.fields), source=source, **flags)


@dataclass(eq=False)
class KeptApp(AppEntry[RedirectApp]):
    """A redirect flow's app kept once in Vault for all its sellers (the seam's
    ``AppKeptOnce``, rotated in one place). A seller's consent is its shop's entry
    (``entry_path``): its account under ``account_field``, its refresh token, the app's
    source and client id, never the app's secret; ``vault`` gives the seam's
    ``AccountVault`` on them."""

    _: KW_ONLY
    entry_path: Callable[[str], str]
    account_field: str
    # How long a copy of an app's entry serves shop sessions before Vault is read again
    # (a rotated secret is taken within it; at once after ``forget``).
    max_age: float

    def __post_init__(self) -> None:
        # A copy per Vault client: one whose policy cannot read a path never sees what
        # another read.
        self._copies = weakref.WeakKeyDictionary[VaultClient, TTLCache[str, dict[str, str]]]()

    def vault(self, vault: VaultClient, app_source: str) -> KeptConsents:
        """The seam's ``RedirectFlow.vault``."""
        return KeptConsents(self, vault, app_source)

    async def kept(self, vault: VaultClient, path: str) -> dict[str, str]:
        """The client id and secret of the app's entry at ``path``, from a copy."""
        copies = self._copies.setdefault(vault, TTLCache(maxsize=64, ttl=self.max_age))
        if (copy := copies.get(path)) is not None:
            return copy
        data = await vault.read(path) or {}
        read = {k: v for k in self.fields[:2] if isinstance(v := data.get(k), str)}
        # Kept missing too (a seller's entry holding its own secret, no default app kept):
        # else each poll of such a shop asks Vault again.
        copies[path] = read
        return read

    def forget(self, reason: str) -> None:
        """Every copy dropped: the marketplace refused the app (its secret rotated?)."""
        log.error("%s: %s's app entries are read again", reason, self.label)
        for copies in list(self._copies.values()):
            copies.clear()

    async def shop_credentials(
        self, vault: VaultClient, stored: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The seam's ``AppKeptOnce``: ``stored`` with its app's secret. An entry naming no
        source holds a secret of its own: it takes the default app's when that is its app."""
        client_id, secret = self.fields[:2]
        source = stored.get("app_source")
        named = source if isinstance(source, str) else ""
        path = self.path(named or "default")
        try:
            app = await self.kept(vault, path)
        except VaultError:  # a policy without the app's entry: the entry's own secret
            if named:
                raise
            return stored
        if app.get(secret) and app.get(client_id) == stored.get(client_id):
            return {**stored, secret: app[secret]}
        if not named:
            return stored
        if not app.get(client_id) or not app.get(secret):
            raise MarketplaceUnavailable(f"{self.label}'s app is not in Vault at {path}")
        raise CredentialsRefused(
            f"the seller consented to {self.label} app {stored.get(client_id)!r}, not the "
            f"one Vault keeps at {path}: the seller must connect {self.label} again"
        )


@dataclass(frozen=True)
class KeptConsents:
    """The seam's ``AccountVault`` of a ``KeptApp``'s source: the app's entry read now, the
    consents kept as their shops' entries. A consent's tokens are good on every site its
    app serves: its region is GLOBAL."""

    app: KeptApp
    vault: VaultClient
    source: str

    async def app_credentials(self) -> RedirectApp:
        return await self.app.read(self.vault, self.source)

    async def store(self, credentials: AccountCredentials) -> str:
        client_id = str((await self.app.entry(self.vault, self.source))[self.app.fields[0]])
        path = self.app.entry_path(credentials.tenant_id)
        entry = {
            self.app.account_field: credentials.seller_id,
            "refresh_token": credentials.refresh_token,
            self.app.fields[0]: client_id,
            "app_source": self.source,
            "marketplace_id": credentials.marketplace_id,
            "created_at": credentials.created_at,
        }
        await self.vault.write(path, entry)
        return path

    async def check(self, tenant_id: str) -> ConsentedAccount:
        data = await self.vault.read(self.app.entry_path(tenant_id)) or {}
        account, client_id = self.app.account_field, self.app.fields[0]
        if not all(data.get(f) for f in (account, "refresh_token", client_id)):
            raise AccountCredentialsMissing(f"no {self.app.label} consent of {tenant_id} in Vault")
        return ConsentedAccount(
            tenant_id,
            str(data["refresh_token"]),
            str(data[account]),
            str(data.get("marketplace_id", "")),
            "GLOBAL",
            str(data.get("created_at", "")),
        )

    async def delete(self, tenant_id: str) -> None:
        await delete_entry(self.vault, self.app.entry_path(tenant_id))


class VaultTokenStore:
    """The seam's ``TokenStore`` in Vault at ``path``: the token, when it expires and what
    it was granted for. Vault's failures are ``TokenStoreUnavailable`` (its message names
    the path and the failure only); an entry it cannot read is no token."""

    def __init__(self, vault: VaultClient, path: str) -> None:
        self.vault, self.path = vault, path

    def __repr__(self) -> str:
        return f"VaultTokenStore({self.path!r})"

    async def read(self) -> StoredToken | None:
        try:
            data = await self.vault.read(self.path)
        except VaultError as exc:
            raise TokenStoreUnavailable(str(exc)) from None
        try:
            return msgspec.convert(data, StoredToken) if data else None
        except msgspec.ValidationError:
            return None

    async def write(self, token: StoredToken) -> None:
        try:
            await self.vault.write(self.path, msgspec.to_builtins(token))
        except VaultError as exc:
            raise TokenStoreUnavailable(str(exc)) from None

    async def drop(self) -> None:
        try:
            await self.vault.delete(self.path)
        except VaultError as exc:
            raise TokenStoreUnavailable(str(exc)) from None


def sharing_token(session: M, vault: VaultClient, credentials_path: str) -> M:
    """``session``, given the shop's token kept in Vault (``token_path``) when it shares
    its token (``SharesToken``)."""
    if isinstance(session, SharesToken):
        session.share_token(VaultTokenStore(vault, token_path(credentials_path)))
    return session


class KeptSessions(Generic[S]):
    """One session per shop, made again only when the shop's credentials change (a
    session holds the marketplace's token: making one each call would log in each call)."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[dict[str, str], S]] = {}

    def on(self, shop: str, credentials: dict[str, str], make: Callable[[], S]) -> S:
        """The shop's session on ``credentials``: the kept one, or ``make()``'s."""
        kept = self._kept.get(shop)
        if kept is None or kept[0] != credentials:
            kept = self._kept[shop] = (credentials, make())
        return kept[1]

    def last(self, shop: str) -> tuple[dict[str, str], S] | None:
        """The credentials and session the shop was last given, if any."""
        return self._kept.get(shop)


class ShopSessions:
    """The shops' sessions of one process, one per shop whichever part calls it (a poll,
    a reply): one session holds one token, so a shop logs in once for all of them. A shop
    reconnected with a new key gets a new session at its next call."""

    def __init__(
        self,
        vault: VaultClient,
        clients: Mapping[str, httpx.AsyncClient],
        apis: Mapping[str, ShopApiSettings],
        file_links: Mapping[str, FileLinks] | None = None,
    ) -> None:
        self.vault = vault
        # marketplace -> the HTTP client its calls go through (TLS verified, always)
        self.clients = clients
        # marketplace -> its API's settings as its connector made them, handed to its sessions
        self.apis = apis
        # marketplace -> where its messages' files may come from (none when absent)
        self.file_links = file_links if file_links is not None else {}
        self._kept = KeptSessions[MarketplaceSession]()

    async def open(self, connector: Connector, tenant_id: str) -> MarketplaceSession:
        """The shop's session on its credentials as Vault has them now; CredentialsRefused
        when none are stored, LookupError for a marketplace not polled by API."""
        api = shop_api_of(connector)
        marketplace = connector.marketplace
        credentials = await stored_credentials(self.vault, connector, tenant_id)
        if credentials is None:
            raise CredentialsRefused(f"no {marketplace} key is stored for the shop")
        http, settings = self.clients[marketplace], self.apis[marketplace]
        files = self.file_links.get(marketplace)
        path = connector.credentials_path(tenant_id)
        return self._kept.on(
            f"{marketplace}:{tenant_id}",
            credentials,
            lambda: sharing_token(
                api.session(credentials, http=http, settings=settings, files=files),
                self.vault,
                path,
            ),
        )

    def forget_credentials(self, connector: Connector, tenant_id: str) -> None:
        """The shop's next session reads its credentials from Vault, not from the cache:
        they changed (a reconnect), were refused, or the shop is gone."""
        self.vault.forget(connector.credentials_path(tenant_id))

    async def credentials_changed(self, connector: Connector, tenant_id: str) -> bool:
        """Whether Vault holds other credentials than the shop's session was given: read
        afresh (the cached ones dropped), so that a key refused because it was replaced
        elsewhere (a reconnect another instance heard of) is not taken for a revoked one."""
        self.forget_credentials(connector, tenant_id)
        kept = self._kept.last(f"{connector.marketplace}:{tenant_id}")
        stored = await stored_credentials(self.vault, connector, tenant_id)
        return kept is not None and stored is not None and stored != kept[0]

    def kept(self, marketplace: str, tenant_id: str) -> MarketplaceSession | None:
        """The session the shop was last given, if it has one."""
        kept = self._kept.last(f"{marketplace}:{tenant_id}")
        return kept[1] if kept is not None else None

    async def last(self, connector: Connector, tenant_id: str) -> MarketplaceSession:
        """The session the shop was last given (opened now if it has none)."""
        kept = self._kept.last(f"{connector.marketplace}:{tenant_id}")
        return kept[1] if kept is not None else await self.open(connector, tenant_id)
