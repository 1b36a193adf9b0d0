"""The status and the disconnect of a connection, whatever its kind: a redirect's (the
refresh token a consent gave) or a credential form's (the shop's key the seller typed).

What differs between the kinds is how Vault keeps the credentials — which read says whose
account they are, which delete removes them, what a seller calls them — and is asked of
the connection's kind (``kept_by``, from the seam's ``connects_by``), never of a
marketplace's name. Nothing here knows HTTP: refusals are the domain errors of
``errors.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from keybuzz_shared.connectors.registry import connector_for, served
from keybuzz_shared.connectors.seam import AccountCredentialsMissing, ConnectionKind, connects_by
from keybuzz_shared.events import ConnectionDisconnected
from keybuzz_shared.tenancy import TenantContext
from keybuzz_shared.vault import VaultError

from keybuzz_oauth.connections import (
    Connection,
    ConnectionReport,
    Status,
)
from keybuzz_oauth.errors import (
    ConnectionKept,
    CredentialsUnavailable,
    MarketplaceNotServed,
    NotConnected,
)
from keybuzz_oauth.ports import OauthPorts, OauthUnit

log = logging.getLogger(__name__)


class CredentialsGone(Exception):
    """A CONNECTED connection whose credentials are not in Vault (or are another account's); the
    message is what the seller is told."""


@dataclass(frozen=True)
class KeptCredentials:
    """How one connection kind keeps its credentials in Vault."""

    called: str  # what a seller calls them: "credentials", "key"
    # Raises ``CredentialsGone`` when Vault has none for the connection's account,
    # ``VaultError`` when Vault cannot say.
    check: Callable[[OauthPorts, Connection], Awaitable[None]]
    # Every version; absent is not an error; ``VaultError`` when Vault refuses.
    delete: Callable[[OauthPorts, str, str], Awaitable[None]]


async def _check_token(ports: OauthPorts, connection: Connection) -> None:
    """From a copy at most a few seconds old (cleared when credentials are stored or
    deleted): a Vault read per status request would bound the status endpoint's rate
    (docs/BENCHMARKS.md, "HTTP under load")."""
    try:
        stored = await ports.accounts(connection.marketplace_type).check(connection.tenant_id)
    except AccountCredentialsMissing as exc:
        log.error("connected tenant has no credentials in Vault", extra={"reason": str(exc)})
        raise CredentialsGone(str(exc)) from None
    if stored.seller_id != connection.seller_id:
        raise CredentialsGone(
            f"the credentials in Vault belong to seller {stored.seller_id}, "
            f"not {connection.seller_id}; connect again"
        )


async def _delete_token(ports: OauthPorts, tenant_id: str, marketplace: str) -> None:
    await ports.accounts(marketplace).delete(tenant_id)


async def _check_key(ports: OauthPorts, connection: Connection) -> None:
    """Read now, not from a copy: a shop's status is asked when a person looks at it."""
    marketplace = connection.marketplace_type
    stored = await ports.vault.read_shop(connection.tenant_id, marketplace)
    if stored is None or stored.shop_id != connection.seller_id:
        log.error("connected shop has no key in Vault", extra={"tenant_id": connection.tenant_id})
        raise CredentialsGone(
            f"the {_title(marketplace)} key is not in Vault for this shop; connect again"
        )


async def _delete_key(ports: OauthPorts, tenant_id: str, marketplace: str) -> None:
    await ports.vault.delete_shop(tenant_id, marketplace)


KEPT: dict[ConnectionKind, KeptCredentials] = {
    "OAUTH_REDIRECT": KeptCredentials("credentials", _check_token, _delete_token),
    "CREDENTIALS": KeptCredentials("key", _check_key, _delete_key),
}


def kept_by(marketplace: str) -> KeptCredentials:
    kind = connects_by(connector_for(marketplace))
    if kind is None:
        raise LookupError(f"{marketplace} has no connection oauth makes")
    return KEPT[kind]


def _title(marketplace: str) -> str:
    return connector_for(marketplace).display_name


def not_served(marketplace: str) -> str:
    return f"marketplace {marketplace.lower()!r} is not served (no connector serves it now)"


def kept_unserved(marketplace: str) -> str:
    """What a connection of a marketplace no connector serves now says: nothing of it is
    deleted, nor used, until the marketplace is served again."""
    return (
        f"{not_served(marketplace)}: the connection and its credentials are kept, unused, "
        "until it is served again"
    )


# --- status ------------------------------------------------------------------------------


async def status(ports: OauthPorts, tenant_id: str, marketplace: str) -> ConnectionReport:
    """The tenant's connection of ``marketplace``, its credentials checked against Vault
    when it is CONNECTED. A read: no row changes."""
    marketplace = marketplace.upper()
    connection = await ports.connections.get_connection(tenant_id, marketplace)
    if not served(marketplace):
        if connection is None:
            raise MarketplaceNotServed(not_served(marketplace))
        return replace(ConnectionReport.of(connection), not_served=kept_unserved(marketplace))
    if connection is None:
        return ConnectionReport(status=Status.NOT_CONNECTED)
    report = ConnectionReport.of(connection)
    if connection.status is Status.PENDING:
        if not await ports.connections.has_live_state(tenant_id, marketplace):
            return replace(
                report,
                status=Status.NOT_CONNECTED,
                last_error=f"the {_title(marketplace)} authorization was not completed in time",
            )
    elif connection.status is Status.CONNECTED:
        return await _verified(ports, connection, report)
    return report


async def _verified(
    ports: OauthPorts, connection: Connection, report: ConnectionReport
) -> ConnectionReport:
    try:
        await kept_by(connection.marketplace_type).check(ports, connection)
    except CredentialsGone as gone:
        return replace(
            report, status=Status.ERROR, last_error=str(gone), credentials_verified=False
        )
    except VaultError as exc:
        return replace(report, last_error=f"could not verify the credentials in Vault: {exc}")
    return replace(report, credentials_verified=True)


# --- disconnect --------------------------------------------------------------------------


async def disconnect(
    ports: OauthPorts, tenant: TenantContext, marketplace: str
) -> ConnectionReport:
    """Credentials out of Vault, row DISCONNECTED, ``connection.disconnected`` queued, under
    the tenant's lock. Idempotent: a DISCONNECTED connection is answered as it is."""
    tenant_id, marketplace = tenant.tenant_id, marketplace.upper()
    if not served(marketplace):
        if await ports.connections.get_connection(tenant_id, marketplace) is None:
            raise MarketplaceNotServed(not_served(marketplace))
        raise ConnectionKept(kept_unserved(marketplace))
    async with ports.unit_of_work() as uow:
        await uow.store.lock_tenants([tenant_id], marketplace)
        connection = await uow.store.get_connection(tenant_id, marketplace)
        if connection is None:
            raise NotConnected(f"tenant {tenant_id} has no {_title(marketplace)} connection")
        if connection.status is Status.DISCONNECTED:
            return ConnectionReport.of(connection)
        reason = f"disconnected by user {tenant.principal.user_id}"
        ended = await end_connection(ports, uow, tenant_id, marketplace, reason)
    log.info("disconnected", extra={"tenant_id": tenant_id, "marketplace": marketplace})
    return ConnectionReport.of(ended or connection)


async def end_connection(
    ports: OauthPorts, uow: OauthUnit, tenant_id: str, marketplace: str, reason: str
) -> Connection | None:
    """Credentials out of Vault, row DISCONNECTED, event queued; the tenant's lock is held.
    ``CredentialsUnavailable`` (nothing changed) when Vault refuses the delete."""
    await delete_credentials(ports, tenant_id, marketplace)
    ended = await uow.store.mark_disconnected(tenant_id, marketplace)
    if ended is not None:
        uow.emit(disconnected(ended, reason, received_in_error=False))
    return ended


async def delete_credentials(ports: OauthPorts, tenant_id: str, marketplace: str) -> None:
    """Always the tenant's path, even when the row has none: credentials stored by a
    connection that failed afterwards must not stay behind."""
    kept = kept_by(marketplace)
    try:
        await kept.delete(ports, tenant_id, marketplace)
    except VaultError as exc:
        log.error(
            "could not delete the credentials",
            extra={"marketplace": marketplace, "reason": str(exc)},
        )
        raise CredentialsUnavailable(
            f"could not delete the {_title(marketplace)} {kept.called} from Vault; "
            "nothing was changed, retry"
        ) from None


def disconnected(
    ended: Connection, reason: str | None, *, received_in_error: bool
) -> ConnectionDisconnected:
    return ConnectionDisconnected(
        tenant_id=ended.tenant_id,
        marketplace=ended.marketplace_type,
        connection_id=ended.id,
        seller_id=ended.seller_id,
        reason=reason,
        received_in_error=received_in_error,
    )
