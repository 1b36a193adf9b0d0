"""A shop's credentials as Vault keeps them, and the session made on them: what every
service that calls a shop API (the poller's polls and replies, orders) needs alike; a
session that shares its token (``SharesToken``) keeps it in Vault beside the shop's entry
(``token_path``), for every process's session of the shop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, cast

import httpx
import msgspec

from keybuzz_shared.connectors.seam import (
    AppKeptOnce,
    Connector,
    CredentialsRefused,
    MarketplaceSession,
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

S = TypeVar("S")
M = TypeVar("M")


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
