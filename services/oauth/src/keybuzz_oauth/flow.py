"""The website authorization workflow: start, callback, status, disconnect.

Order matters in the callback: the state is consumed first (atomically), the
code is exchanged, the refresh token goes to Vault, and only then — in one
transaction — the connection becomes CONNECTED and ``connection.connected`` is
queued. A failure at any step leaves the connection not connected, with the
reason in ``last_error`` and in the browser's redirect.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keybuzz_shared.amazon import (
    AppCredentials,
    AppCredentialsMissing,
    CredentialsMissing,
    InvalidGrant,
    LwaClient,
    LwaError,
    LwaUnavailable,
    TenantCredentials,
    UnknownMarketplace,
    load_app_credentials,
    load_tenant_credentials,
    marketplace,
    store_tenant_credentials,
)
from keybuzz_shared.auth import TenantContext
from keybuzz_shared.events import ConnectionConnected, ConnectionDisconnected
from keybuzz_shared.http import BadRequest, NotFound
from keybuzz_shared.service import Runtime
from keybuzz_shared.vault import VaultError, tenant_credentials_path
from litestar.exceptions import ServiceUnavailableException

from keybuzz_oauth import states, store
from keybuzz_oauth.connections import Connected, Connection, Status
from keybuzz_oauth.consent import consent_url
from keybuzz_oauth.schemas import MarketplaceRef, StartResponse, StatusResponse
from keybuzz_oauth.settings import OauthSettings

log = logging.getLogger(__name__)

_SELLER_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_VAULT_RETRY = "the Amazon credentials could not be stored; nothing was connected, please retry"


class CallbackFailure(Exception):
    """The callback cannot connect; ``reason`` goes to the frontend, ``message`` to the user."""

    def __init__(self, reason: str, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.http_status = http_status


@dataclass(frozen=True)
class CallbackParams:
    state: str | None
    selling_partner_id: str | None
    spapi_oauth_code: str | None
    error: str | None
    error_description: str | None


@dataclass
class OauthFlow:
    runtime: Runtime[OauthSettings]
    lwa: LwaClient

    @property
    def settings(self) -> OauthSettings:
        return self.runtime.settings

    # --- start -----------------------------------------------------------------------------

    async def start(self, tenant: TenantContext, marketplace_code: str | None) -> StartResponse:
        try:
            mp = marketplace(marketplace_code or self.settings.default_marketplace)
        except UnknownMarketplace as exc:
            raise BadRequest(str(exc)) from None
        app = await self._app_for_start()
        redirect_uri = self.settings.redirect_uri or app.redirect_uri
        state = states.new_state()
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            await store.purge_old_states(conn)
            expires_at = await store.insert_state(
                conn, state.digest, tenant.tenant_id, tenant.principal.user_id, mp.code,
                redirect_uri, self.settings.state_ttl_seconds,
            )  # fmt: skip
            await store.mark_pending(conn, tenant.tenant_id)
        url = consent_url(
            app, mp, state=state.value, redirect_uri=redirect_uri,
            seller_central_url=self.settings.seller_central_url, draft=self.settings.app_draft,
        )  # fmt: skip
        log.info(
            "amazon consent started", extra={"tenant_id": tenant.tenant_id, "marketplace": mp.code}
        )
        return StartResponse(
            auth_url=url, expires_at=expires_at, state=state.value, marketplace=mp.code,
            marketplace_id=mp.id,
        )  # fmt: skip

    async def app_credentials(self) -> AppCredentials:
        """Raises AppCredentialsMissing or VaultError, logged with the path and the reason."""
        try:
            return await load_app_credentials(self.runtime.vault, self.settings.amazon_app_source)
        except (AppCredentialsMissing, VaultError) as exc:
            log.error("cannot read the Amazon app credentials", extra={"reason": str(exc)})
            raise

    async def _app_for_start(self) -> AppCredentials:
        try:
            return await self.app_credentials()
        except (AppCredentialsMissing, VaultError) as exc:
            raise ServiceUnavailableException(
                f"Amazon is not configured on this server: {exc}"
            ) from None

    # --- callback --------------------------------------------------------------------------

    async def callback(self, params: CallbackParams) -> Connection:
        bound = await self._consume(params.state)
        try:
            return await self._connect(bound, params)
        except CallbackFailure as failure:
            await store.record_failure(self.runtime.pool, bound.tenant_id, failure.message)
            log.warning(
                "amazon callback failed",
                extra={"tenant_id": bound.tenant_id, "reason": failure.reason},
            )
            raise

    async def _consume(self, state: str | None) -> states.ConsumedState:
        if not state:
            raise CallbackFailure("invalid_state", "the callback has no state parameter")
        digest = states.digest(state)
        bound = await store.consume_state(self.runtime.pool, digest)
        if bound is None:
            found, used_at = await store.state_usage(self.runtime.pool, digest)
            rejected = states.rejection(used_at, found)
            log.warning("amazon callback state rejected", extra={"reason": rejected.reason})
            raise CallbackFailure(rejected.reason, rejected.message)
        return bound

    async def _connect(self, bound: states.ConsumedState, params: CallbackParams) -> Connection:
        if params.error:
            raise _amazon_refusal(params.error, params.error_description)
        seller_id = params.selling_partner_id or ""
        if not params.spapi_oauth_code or not _SELLER_ID.match(seller_id):
            raise CallbackFailure(
                "missing_parameters",
                "Amazon's redirect lacks spapi_oauth_code or a valid selling_partner_id",
            )
        mp = marketplace(bound.marketplace_code)
        refresh_token = await self._exchange(params.spapi_oauth_code, bound.redirect_uri)
        credentials = TenantCredentials(
            tenant_id=bound.tenant_id, refresh_token=refresh_token,
            seller_id=seller_id, marketplace_id=mp.id, region=mp.region,
            created_at=datetime.now(UTC).isoformat(),
        )  # fmt: skip
        vault_path = await self._store(credentials)
        return await self._record_connected(
            Connected(
                tenant_id=bound.tenant_id, user_id=bound.user_id, seller_id=credentials.seller_id,
                marketplace_id=mp.id, region=mp.region, vault_path=vault_path,
            )
        )  # fmt: skip

    async def _exchange(self, code: str, redirect_uri: str) -> str:
        try:
            app = await self.app_credentials()
        except AppCredentialsMissing:
            raise CallbackFailure(
                "app_credentials_missing", "Amazon is not configured on this server", 503
            ) from None
        except VaultError:
            raise CallbackFailure("vault_unavailable", _VAULT_RETRY, 503) from None
        try:
            grant = await self.lwa.exchange_code(app, code, redirect_uri)
        except InvalidGrant:
            raise CallbackFailure(
                "authorization_code_rejected",
                "Amazon refused the authorization code (expired or already used); connect again",
            ) from None
        except LwaUnavailable:
            raise CallbackFailure(
                "amazon_unavailable", "Amazon did not answer; retry", 502
            ) from None
        except LwaError as exc:
            raise CallbackFailure(
                "amazon_error", f"Amazon refused the exchange: {exc.code}", 502
            ) from None
        if not grant.refresh_token:
            raise CallbackFailure("amazon_error", "Amazon returned no refresh token", 502)
        return grant.refresh_token

    async def _store(self, credentials: TenantCredentials) -> str:
        try:
            return await store_tenant_credentials(self.runtime.vault, credentials)
        except VaultError as exc:
            log.error("could not write Amazon credentials to Vault", extra={"reason": str(exc)})
            raise CallbackFailure("vault_unavailable", _VAULT_RETRY, 503) from None

    async def _record_connected(self, connected: Connected) -> Connection:
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            connection = await store.upsert_connected(conn, connected)
            await self.runtime.emit(
                conn,
                ConnectionConnected(
                    tenant_id=connection.tenant_id, connection_id=connection.id,
                    seller_id=connected.seller_id, marketplace_ids=connection.marketplace_ids,
                    region=connected.region,
                ),
            )  # fmt: skip
        self.runtime.flush_events()
        log.info(
            "amazon connected",
            extra={"tenant_id": connection.tenant_id, "seller_id": connected.seller_id},
        )
        return connection

    # --- status ----------------------------------------------------------------------------

    async def status(self, tenant_id: str) -> StatusResponse:
        connection = await store.get_connection(self.runtime.pool, tenant_id)
        if connection is None:
            return StatusResponse(status=Status.NOT_CONNECTED)
        view = _view(connection)
        if connection.status is Status.PENDING:
            if not await store.has_live_state(self.runtime.pool, tenant_id):
                view.status = Status.NOT_CONNECTED
                view.last_error = "the Amazon authorization was not completed in time"
        elif connection.status is Status.CONNECTED:
            await self._verify_credentials(connection, view)
        return view

    async def _verify_credentials(self, connection: Connection, view: StatusResponse) -> None:
        """Seed 003: CONNECTED in the database while Vault had nothing. Say so here."""
        try:
            stored = await load_tenant_credentials(self.runtime.vault, connection.tenant_id)
        except CredentialsMissing as exc:
            log.error("connected tenant has no credentials in Vault", extra={"reason": str(exc)})
            view.status, view.last_error, view.credentials_verified = Status.ERROR, str(exc), False
            return
        except VaultError as exc:
            view.last_error = f"could not verify the credentials in Vault: {exc}"
            return
        if stored.seller_id != connection.seller_id:
            view.status, view.credentials_verified = Status.ERROR, False
            view.last_error = (
                f"the credentials in Vault belong to seller {stored.seller_id}, "
                f"not {connection.seller_id}; connect again"
            )
            return
        view.credentials_verified = True

    # --- disconnect ------------------------------------------------------------------------

    async def disconnect(self, tenant: TenantContext) -> StatusResponse:
        tenant_id = tenant.tenant_id
        connection = await store.get_connection(self.runtime.pool, tenant_id)
        if connection is None:
            raise NotFound(f"tenant {tenant_id} has no Amazon connection")
        if connection.status is Status.DISCONNECTED:
            return _view(connection)
        await self._delete_credentials(tenant_id)
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            ended = await store.mark_disconnected(conn, tenant_id)
            if ended is not None:
                await self.runtime.emit(
                    conn,
                    ConnectionDisconnected(
                        tenant_id=tenant_id, connection_id=ended.id, seller_id=ended.seller_id,
                        reason=f"disconnected by user {tenant.principal.user_id}",
                    ),
                )  # fmt: skip
        self.runtime.flush_events()
        log.info("amazon disconnected", extra={"tenant_id": tenant_id})
        return _view(ended or connection)

    async def _delete_credentials(self, tenant_id: str) -> None:
        # Always the tenant's path, even when the row has none: a callback that
        # stored the token but failed afterwards must not leave it behind.
        try:
            await self.runtime.vault.delete(tenant_credentials_path(tenant_id))
        except VaultError as exc:
            log.error("could not delete Amazon credentials", extra={"reason": str(exc)})
            raise ServiceUnavailableException(
                "could not delete the Amazon credentials from Vault; nothing was changed, retry"
            ) from None

    # --- reauthorization (connection.reauth_required from any service) ----------------------

    async def reauth_required(
        self, tenant_id: str, seller_id: str | None, reason: str | None, seen_at: datetime
    ) -> bool:
        marked = await store.mark_reauth_required(
            self.runtime.pool, tenant_id, seller_id, reason or "Amazon refused the refresh token",
            seen_at,
        )  # fmt: skip
        if marked:
            log.warning("amazon connection needs reauthorization", extra={"tenant_id": tenant_id})
        return marked


def _view(connection: Connection) -> StatusResponse:
    return StatusResponse(
        status=connection.status,
        seller_id=connection.seller_id,
        marketplaces=[MarketplaceRef(code=_code_of(m), id=m) for m in connection.marketplace_ids],
        region=connection.region,
        connected_at=connection.connected_at,
        last_error=connection.last_error,
    )


def _code_of(marketplace_id: str) -> str | None:
    try:
        return marketplace(marketplace_id).code
    except UnknownMarketplace:
        return None


def _amazon_refusal(error: str, description: str | None) -> CallbackFailure:
    """Amazon's error redirect (``error=access_denied``): its code, cleaned, is the reason."""
    code = re.sub(r"[^a-z0-9_]", "", error.lower())[:40] or "amazon_error"
    text = (description or "").strip()[:200]
    message = f"Amazon did not authorize the connection ({code})" + (f": {text}" if text else "")
    return CallbackFailure(code, message)


def flow_of(runtime: Runtime[Any]) -> OauthFlow:
    flow: OauthFlow = runtime.extras["flow"]
    return flow
