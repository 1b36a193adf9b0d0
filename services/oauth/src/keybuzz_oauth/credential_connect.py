"""Connect a shop of a CREDENTIALS marketplace: the seller types the fields its connector
declares (``credential_fields``), which the connector's declaration checks and normalises
(``keybuzz_shared.connectors.credential_form``).

Order matters in ``connect``: the marketplace is asked first whether the credentials
authenticate and which account they are (a refused key stores nothing, and only the key's
holder learns whether the shop is taken); then, in one unit of work holding the account's
and the tenant's locks, an account held by another connection is refused (another
tenant's, or the tenant's own under another marketplace value: one API may serve several
marketplace values, and the account is what its API answered for, never the path it was
sent to), the connection becomes CONNECTED, the credentials go to Vault whole (their only
place) and
``connection.connected`` is queued. The row is written
before Vault, in the same transaction: a refused row (the database's own "one tenant per
shop") leaves Vault untouched, and a failed Vault write rolls the row back. The same
tenant posting again replaces the key (rotation) or the shop.

A secret field (the key) never reaches a row, a log, an event or an error message. Nothing here knows
HTTP: refusals are the domain errors of ``errors.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from keybuzz_shared.connectors.credential_form import CredentialFieldInvalid, read_credentials
from keybuzz_shared.connectors.registry import connector_for, connector_serving
from keybuzz_shared.connectors.seam import connects_by
from keybuzz_shared.events import ConnectionConnected
from keybuzz_shared.redaction import secret_scope
from keybuzz_shared.tenancy import TenantContext
from keybuzz_shared.vault import VaultError

from keybuzz_oauth.connections import (
    Connection,
    ShopConnected,
    ShopCredentials,
    shop_marketplaces,
)
from keybuzz_oauth.errors import (
    CredentialsUnavailable,
    InvalidCredentials,
    MarketplaceError,
    MarketplaceNotServed,
    MarketplaceUnavailable,
    ShopAlreadyConnected,
    ShopCredentialsRefused,
)
from keybuzz_oauth.ports import (
    OauthPorts,
    OauthUnit,
    ShopAnswerUnreadable,
    ShopRefused,
    ShopTaken,
    ShopUnavailable,
)
from keybuzz_oauth.status_and_disconnect import delete_credentials, disconnected

log = logging.getLogger(__name__)


def shop_marketplace(name: str) -> str:
    """A marketplace value, any case (the route's lower case), served now by a connector
    whose shops connect with a credential form; MarketplaceNotServed for anything else."""
    marketplace = name.upper()
    connector = connector_serving(marketplace)
    kind = None if connector is None else connects_by(connector)
    if kind != "CREDENTIALS":
        known = ", ".join(m.lower() for m in shop_marketplaces())
        raise MarketplaceNotServed(
            f"no shop of marketplace {name!r} is connected with credentials here; known: {known}"
        )
    return marketplace


def _title(marketplace: str) -> str:
    return connector_for(marketplace).display_name


# --- connect -----------------------------------------------------------------------------


async def connect(
    ports: OauthPorts, tenant: TenantContext, marketplace: str, typed: Mapping[str, object]
) -> Connection:
    """``typed``: the request body, keyed by the fields' JSON names."""
    marketplace = shop_marketplace(marketplace)
    try:
        fields = read_credentials(connector_for(marketplace).credential_fields, typed)
    except CredentialFieldInvalid as exc:
        raise InvalidCredentials(str(exc)) from None
    credentials = ShopCredentials(
        tenant_id=tenant.tenant_id,
        marketplace=marketplace,
        fields=fields,
        created_at=ports.clock().isoformat(),
    )
    with secret_scope(*_secrets(credentials)):
        identity = await _verify(ports, credentials)
    user_id = tenant.principal.user_id
    async with ports.unit_of_work() as uow:
        before = await _claim(uow, credentials, identity, user_id)
        connection = await _record_connected(uow, credentials, identity, user_id)
        title = _title(credentials.marketplace)
        with _vault_change(f"the {title} key could not be stored; nothing was connected, retry"):
            await ports.vault.store_shop(credentials)
    rotated = before is not None and before.seller_id == credentials.shop_id
    log.info(
        "shop connected",
        extra={
            "tenant_id": credentials.tenant_id,
            "marketplace": credentials.marketplace,
            "shop_id": credentials.shop_id,
            "key_rotated": rotated,
        },
    )
    return connection


async def _verify(ports: OauthPorts, credentials: ShopCredentials) -> str:
    name = _title(credentials.marketplace)
    where = {
        "tenant_id": credentials.tenant_id,
        "marketplace": credentials.marketplace,
        "shop_id": credentials.shop_id,
    }
    try:
        return await ports.shops.verify(credentials)
    except ShopRefused:
        log.warning("shop credentials refused", extra=where)
        raise ShopCredentialsRefused(
            f"{name} refused these credentials: check {_typed(credentials.marketplace)}"
        ) from None
    except ShopUnavailable as exc:
        log.warning("shop credentials not checked", extra={**where, "reason": str(exc)})
        raise MarketplaceUnavailable(
            f"{name} did not answer; nothing was connected, retry later", exc.retry_after
        ) from None
    except ShopAnswerUnreadable as exc:
        log.error("shop credentials check failed", extra={**where, "reason": str(exc)})
        raise MarketplaceError(
            f"{name} answered the check with an error; nothing was connected"
        ) from None


def _secrets(credentials: ShopCredentials) -> list[str]:
    """The typed secret values: masked, in any form the marketplace may echo them, in what
    the check logs."""
    fields = connector_for(credentials.marketplace).credential_fields
    return [credentials.fields[f.name] for f in fields if f.secret and f.name in credentials.fields]


def _typed(marketplace: str) -> str:
    """The form's fields, as a seller reads them ("the Partner ID, the Shop ID and the API
    key")."""
    labels = [f"the {f.label}" for f in connector_for(marketplace).credential_fields]
    return " and ".join(filter(None, (", ".join(labels[:-1]), labels[-1])))


async def _claim(
    uow: OauthUnit, credentials: ShopCredentials, identity: str, user_id: str
) -> Connection | None:
    """The account's lock, then the tenant's (held until the unit of work ends); refused
    when another connection holds the account. Returns the tenant's connection as it was."""
    tenant_id, marketplace = credentials.tenant_id, credentials.marketplace
    await uow.store.lock_account(identity)
    holders = await uow.store.account_holders(identity)
    others = [held for held in holders if held != (tenant_id, marketplace)]
    if any(holder != tenant_id for holder, _ in others):
        raise _taken(credentials, user_id)
    if others:
        title = _title(others[0][1])
        raise _taken(
            credentials,
            user_id,
            f"this shop is already connected to this KeyBuzz account as its {title} shop; "
            "one shop is connected once (disconnect it there first to move it)",
        )
    await uow.store.lock_tenants([tenant_id], marketplace)
    return await uow.store.get_connection(tenant_id, marketplace)


def _taken(
    credentials: ShopCredentials, user_id: str, message: str | None = None
) -> ShopAlreadyConnected:
    """Refused: the shop is held by another tenant (``message`` None, that tenant unnamed),
    or by this tenant under another marketplace value (``message`` says which)."""
    log.warning(
        "shop already connected elsewhere",
        extra={
            "tenant_id": credentials.tenant_id,
            "marketplace": credentials.marketplace,
            "user_id": user_id,
            "same_tenant": message is not None,
        },
    )
    return ShopAlreadyConnected(
        message
        or f"this {_title(credentials.marketplace)} shop is already connected to another "
        "KeyBuzz account; disconnect it there first"
    )


@contextmanager
def _vault_change(failure: str) -> Iterator[None]:
    """A Vault write or delete: a failure is logged and said as ``failure`` (the unit of
    work it is in rolls back, so nothing changed)."""
    try:
        yield
    except VaultError as exc:
        log.error("Vault refused a shop key change", extra={"reason": str(exc)})
        raise CredentialsUnavailable(failure) from None


async def _record_connected(
    uow: OauthUnit, credentials: ShopCredentials, identity: str, user_id: str
) -> Connection:
    connected = ShopConnected(
        tenant_id=credentials.tenant_id,
        marketplace=credentials.marketplace,
        user_id=user_id,
        shop_id=credentials.shop_id,
        vault_path=connector_for(credentials.marketplace).credentials_path(credentials.tenant_id),
        identity=identity,
    )
    try:
        connection = await uow.store.upsert_shop_connected(connected)
    except ShopTaken:
        raise _taken(credentials, user_id) from None
    uow.emit(
        ConnectionConnected(
            tenant_id=connection.tenant_id,
            marketplace=credentials.marketplace,
            connection_id=connection.id,
            seller_id=credentials.shop_id,
            marketplace_ids=[],  # a shop is on one marketplace: ``marketplace`` says which
            region="",
        )
    )
    return connection


# --- connections ended as duplicates -----------------------------------------------------


async def end_duplicates(ports: OauthPorts) -> int:
    """Finishes the connections migration 004 ended because another connection held their
    shop first: their key leaves Vault and ``connection.disconnected`` says that what came
    through them was received in error. Returns how many; each is said once."""
    ended = 0
    for connection in await ports.connections.ended_as_duplicates():
        tenant_id, marketplace = connection.tenant_id, connection.marketplace_type
        async with ports.unit_of_work() as uow:
            await uow.store.lock_tenants([tenant_id], marketplace)
            finished = await uow.store.finish_duplicate(tenant_id, marketplace)
            if finished is None:
                continue  # another instance said it
            await delete_credentials(ports, tenant_id, marketplace)
            uow.emit(disconnected(finished, finished.last_error, received_in_error=True))
        ended += 1
        log.warning(
            "connection ended: its shop was connected elsewhere first",
            extra={"tenant_id": tenant_id, "marketplace": marketplace},
        )
    return ended
