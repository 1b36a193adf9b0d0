"""Marketplace connection: statuses, the stored connection and what a seller is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import msgspec
from keybuzz_shared.connectors.credential_form import account_of
from keybuzz_shared.connectors.registry import (
    connector_for,
    connector_serving,
    connectors,
)
from keybuzz_shared.connectors.seam import connects_by


def shop_marketplaces() -> tuple[str, ...]:
    """The marketplaces whose shop is connected with credentials typed by the seller
    (``credential_connect.py``), as the registry serves them now."""
    return tuple(c.marketplace for c in connectors() if connects_by(c) == "CREDENTIALS")


def redirect_marketplaces() -> tuple[str, ...]:
    """Those a seller connects by consenting on the marketplace's site (``flow.py``)."""
    return tuple(c.marketplace for c in connectors() if connects_by(c) == "OAUTH_REDIRECT")


# As the registry was at import: the redirect flow's paths and cookie names are fixed then.
REDIRECT_MARKETPLACES = redirect_marketplaces()


def oauth_connects(marketplace: str) -> bool:
    """oauth makes connections of ``marketplace`` (served now, by a redirect or a form)."""
    connector = connector_serving(marketplace)
    return connector is not None and connects_by(connector) is not None


class Status(StrEnum):
    NOT_CONNECTED = "NOT_CONNECTED"  # no row: never started
    PENDING = "PENDING"  # consent started, callback not seen yet
    CONNECTED = "CONNECTED"
    REAUTH_REQUIRED = "REAUTH_REQUIRED"  # LWA refused the refresh token (invalid_grant)
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"  # last attempt failed, or credentials vanished from Vault


@dataclass(frozen=True)
class Connection:
    id: str
    tenant_id: str
    marketplace_type: str
    status: Status
    seller_id: str | None
    marketplace_ids: list[str]
    region: str | None
    vault_path: str | None
    connected_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Connected:
    """What the callback learnt, to be recorded as a CONNECTED connection."""

    tenant_id: str
    marketplace: str
    user_id: str
    seller_id: str
    marketplace_id: str
    region: str
    vault_path: str


@dataclass(frozen=True)
class ShopCredentials:
    """What a shop authenticates with: its connector's ``credential_fields``, by name, as
    the connector normalised them (Vault is their only place)."""

    tenant_id: str
    marketplace: str  # one of shop_marketplaces()
    fields: Mapping[str, str] = field(repr=False)
    created_at: str = ""

    @property
    def shop_id(self) -> str:
        """The shop's id on the marketplace (the field its connector declares ``account``)."""
        return account_of(connector_for(self.marketplace).credential_fields, self.fields)


@dataclass(frozen=True)
class ShopConnected:
    """A verified shop, to be recorded as the tenant's CONNECTED connection."""

    tenant_id: str
    marketplace: str
    user_id: str
    shop_id: str
    vault_path: str
    identity: str  # the account the API answered for (the connector's credential check)


@dataclass(frozen=True)
class StoredShop:
    """A live (CONNECTED, REAUTH_REQUIRED) shop connection's id as it is stored."""

    connection_id: str
    tenant_id: str
    marketplace: str
    seller_id: str
    identity: str | None  # the account it holds (its connector's credential check)


class ShopIdCollision(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A connection whose shop id, made canonical, is a shop ``held_by`` holds: both kept,
    for an operator to settle (as ``keybuzz.oauth.shop-id-collisions`` lists it)."""

    connection_id: str
    tenant_id: str
    marketplace: str
    shop_id: str  # as the connection holds it
    canonical_shop_id: str
    held_by: str  # the other connection's id
    held_by_tenant_id: str
    held_by_marketplace: str
    found_at: datetime


@dataclass(frozen=True)
class ConnectionReport:
    """What the status and disconnect use cases answer, free of any wire format."""

    status: Status
    seller_id: str | None = None
    marketplace_ids: tuple[str, ...] = ()
    region: str | None = None
    connected_at: datetime | None = None
    last_error: str | None = None
    # Whether the refresh token behind a CONNECTED connection is really in Vault
    # (None: not applicable, or Vault could not be asked).
    credentials_verified: bool | None = None
    # Why the connection is neither used nor changed now: its marketplace is not served
    # (removed from its connector family's catalogue); None: it is served.
    not_served: str | None = None

    @classmethod
    def of(cls, connection: Connection) -> ConnectionReport:
        return cls(
            status=connection.status,
            seller_id=connection.seller_id,
            marketplace_ids=tuple(connection.marketplace_ids),
            region=connection.region,
            connected_at=connection.connected_at,
            last_error=connection.last_error,
        )
