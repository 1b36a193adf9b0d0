"""The redirect flow: start and callback, for any connector with a
``redirect_flow`` (the marketplace's side: its sites, consent URL, code exchange and
Vault secrets); the state, the browser binding, the rows and the events are oauth's.

Order matters in the callback: the state is consumed first (atomically), the
browser that came back is checked against the one that started the flow, the
code is exchanged, and then — in one unit of work holding the seller's and the
tenants' locks — the refresh token goes to Vault, a seller taken over
from another tenant is disconnected there, the connection becomes CONNECTED
and ``connection.connected`` is queued. A failure at any step leaves the
connection not connected, with the reason in ``last_error``. Status and disconnect are
``status_and_disconnect.py``'s, for both connection kinds.

Each use case takes the ports it works on (``ports.OauthPorts``, assembled in
``bootstrap.py``). Nothing here knows HTTP: refusals are the domain errors of ``errors.py``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    AccountCredentials,
    AccountGrant,
    AppNotConfigured,
    Connector,
    ConsentSite,
    GrantInvalid,
    GrantRefused,
    RedirectApp,
    RedirectFlow,
    TokenEndpointUnavailable,
    TokenGrant,
)
from keybuzz_shared.events import ConnectionConnected
from keybuzz_shared.redaction import MASK, mask_tokens, remote_excerpt
from keybuzz_shared.tenancy import TenantContext
from keybuzz_shared.text import one_line
from keybuzz_shared.vault import VaultError

from keybuzz_oauth import states
from keybuzz_oauth.connections import Connected, Connection
from keybuzz_oauth.errors import (
    CallbackFailure,
    CredentialsUnavailable,
    Failure,
    InvalidMarketplace,
    MarketplaceNotConfigured,
)
from keybuzz_oauth.ports import OauthPorts, OauthStore, OauthUnit
from keybuzz_oauth.status_and_disconnect import end_connection

log = logging.getLogger(__name__)


def _vault_retry(name: str) -> str:
    return f"the {name} credentials could not be stored; nothing was connected, please retry"


def _seller_taken(name: str) -> str:
    return (
        f"this {name} seller account is already connected to another KeyBuzz account; "
        "disconnect it there first, or connect again asking to take it over"
    )


def redirect_flow(marketplace: str) -> RedirectFlow:
    """The marketplace's redirect flow; LookupError when it is not connected by a redirect."""
    flow = connector_for(marketplace).redirect_flow
    if flow is None:
        raise LookupError(f"{marketplace} is not connected by a redirect")
    return flow


def _name(marketplace: str) -> str:
    return connector_for(marketplace).display_name


@dataclass(frozen=True)
class Started:
    """A consent that can begin: where to send the seller, and the nonce the browser keeps."""

    auth_url: str = field(repr=False)  # holds the state
    expires_at: datetime
    state: str = field(repr=False)
    site: ConsentSite
    browser_nonce: str = field(repr=False)
    # Where the marketplace sends the browser back: the cookie must reach it.
    callback_uri: str


@dataclass(frozen=True)
class CallbackParams:
    state: str | None
    # Named by the marketplace (its RedirectFlow's ``callback_names``):
    account_id: str | None  # the seller's account id at the marketplace
    code: str | None  # the authorization code
    error: str | None
    error_description: str | None
    # The nonce cookie the browser presented (None: no cookie).
    browser_nonce: str | None = field(default=None, repr=False)


# --- start ---------------------------------------------------------------------------


async def start(
    ports: OauthPorts,
    tenant: TenantContext,
    marketplace: str,
    site_code: str | None,
    *,
    takeover: bool,
    presented_nonce: str | None,
) -> Started:
    """``site_code``: a country code or site id of ``marketplace``; None: the default one."""
    flow, flow_settings = redirect_flow(marketplace), ports.settings.redirect_flow(marketplace)
    site = _site(flow, site_code or flow_settings.default_site)
    app = await _app_for_start(ports, marketplace)
    redirect_uri = flow_settings.redirect_uri or app.redirect_uri
    state, nonce = states.new_state(), states.browser_nonce(presented_nonce)
    row = states.NewStateRow(
        digest=state.digest,
        tenant_id=tenant.tenant_id,
        user_id=tenant.principal.user_id,
        marketplace_type=marketplace,
        marketplace_code=site.code,
        redirect_uri=redirect_uri,
        browser_hash=states.digest(nonce),
        takeover=takeover,
    )
    async with ports.unit_of_work() as uow:
        await uow.store.purge_old_states()
        expires_at = await uow.store.insert_state(row, ports.settings.state_ttl_seconds)
        await uow.store.mark_pending(tenant.tenant_id, marketplace)
    url = flow.consent_url(
        app,
        site,
        state=state.value,
        redirect_uri=redirect_uri,
        origin=flow_settings.consent_origin,
        draft=flow_settings.draft,
    )
    log.info(
        "consent started",
        extra={
            "tenant_id": tenant.tenant_id,
            "marketplace": marketplace,
            "site": site.code,
            "takeover": takeover,
        },
    )
    return Started(
        auth_url=url,
        expires_at=expires_at,
        state=state.value,
        site=site,
        browser_nonce=nonce,
        callback_uri=redirect_uri,
    )


def _site(flow: RedirectFlow, code: str) -> ConsentSite:
    try:
        return flow.site(code)
    except ValueError as exc:
        raise InvalidMarketplace(str(exc)) from None


async def app_credentials(ports: OauthPorts, marketplace: str) -> RedirectApp:
    """Raises AppNotConfigured or VaultError, logged with the path and the reason."""
    try:
        return await ports.accounts(marketplace).app_credentials()
    except (AppNotConfigured, VaultError) as exc:
        log.error(
            "cannot read the app credentials",
            extra={"marketplace": marketplace, "reason": str(exc)},
        )
        raise


async def _app_for_start(ports: OauthPorts, marketplace: str) -> RedirectApp:
    try:
        return await app_credentials(ports, marketplace)
    except (AppNotConfigured, VaultError) as exc:
        raise MarketplaceNotConfigured(
            f"{_name(marketplace)} is not configured on this server: {exc}"
        ) from None


# --- callback ----------------------------------------------------------------------------


async def callback(ports: OauthPorts, params: CallbackParams) -> Connection:
    bound = await _consume(ports, params.state)
    try:
        return await _connect(ports, bound, params)
    except CallbackFailure as failure:
        await ports.connections.record_failure(
            bound.tenant_id, failure.message, bound.marketplace_type
        )
        log.warning(
            "callback failed",
            extra={
                "tenant_id": bound.tenant_id,
                "marketplace": bound.marketplace_type,
                "reason": failure.reason,
            },
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
        log.warning("callback state rejected", extra={"reason": rejected.reason})
        raise CallbackFailure(rejected.reason, rejected.message)
    return bound


async def _connect(
    ports: OauthPorts, bound: states.ConsumedState, params: CallbackParams
) -> Connection:
    connector = connector_for(bound.marketplace_type)
    flow = redirect_flow(connector.marketplace)
    # The state is consumed whatever follows: a refused browser cannot try it again.
    if rejected := states.browser_rejection(bound, params.browser_nonce):
        raise CallbackFailure(rejected.reason, rejected.message)
    if params.error:
        raise _refusal(connector, params.error, params.error_description)
    names = flow.callback_names
    if names.account_id is None:
        seller_id, refresh_token = await _granted_account(ports, connector, params, bound)
    else:
        seller_id = params.account_id or ""
        if not params.code or not flow.is_account_id(seller_id):
            raise CallbackFailure(
                "missing_parameters",
                f"{connector.display_name}'s redirect lacks {names.code} "
                f"or a valid {names.account_id}",
            )
        # Checked again under the locks; asked now so a refused seller's code is not redeemed.
        await _refuse_seller_held_elsewhere(ports.connections, bound, seller_id)
        grant = await _exchange(ports, connector, params.code, bound.redirect_uri)
        refresh_token = _refresh_token(connector, grant)
    site = flow.site(bound.marketplace_code)
    credentials = flow.credentials(
        tenant_id=bound.tenant_id,
        refresh_token=refresh_token,
        account_id=seller_id,
        site=site,
        created_at=ports.clock().isoformat(),
    )
    return await _link(ports, bound, credentials)


async def _refuse_seller_held_elsewhere(
    store: OauthStore, bound: states.ConsumedState, seller_id: str
) -> list[str]:
    """The other tenants holding this seller; refused unless the start asked to take over."""
    marketplace = bound.marketplace_type
    others = await store.tenants_holding_seller(seller_id, bound.tenant_id, marketplace)
    if others and not bound.takeover:
        log.warning(
            "seller already connected to another tenant",
            extra={
                "tenant_id": bound.tenant_id,
                "marketplace": marketplace,
                "seller_id": seller_id,
                "held_by": others,
            },
        )
        raise CallbackFailure("seller_already_connected", _seller_taken(_name(marketplace)))
    return others


async def _granted_account(
    ports: OauthPorts, connector: Connector, params: CallbackParams, bound: states.ConsumedState
) -> tuple[str, str]:
    """(account id, refresh token) of a redirect that names no account: the code is
    redeemed first (a seller held elsewhere is refused under the locks, ``_link``)."""
    if not params.code:
        names = redirect_flow(connector.marketplace).callback_names
        raise CallbackFailure(
            "missing_parameters", f"{connector.display_name}'s redirect lacks {names.code}"
        )
    grant = await _exchange(ports, connector, params.code, bound.redirect_uri)
    account = grant.account_id if isinstance(grant, AccountGrant) else ""
    if not redirect_flow(connector.marketplace).is_account_id(account):
        raise CallbackFailure(
            f"{connector.marketplace.lower()}_error",
            f"{connector.display_name} named no valid account for the consent",
            Failure.UPSTREAM,
        )
    return account, _refresh_token(connector, grant)


def _refresh_token(connector: Connector, grant: TokenGrant) -> str:
    if not grant.refresh_token:
        prefix = connector.marketplace.lower()
        raise CallbackFailure(
            f"{prefix}_error",
            f"{connector.display_name} returned no refresh token",
            Failure.UPSTREAM,
        )
    return grant.refresh_token


async def _exchange(
    ports: OauthPorts, connector: Connector, code: str, redirect_uri: str
) -> TokenGrant:
    name, prefix = connector.display_name, connector.marketplace.lower()
    try:
        app = await app_credentials(ports, connector.marketplace)
    except AppNotConfigured:
        raise CallbackFailure(
            "app_credentials_missing",
            f"{name} is not configured on this server",
            Failure.UNAVAILABLE,
        ) from None
    except VaultError:
        raise CallbackFailure(
            "vault_unavailable", _vault_retry(name), Failure.UNAVAILABLE
        ) from None
    try:
        grant = await ports.exchange(connector.marketplace).exchange_code(app, code, redirect_uri)
    except GrantInvalid:
        raise CallbackFailure(
            "authorization_code_rejected",
            f"{name} refused the authorization code (expired or already used); connect again",
        ) from None
    except TokenEndpointUnavailable:
        raise CallbackFailure(
            f"{prefix}_unavailable", f"{name} did not answer; retry", Failure.UPSTREAM
        ) from None
    except GrantRefused as exc:
        raise CallbackFailure(
            f"{prefix}_error", f"{name} refused the exchange: {exc.code}", Failure.UPSTREAM
        ) from None
    return grant


async def _link(
    ports: OauthPorts, bound: states.ConsumedState, credentials: AccountCredentials
) -> Connection:
    """Vault and rows change together, under the seller's and the tenants' locks."""
    marketplace = bound.marketplace_type
    async with ports.unit_of_work() as uow:
        await uow.store.lock_seller(credentials.seller_id, marketplace)
        others = await _refuse_seller_held_elsewhere(uow.store, bound, credentials.seller_id)
        await uow.store.lock_tenants([bound.tenant_id, *others], marketplace)
        vault_path = await _store(ports, marketplace, credentials)
        for other in others:
            await _take_over(ports, uow, other, bound)
        connection = await _record_connected(uow, bound, credentials, vault_path)
    log.info(
        "connected",
        extra={
            "tenant_id": connection.tenant_id,
            "marketplace": marketplace,
            "seller_id": connection.seller_id,
        },
    )
    return connection


async def _store(ports: OauthPorts, marketplace: str, credentials: AccountCredentials) -> str:
    try:
        return await ports.accounts(marketplace).store(credentials)
    except VaultError as exc:
        log.error(
            "could not write the credentials to Vault",
            extra={"marketplace": marketplace, "reason": str(exc)},
        )
        raise CallbackFailure(
            "vault_unavailable", _vault_retry(_name(marketplace)), Failure.UNAVAILABLE
        ) from None


async def _take_over(
    ports: OauthPorts, uow: OauthUnit, other: str, bound: states.ConsumedState
) -> None:
    marketplace = bound.marketplace_type
    reason = "the seller connected another KeyBuzz account"
    try:
        await end_connection(ports, uow, other, marketplace, reason)
    except CredentialsUnavailable:
        raise CallbackFailure(
            "vault_unavailable", _vault_retry(_name(marketplace)), Failure.UNAVAILABLE
        ) from None
    log.warning(
        "seller taken over from another tenant",
        extra={
            "tenant_id": bound.tenant_id,
            "marketplace": marketplace,
            "previous_tenant_id": other,
            "user_id": bound.user_id,
        },
    )


async def _record_connected(
    uow: OauthUnit,
    bound: states.ConsumedState,
    credentials: AccountCredentials,
    vault_path: str,
) -> Connection:
    connected = Connected(
        tenant_id=bound.tenant_id,
        marketplace=bound.marketplace_type,
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
            marketplace=connected.marketplace,
            connection_id=connection.id,
            seller_id=connected.seller_id,
            marketplace_ids=connection.marketplace_ids,
            region=connected.region,
        )
    )
    return connection


# --- reauthorization (connection.reauth_required from any service) ------------------------


async def reauth_required(
    ports: OauthPorts,
    tenant_id: str,
    seller_id: str | None,
    reason: str | None,
    seen_at: datetime,
    marketplace: str,
) -> bool:
    """The marketplace refused the refresh token of a redirect connection, or a shop's key."""
    connector = connector_for(marketplace)
    refused = "the refresh token" if connector.redirect_flow is not None else "the shop's key"
    shown = _printable(reason or "") or f"{connector.display_name} refused {refused}"
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
    """Text from outside (the marketplace's redirect, other services) made safe to store
    and show.

    PostgreSQL refuses NUL in text; control characters and lone surrogates
    (undecodable bytes) would corrupt logs and the frontend's message.
    """
    return one_line(text).strip()


def _refusal(connector: Connector, error: str, description: str | None) -> CallbackFailure:
    """The marketplace's error redirect (``error=access_denied``): its code, cleaned, is the
    reason."""
    # The marketplace's words: its code if it is one (not token-shaped), an excerpt.
    code = mask_tokens(re.sub(r"[^a-z0-9_]", "", error.lower())[:40])
    if code in ("", MASK):
        code = f"{connector.marketplace.lower()}_error"
    text = remote_excerpt(_printable(description or ""), 200)
    message = f"{connector.display_name} did not authorize the connection ({code})" + (
        f": {text}" if text else ""
    )
    return CallbackFailure(code, message)
