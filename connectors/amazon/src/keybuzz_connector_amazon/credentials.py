"""LWA app credentials and tenant (seller) credentials, as kept in Vault (docs/CONTRACTS.md, "Vault").

Secrets are excluded from ``repr`` so a stray ``log.info("%s", creds)`` cannot
print them. A missing secret or field raises a typed error naming the path and
the missing field names, never the values.

``check_tenant_credentials`` answers "are this tenant's credentials in Vault,
for which seller?" from a copy at most ``TENANT_CHECK_SECONDS`` old, per Vault
client: the oauth status endpoint asks at every call, and a Vault round trip
per status request would bound its rate (docs/BENCHMARKS.md, "HTTP under load"). Storing or deleting through this
module clears the copy at once; a change made by another process shows after
at most that many seconds. ``load_tenant_credentials``, for callers about to
use the refresh token, reads Vault every time: a copy that outlived a
reconnection would send LWA a replaced token.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from keybuzz_shared.connectors.seam import ConsentedAccount
from keybuzz_shared.connectors.shop_sessions import AppEntry, missing_fields
from keybuzz_shared.vault import VaultClient

from keybuzz_connector_amazon.errors import AppCredentialsMissing, CredentialsMissing

APP_CREDENTIALS_PATH = "secret/keybuzz/amazon_spapi/app"
TENANT_CHECK_SECONDS = 5.0
TENANT_FIELDS = ("refresh_token", "seller_id", "marketplace_id", "region")


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    application_id: str
    redirect_uri: str
    region: str
    # A draft app only accepts consent with version=beta (else Amazon answers MD1000).
    draft: bool = False
    source: str = "default"


# The LWA app's entry; several apps may coexist, another source's under it (seeds: a
# temporary app, then KeyBuzz's own).
APP = AppEntry(
    "Amazon",
    APP_CREDENTIALS_PATH,
    ("client_id", "client_secret", "application_id", "redirect_uri", "region"),
    make=AppCredentials,
    flags=("draft",),
    not_configured=AppCredentialsMissing,
)


@dataclass(frozen=True)
class TenantCredentials(ConsentedAccount):
    """A seller's consent, its ``seller_id`` the selling partner id."""

    @property
    def fingerprint(self) -> str:
        """Identifies the refresh token without keeping it in a second place."""
        return hashlib.sha256(self.refresh_token.encode()).hexdigest()[:16]

    def to_vault(self) -> dict[str, str]:
        return {
            "refresh_token": self.refresh_token,
            "seller_id": self.seller_id,
            "marketplace_id": self.marketplace_id,
            "region": self.region,
            "created_at": self.created_at or datetime.now(UTC).isoformat(),
        }


async def load_tenant_credentials(
    vault: VaultClient, tenant_id: str, *, max_age: float = 0.0
) -> TenantCredentials:
    """The tenant's credentials; by default read from Vault now (``max_age`` 0)."""
    return await _tenant_cache(vault).get(
        tenant_id, max_age, lambda: _read_tenant(vault, tenant_id)
    )


async def check_tenant_credentials(vault: VaultClient, tenant_id: str) -> TenantCredentials:
    """The same, from a copy at most ``TENANT_CHECK_SECONDS`` old: for status checks."""
    return await load_tenant_credentials(vault, tenant_id, max_age=TENANT_CHECK_SECONDS)


async def _read_tenant(vault: VaultClient, tenant_id: str) -> TenantCredentials:
    path = tenant_credentials_path(tenant_id)
    data = await vault.read(path) or {}
    if missing := missing_fields(data, TENANT_FIELDS):
        raise CredentialsMissing(tenant_id, path, missing)
    return TenantCredentials(
        tenant_id=tenant_id,
        **{name: str(data[name]) for name in TENANT_FIELDS},
        created_at=str(data.get("created_at") or ""),
    )


async def store_tenant_credentials(vault: VaultClient, credentials: TenantCredentials) -> str:
    """Write (replace) a tenant's credentials; returns the Vault path (what the DB keeps)."""
    path = tenant_credentials_path(credentials.tenant_id)
    _tenant_cache(vault).forget(credentials.tenant_id)
    try:
        await vault.write(path, credentials.to_vault())
    finally:  # also when the write failed half-way: the next read asks Vault
        _tenant_cache(vault).forget(credentials.tenant_id)
    return path


async def delete_tenant_credentials(vault: VaultClient, tenant_id: str) -> None:
    """Delete a tenant's credentials (every version) and forget the cached copy."""
    _tenant_cache(vault).forget(tenant_id)
    try:
        await vault.delete(tenant_credentials_path(tenant_id))
    finally:
        _tenant_cache(vault).forget(tenant_id)


def tenant_credentials_path(tenant_id: str) -> str:
    """The tenant's LWA ``refresh_token``, ``seller_id``, ``marketplace_id`` and ``region``."""
    return f"secret/keybuzz/tenants/{tenant_id}/amazon_spapi"


class _TenantCache:
    """Per tenant: the last successful read and when it was made; one Vault read in flight.

    Only successes are kept: a missing credential is looked up again at every call.
    A generation number per tenant stops a read that started before ``forget`` from
    putting the old value back.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, TenantCredentials]] = {}
        self._inflight: dict[str, asyncio.Future[TenantCredentials]] = {}
        self._generation: dict[str, int] = {}

    async def get(
        self,
        tenant_id: str,
        max_age: float,
        read: Callable[[], Awaitable[TenantCredentials]],
    ) -> TenantCredentials:
        entry = self._entries.get(tenant_id)
        if entry and max_age > 0 and self._clock() - entry[0] < max_age:
            return entry[1]
        if max_age <= 0:
            return await self._read(tenant_id, read)
        pending = self._inflight.get(tenant_id)
        if pending is None:
            pending = asyncio.ensure_future(self._read(tenant_id, read))
            self._inflight[tenant_id] = pending
            pending.add_done_callback(lambda done: self._done(tenant_id, done))
        # shield: one caller giving up must not cancel the read the others wait for.
        return await asyncio.shield(pending)

    async def _read(
        self, tenant_id: str, read: Callable[[], Awaitable[TenantCredentials]]
    ) -> TenantCredentials:
        generation = self._generation.get(tenant_id, 0)
        started = self._clock()
        credentials = await read()
        if self._generation.get(tenant_id, 0) == generation:
            self._entries[tenant_id] = (started, credentials)
        return credentials

    def _done(self, tenant_id: str, done: asyncio.Future[TenantCredentials]) -> None:
        if self._inflight.get(tenant_id) is done:
            del self._inflight[tenant_id]
        if not done.cancelled():
            done.exception()  # retrieved by the awaiting callers

    def forget(self, tenant_id: str) -> None:
        self._entries.pop(tenant_id, None)
        self._inflight.pop(tenant_id, None)
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1


# One cache per Vault client: a client whose policy cannot read a path never sees
# what another client read there.
_CACHES: weakref.WeakKeyDictionary[VaultClient, _TenantCache] = weakref.WeakKeyDictionary()


def _tenant_cache(vault: VaultClient) -> _TenantCache:
    cache = _CACHES.get(vault)
    if cache is None:
        cache = _CACHES[vault] = _TenantCache()
    return cache
