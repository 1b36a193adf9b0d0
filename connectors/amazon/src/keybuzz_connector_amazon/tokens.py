"""SP-API access tokens for any service: Vault credentials → LWA refresh → cache.

``TokenService.access_token(tenant_id)`` returns a token good for at least a
few more minutes. Tokens are cached until ``refresh_margin`` before expiry;
concurrent callers for one tenant share a single refresh (one LWA call in
flight per seller). When LWA answers ``invalid_grant`` the seller has revoked
us: the service reports it once (by default as a ``connection.reauth_required``
event through the calling service's outbox — the oauth service consumes it and
marks the connection, being the only writer of that table) and raises
:class:`ReauthRequired`; later calls with the same refresh token fail at once
without calling LWA again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from keybuzz_shared.connectors.connector_settings import HoldsConnectorSettings
from keybuzz_shared.events import ConnectionReauthRequired
from keybuzz_shared.vault import VaultClient

from keybuzz_connector_amazon.credentials import APP, load_tenant_credentials
from keybuzz_connector_amazon.errors import InvalidGrant, ReauthRequired
from keybuzz_connector_amazon.lwa import LwaClient
from keybuzz_connector_amazon.settings import AmazonSettings

if TYPE_CHECKING:
    from keybuzz_shared.connectors.seam import FeedContext

log = logging.getLogger(__name__)

ReauthReporter = Callable[[ReauthRequired], Awaitable[None]]
REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)  # goes in the x-amz-access-token header
    tenant_id: str
    seller_id: str
    marketplace_id: str
    region: str
    refresh_at: float  # monotonic clock: renew from then on

    def fresh(self, now: float) -> bool:
        return now < self.refresh_at


class AccessTokens(Protocol):
    """What the SP-API client asks of its tokens: a seller's (``TokenService``) or an
    application's, keyed by region (grantless operations, ``notifications.GrantlessTokens``)."""

    async def access_token(self, key: str) -> AccessToken: ...

    def invalidate(self, key: str) -> None: ...


class TokenService:
    def __init__(
        self,
        vault: VaultClient,
        lwa: LwaClient,
        *,
        app_source: str = "default",
        on_reauth_required: ReauthReporter | None = None,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vault = vault
        self.lwa = lwa
        self.app_source = app_source
        self._report = on_reauth_required
        self._margin = refresh_margin
        self._clock = clock
        self._cache: dict[str, AccessToken] = {}
        self._inflight: dict[str, asyncio.Task[AccessToken]] = {}
        self._rejected: dict[str, str] = {}  # tenant → fingerprint of the refused refresh token

    async def access_token(self, tenant_id: str) -> AccessToken:
        cached = self._cache.get(tenant_id)
        if cached and cached.fresh(self._clock()):
            return cached
        task = self._inflight.get(tenant_id)
        if task is None:
            task = asyncio.create_task(self._refresh(tenant_id), name=f"lwa-refresh-{tenant_id}")
            self._inflight[tenant_id] = task
            task.add_done_callback(lambda done: self._forget_task(tenant_id, done))
        # shield: one caller giving up must not cancel the refresh the others wait for.
        return await asyncio.shield(task)

    def invalidate(self, tenant_id: str) -> None:
        """Drop the cached token (SP-API said it expired, or the connection changed)."""
        self._cache.pop(tenant_id, None)
        self._rejected.pop(tenant_id, None)

    async def aclose(self) -> None:
        await self.lwa.aclose()

    def _forget_task(self, tenant_id: str, done: asyncio.Task[AccessToken]) -> None:
        if self._inflight.get(tenant_id) is done:
            del self._inflight[tenant_id]
        if not done.cancelled():
            done.exception()  # mark retrieved: the awaiting callers got it

    async def _refresh(self, tenant_id: str) -> AccessToken:
        tenant = await load_tenant_credentials(self.vault, tenant_id)
        if self._rejected.get(tenant_id) == tenant.fingerprint:
            raise ReauthRequired(tenant_id, tenant.seller_id, "refresh token already refused")
        app = await APP.read(self.vault, self.app_source)
        try:
            grant = await self.lwa.refresh(app, tenant.refresh_token)
        except InvalidGrant as exc:
            error = ReauthRequired(tenant_id, tenant.seller_id, f"{exc.code}: {exc.description}")
            if await self._reported(error):
                self._rejected[tenant_id] = tenant.fingerprint
            raise error from None
        margin = min(self._margin, grant.expires_in / 10)
        token = AccessToken(
            value=grant.access_token,
            tenant_id=tenant_id,
            seller_id=tenant.seller_id,
            marketplace_id=tenant.marketplace_id,
            region=tenant.region,
            refresh_at=self._clock() + grant.expires_in - margin,
        )
        self._cache[tenant_id] = token
        log.info("LWA access token refreshed", extra={"tenant_id": tenant_id})
        return token

    async def _reported(self, error: ReauthRequired) -> bool:
        log.warning(
            "LWA refused the refresh token; reauthorization required",
            extra={"tenant_id": error.tenant_id, "seller_id": error.seller_id},
        )
        if self._report is None:
            return True
        try:
            await self._report(error)
        except Exception:
            # Not remembered as reported: the next call tries LWA and reports again.
            log.exception("could not report reauth_required", extra={"tenant_id": error.tenant_id})
            return False
        return True


def outbox_reauth_reporter(context: FeedContext) -> ReauthReporter:
    """Report through the calling service's outbox, so the event survives a NATS outage."""

    async def report(error: ReauthRequired) -> None:
        event = ConnectionReauthRequired(
            tenant_id=error.tenant_id, seller_id=error.seller_id, reason=error.detail
        )
        async with context.unit_of_work() as uow:
            uow.emit(event)

    return report


def amazon_settings(context: FeedContext) -> AmazonSettings:
    """Amazon's settings, among those of the service ``context`` is."""
    held: HoldsConnectorSettings = context.settings
    return held.of(AmazonSettings)


def token_service_for(context: FeedContext) -> TokenService:
    """The token service a service on the shared frame uses (its settings hold Amazon's)."""
    settings = amazon_settings(context)
    return TokenService(
        context.vault,
        LwaClient(settings.lwa_endpoint, cacert=settings.lwa_cacert),
        app_source=settings.amazon_app_source,
        on_reauth_required=outbox_reauth_reporter(context),
    )
