"""The website authorization workflow: start, callback, status, disconnect.

Order matters in the callback: the state is consumed first (atomically), the
browser that came back is checked against the one that started the flow, the
code is exchanged, and then — in one unit of work holding the seller's and the
tenants' locks — the refresh token goes to Vault, a seller taken over
from another tenant is disconnected there, the connection becomes CONNECTED
and ``connection.connected`` is queued. A failure at any step leaves the
connection not connected, with the reason in ``last_error``.

Each use case takes the ports it works on (``ports.OauthPorts``, assembled in
``bootstrap.py``). Nothing here knows HTTP: refusals are the domain errors of ``errors.py``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from keybuzz_shared.connectors.amazon import (
    AppCredentials,
    AppCredentialsMissing,
    CredentialsMissing,
    InvalidGrant,
    LwaError,
    LwaUnavailable,
    Marketplace,
    TenantCredentials,
    UnknownMarketplace,
    marketplace,
)
from keybuzz_shared.connectors.names import AMAZON
from keybuzz_shared.events import ConnectionConnected, ConnectionDisconnected
from keybuzz_shared.tenancy import TenantContext
from keybuzz_shared.text import one_line
from keybuzz_shared.vault import VaultError

from keybuzz_oauth import states
from keybuzz_oauth.connections import Connected, Connection, ConnectionReport, Status
from keybuzz_oauth.consent import consent_url
from keybuzz_oauth.errors import (
    AmazonNotConfigured,
    CallbackFailure,
    CredentialsUnavailable,
    Failure,
    InvalidMarketplace,
    NotConnected,
)
from keybuzz_oauth.ports import OauthPorts, OauthStore, OauthUnit

log = logging.getLogger(__name__)

_SELLER_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_VAULT_RETRY = "the Amazon credentials could not be stored; nothing was connected, please retry"
_SELLER_TAKEN = (
    "this Amazon seller account is already connected to another KeyBuzz account; "
    "disconnect it there first, or connect again asking to take it over"
)


@dataclass(frozen=True)
class Started:
    """A consent that can begin: where to send the seller, and the nonce the browser keeps."""

    auth_url: str = field(repr=False)  # holds the state
    expires_at: datetime
    state: str = field(repr=False)
    marketplace: Marketplace
    browser_nonce: str = field(repr=False)
    # Where Amazon sends the browser back: the cookie must reach it.
    callback_uri: str


@dataclass(frozen=True)
class CallbackParams:
    state: str | None
    selling_partner_id: str | None
    spapi_oauth_code: str | None
    error: str | None
    error_description: str | None
    # The nonce cookie the browser presented (None: no cookie).
    browser_nonce: str | None = field(default=None, repr=False)


# --- start -------------------------------------------------------------------------------


async def start(
    ports: OauthPorts,
    tenant: TenantContext,
    marketplace_code: str | None,
    *,
    takeover: bool,
    presented_nonce: str | None,
) -> Started:
    """``marketplace_code``: a country code or marketplace id; None: the default one."""
    settings = ports.settings
    mp = _marketplace(ports, marketplace_code)
    app = await _app_for_start(ports)
    redirect_uri = settings.redirect_uri or app.redirect_uri
    state, nonce = states.new_state(), states.browser_nonce(presented_nonce)
    row = states.NewStateRow(
        digest=state.digest,
        tenant_id=tenant.tenant_id,
        user_id=tenant.principal.user_id,
        marketplace_code=mp.code,
        redirect_uri=redirect_uri,
        browser_hash=states.digest(nonce),
        takeover=takeover,
    )
    async with ports.unit_of_work() as uow:
        await uow.store.purge_old_states()
        expires_at = await uow.store.insert_state(row, settings.state_ttl_seconds)
        await uow.store.mark_pending(tenant.tenant_id)
    url = consent_url(
        app,
        mp,
        state=state.value,
        redirect_uri=redirect_uri,
        seller_central_url=settings.seller_central_url,
        draft=settings.app_draft,
    )
    log.info(
        "amazon consent started",
        extra={"tenant_id": tenant.tenant_id, "marketplace": mp.code, "takeover": takeover},
    )
    return Started(
        auth_url=url,
        expires_at=expires_at,
        state=state.value,
        marketplace=mp,
        browser_nonce=nonce,
        callback_uri=redirect_uri,
    )


def _marketplace(ports: OauthPorts, code: str | None) -> Marketplace:
    try:
        return marketplace(code or ports.settings.default_marketplace)
    except UnknownMarketplace as exc:
        raise InvalidMarketplace(str(exc)) from None


async def app_credentials(ports: OauthPorts) -> AppCredentials:
    """Raises AppCredentialsMissing or VaultError, logged with the path and the reason."""
    try:
        return await ports.vault.app_credentials()
    except (AppCredentialsMissing, VaultError) as exc:
        log.error("cannot read the Amazon app credentials", extra={"reason": str(exc)})
        raise


async def _app_for_start(ports: OauthPorts) -> AppCredentials:
    try:
        return await app_credentials(ports)
    except (AppCredentialsMissing, VaultError) as exc:
        raise AmazonNotConfigured(f"Amazon is not configured on this server: {exc}") from None


# --- callback ----------------------------------------------------------------------------


async def callback(ports: OauthPorts, params: CallbackParams) -> Connection:
    bound = await _consume(ports, params.state)
    try:
        return await _connect(ports, bound, params)
    except CallbackFailure as failure:
        await ports.connections.record_failure(bound.tenant_id, failure.message)
        log.warning(
            "amazon callback failed",
            extra={"tenant_id": bound.tenant_id, "reason": failure.reason},
        )
        raise


async def _consume(ports: OauthPorts, state: str | None) -> states.ConsumedState:
    if not state:
        raise CallbackFailure("invalid_state", "the callback has no state parameter")
    digest = states.digest(state)
    bound = await ports.connections.consume_state(digest)
    if bound is None:
        found, used_at = await ports.connections.state_usage(digest)
        rejected = states.rejection(used_at, found)
        log.warning("amazon callback state rejected", extra={"reason": rejected.reason})
        raise CallbackFailure(rejected.reason, rejected.message)
    return bound


async def _connect(
    ports: OauthPorts, bound: states.ConsumedState, params: CallbackParams
) -> Connection:
    # The state is consumed whatever follows: a refused browser cannot try it again.
    if rejected := states.browser_rejection(bound, params.browser_nonce):
        raise CallbackFailure(rejected.reason, rejected.message)
    if params.error:
        raise _amazon_refusal(params.error, params.error_description)
    seller_id = params.selling_partner_id or ""
    if not params.spapi_oauth_code or not _SELLER_ID.match(seller_id):
        raise CallbackFailure(
            "missing_parameters",
            "Amazon's redirect lacks spapi_oauth_code or a valid selling_partner_id",
        )
    # Checked again under the locks; asked now so a refused seller's code is not redeemed.
    await _refuse_seller_held_elsewhere(ports.connections, bound, seller_id)
    mp = marketplace(bound.marketplace_code)
    refresh_token = await _exchange(ports, params.spapi_oauth_code, bound.redirect_uri)
    credentials = TenantCredentials(
        tenant_id=bound.tenant_id,
        refresh_token=refresh_token,
        seller_id=seller_id,
        marketplace_id=mp.id,
        region=mp.region,
        created_at=ports.clock().isoformat(),
    )
    return await _link(ports, bound, credentials)


async def _refuse_seller_held_elsewhere(
    store: OauthStore, bound: states.ConsumedState, seller_id: str
) -> list[str]:
    """The other tenants holding this seller; refused unless the start asked to take over."""
    others = await store.tenants_holding_seller(seller_id, bound.tenant_id)
    if others and not bound.takeover:
        log.warning(
            "amazon seller already connected to another tenant",
            extra={"tenant_id": bound.tenant_id, "seller_id": seller_id, "held_by": others},
        )
        raise CallbackFailure("seller_already_connected", _SELLER_TAKEN)
    return others


async def _exchange(ports: OauthPorts, code: str, redirect_uri: str) -> str:
    try:
        app = await app_credentials(ports)
    except AppCredentialsMissing:
        raise CallbackFailure(
            "app_credentials_missing",
            "Amazon is not configured on this server",
            Failure.UNAVAILABLE,
        ) from None
    except VaultError:
        raise CallbackFailure("vault_unavailable", _VAULT_RETRY, Failure.UNAVAILABLE) from None
    try:
        grant = await ports.lwa.exchange_code(app, code, redirect_uri)
    except InvalidGrant:
        raise CallbackFailure(
            "authorization_code_rejected",
            "Amazon refused the authorization code (expired or already used); connect again",
        ) from None
    except LwaUnavailable:
        raise CallbackFailure(
            "amazon_unavailable", "Amazon did not answer; retry", Failure.UPSTREAM
        ) from None
    except LwaError as exc:
        raise CallbackFailure(
            "amazon_error", f"Amazon refused the exchange: {exc.code}", Failure.UPSTREAM
        ) from None
    if not grant.refresh_token:
        raise CallbackFailure("amazon_error", "Amazon returned no refresh token", Failure.UPSTREAM)
    return grant.refresh_token


async def _link(
    ports: OauthPorts, bound: states.ConsumedState, credentials: TenantCredentials
) -> Connection:
    """Vault and rows change together, under the seller's and the tenants' locks."""
    async with ports.unit_of_work() as uow:
        await uow.store.lock_seller(credentials.seller_id)
        others = await _refuse_seller_held_elsewhere(uow.store, bound, credentials.seller_id)
        await uow.store.lock_tenants([bound.tenant_id, *others])
        vault_path = await _store(ports, credentials)
        for other in others:
            await _take_over(ports, uow, other, bound)
        connection = await _record_connected(uow, bound, credentials, vault_path)
    log.info(
        "amazon connected",
        extra={"tenant_id": connection.tenant_id, "seller_id": connection.seller_id},
    )
    return connection


async def _store(ports: OauthPorts, credentials: TenantCredentials) -> str:
    try:
        return await ports.vault.store(credentials)
    except VaultError as exc:
        log.error("could not write Amazon credentials to Vault", extra={"reason": str(exc)})
        raise CallbackFailure("vault_unavailable", _VAULT_RETRY, Failure.UNAVAILABLE) from None


async def _take_over(
    ports: OauthPorts, uow: OauthUnit, other: str, bound: states.ConsumedState
) -> None:
    try:
        await _end_connection(ports, uow, other, "the seller connected another KeyBuzz account")
    except CredentialsUnavailable:
        raise CallbackFailure("vault_unavailable", _VAULT_RETRY, Failure.UNAVAILABLE) from None
    log.warning(
        "amazon seller taken over from another tenant",
        extra={"tenant_id": bound.tenant_id, "previous_tenant_id": other, "user_id": bound.user_id},
    )


async def _record_connected(
    uow: OauthUnit,
    bound: states.ConsumedState,
    credentials: TenantCredentials,
    vault_path: str,
) -> Connection:
    connected = Connected(
        tenant_id=bound.tenant_id,
        user_id=bound.user_id,
        seller_id=credentials.seller_id,
        marketplace_id=credentials.marketplace_id,
        region=credentials.region,
        vault_path=vault_path,
    )
    connection = await uow.store.upsert_connected(connected)
    uow.emit(
        ConnectionConnected(
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            seller_id=connected.seller_id,
            marketplace_ids=connection.marketplace_ids,
            region=connected.region,
        )
    )
    return connection


# --- status ------------------------------------------------------------------------------


async def status(ports: OauthPorts, tenant_id: str) -> ConnectionReport:
    connection = await ports.connections.get_connection(tenant_id)
    if connection is None:
        return ConnectionReport(status=Status.NOT_CONNECTED)
    report = ConnectionReport.of(connection)
    if connection.status is Status.PENDING:
        if not await ports.connections.has_live_state(tenant_id):
            return replace(
                report,
                status=Status.NOT_CONNECTED,
                last_error="the Amazon authorization was not completed in time",
            )
    elif connection.status is Status.CONNECTED:
        return await _verify_credentials(ports, connection, report)
    return report


async def _verify_credentials(
    ports: OauthPorts, connection: Connection, report: ConnectionReport
) -> ConnectionReport:
    """A connection CONNECTED in the database while Vault has nothing: say so here.

    From a copy at most a few seconds old (cleared when credentials are stored
    or deleted): a Vault read per status request would bound the status endpoint's
    rate (docs/BENCHMARKS.md, "HTTP under load").
    """
    try:
        stored = await ports.vault.check(connection.tenant_id)
    except CredentialsMissing as exc:
        log.error("connected tenant has no credentials in Vault", extra={"reason": str(exc)})
        return replace(report, status=Status.ERROR, last_error=str(exc), credentials_verified=False)
    except VaultError as exc:
        return replace(report, last_error=f"could not verify the credentials in Vault: {exc}")
    if stored.seller_id != connection.seller_id:
        mismatch = (
            f"the credentials in Vault belong to seller {stored.seller_id}, "
            f"not {connection.seller_id}; connect again"
        )
        return replace(report, status=Status.ERROR, last_error=mismatch, credentials_verified=False)
    return replace(report, credentials_verified=True)


# --- disconnect --------------------------------------------------------------------------


async def disconnect(ports: OauthPorts, tenant: TenantContext) -> ConnectionReport:
    tenant_id = tenant.tenant_id
    async with ports.unit_of_work() as uow:
        await uow.store.lock_tenants([tenant_id])
        connection = await uow.store.get_connection(tenant_id)
        if connection is None:
            raise NotConnected(f"tenant {tenant_id} has no Amazon connection")
        if connection.status is Status.DISCONNECTED:
            return ConnectionReport.of(connection)
        reason = f"disconnected by user {tenant.principal.user_id}"
        ended = await _end_connection(ports, uow, tenant_id, reason)
    log.info("amazon disconnected", extra={"tenant_id": tenant_id})
    return ConnectionReport.of(ended or connection)


async def _end_connection(
    ports: OauthPorts, uow: OauthUnit, tenant_id: str, reason: str
) -> Connection | None:
    """Credentials out of Vault, row DISCONNECTED, event queued; the tenant's lock is held."""
    await _delete_credentials(ports, tenant_id)
    ended = await uow.store.mark_disconnected(tenant_id)
    if ended is not None:
        uow.emit(
            ConnectionDisconnected(
                tenant_id=tenant_id,
                connection_id=ended.id,
                seller_id=ended.seller_id,
                reason=reason,
            )
        )
    return ended


async def _delete_credentials(ports: OauthPorts, tenant_id: str) -> None:
    # Always the tenant's path, even when the row has none: a callback that
    # stored the token but failed afterwards must not leave it behind.
    try:
        await ports.vault.delete(tenant_id)
    except VaultError as exc:
        log.error("could not delete Amazon credentials", extra={"reason": str(exc)})
        raise CredentialsUnavailable(
            "could not delete the Amazon credentials from Vault; nothing was changed, retry"
        ) from None


# --- reauthorization (connection.reauth_required from any service) ------------------------


async def reauth_required(
    ports: OauthPorts,
    tenant_id: str,
    seller_id: str | None,
    reason: str | None,
    seen_at: datetime,
    marketplace: str = AMAZON,
) -> bool:
    """Amazon refused the refresh token, or Fnac/Darty the shop's key."""
    refused = "the refresh token" if marketplace == AMAZON else "the shop's key"
    shown = _printable(reason or "") or f"{marketplace.capitalize()} refused {refused}"
    marked = await ports.connections.mark_reauth_required(
        tenant_id, seller_id, shown, seen_at, marketplace
    )
    if marked:
        log.warning(
            "connection needs reauthorization",
            extra={"tenant_id": tenant_id, "marketplace": marketplace},
        )
    return marked


def _printable(text: str) -> str:
    """Text from outside (Amazon's redirect, other services) made safe to store and show.

    PostgreSQL refuses NUL in text; control characters and lone surrogates
    (undecodable bytes) would corrupt logs and the frontend's message.
    """
    return one_line(text).strip()


def _amazon_refusal(error: str, description: str | None) -> CallbackFailure:
    """Amazon's error redirect (``error=access_denied``): its code, cleaned, is the reason."""
    code = re.sub(r"[^a-z0-9_]", "", error.lower())[:40] or "amazon_error"
    text = _printable(description or "")[:200]
    message = f"Amazon did not authorize the connection ({code})" + (f": {text}" if text else "")
    return CallbackFailure(code, message)
