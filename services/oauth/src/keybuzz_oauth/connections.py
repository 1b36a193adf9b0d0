"""Marketplace connection: statuses, the stored connection and what a seller is told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# The marketplaces whose shop is connected with credentials typed by the seller (one API,
# a ``shop_id`` of its own for each); Amazon's is the OAuth flow of ``flow.py``.
SHOP_MARKETPLACES = ("FNAC", "DARTY")


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
    user_id: str
    seller_id: str
    marketplace_id: str
    region: str
    vault_path: str


@dataclass(frozen=True)
class ShopCredentials:
    """What a Fnac or Darty shop authenticates with; the key lives in Vault only."""

    tenant_id: str
    marketplace: str  # one of SHOP_MARKETPLACES
    partner_id: str
    shop_id: str
    key: str = field(repr=False)
    created_at: str = ""


@dataclass(frozen=True)
class ShopConnected:
    """A verified shop, to be recorded as the tenant's CONNECTED connection."""

    tenant_id: str
    marketplace: str
    user_id: str
    shop_id: str
    vault_path: str


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
