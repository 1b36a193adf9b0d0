"""Tenant-sync domain rules, free of HTTP and SQL.

The product app writes plans and statuses in lowercase (``pro``, ``active``);
the marketplace side keeps uppercase enums (``PRO``, ``ACTIVE``, seed 004).
Inbound addresses are the connector's (``inbound_addresses``): one per tenant, country and
marketplace whose buyers write by e-mail, with a random token.
A tenant's marketplace connections are what the oauth service's ``connection.*``
events last said (:class:`ConnectionState`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal, NamedTuple

import msgspec
from keybuzz_shared.connectors.seam import InboundAddresses
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    InboundAddressInfo,
    TenantSynced,
    new_event_id,
)
from keybuzz_shared.ids import COUNTRY_CODE_PATTERN, is_tenant_id

ARCHIVED = "ARCHIVED"
# Used when a request asks for an inbound address without saying where: France
# is KeyBuzz's first market and the first version's default (seed 004).
DEFAULT_COUNTRY = "FR"

# product value → marketplace enum. Anything else is refused rather than guessed.
PLANS = {"free": "FREE", "starter": "STARTER", "pro": "PRO", "enterprise": "ENTERPRISE"}
STATUSES = {"active": "ACTIVE", "trial": "TRIAL", "suspended": "SUSPENDED", "archived": ARCHIVED}

# 16 base32 characters = 80 random bits: the address is the only thing that
# lets a mail into a tenant's helpdesk, so it must not be guessable (the first
# version used 6 characters).
TOKEN_LENGTH = 16
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_COUNTRY = re.compile(COUNTRY_CODE_PATTERN)


class UnknownValue(ValueError):
    """A product value (plan, status, tenant id) with no marketplace counterpart."""


class _Tenant(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    plan: str
    status: str


class MarketplaceTenant(_Tenant, frozen=True, kw_only=True):
    """A tenant as the marketplace side stores it (uppercase enums)."""

    # When this state was true in the product: the ordering key of updates.
    as_of: datetime | None = None


class ProductTenant(_Tenant, frozen=True, kw_only=True):
    """A row of the product database's ``tenants`` table (lowercase values)."""

    country: str | None = None
    updated_at: datetime | None = None

    def to_marketplace(self) -> MarketplaceTenant:
        return to_marketplace(self.id, self.name, self.plan, self.status, self.updated_at)


def _map(kind: str, table: dict[str, str], value: str) -> str:
    mapped = table.get(value.strip().lower())
    if mapped is None:
        raise UnknownValue(f"unknown {kind} {value!r} (expected one of {', '.join(table)})")
    return mapped


def map_plan(plan: str) -> str:
    return _map("plan", PLANS, plan)


def map_status(status: str) -> str:
    return _map("status", STATUSES, status)


def to_marketplace(
    tenant_id: str, name: str, plan: str, status: str, as_of: datetime | None = None
) -> MarketplaceTenant:
    """Map a product tenant; raises :class:`UnknownValue` for what cannot be mapped."""
    if not is_tenant_id(tenant_id):
        raise UnknownValue(f"invalid tenant id {tenant_id!r}")
    if not name.strip():
        raise UnknownValue("empty tenant name")
    return MarketplaceTenant(
        id=tenant_id, name=name, plan=map_plan(plan), status=map_status(status), as_of=as_of
    )


def new_token() -> str:
    """Random, not derived from anything: knowing a tenant id does not reveal its address."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def address_countries(countries: Iterable[str | None]) -> list[str]:
    """Uppercase, de-duplicated, in order; the default country when none is given."""
    wanted = list(dict.fromkeys(c.strip().upper() for c in countries if c))
    for country in wanted:
        if not _COUNTRY.search(country):
            raise UnknownValue(f"invalid country {country!r} (expected a two-letter code)")
    return wanted or [DEFAULT_COUNTRY]


class NewAddress(NamedTuple):
    country: str
    token: str
    email: str


def new_addresses(
    addresses: InboundAddresses, tenant_id: str, countries: Sequence[str], domain: str
) -> list[NewAddress]:
    """Candidates for the countries asked; the store keeps existing addresses instead."""
    found = []
    for country in countries:
        token = new_token()
        found.append(
            NewAddress(country, token, addresses.address(tenant_id, country, token, domain))
        )
    return found


def in_sync(product: ProductTenant | None, marketplace: MarketplaceTenant | None) -> bool:
    if product is None or marketplace is None:
        return False
    try:
        expected = product.to_marketplace()
    except UnknownValue:
        return False
    return (expected.name, expected.plan, expected.status) == (
        marketplace.name,
        marketplace.plan,
        marketplace.status,
    )


def synced_event(
    tenant: MarketplaceTenant, addresses: list[InboundAddressInfo], caused_by: str | None
) -> TenantSynced:
    """A redelivered event yields the same ``tenant.synced`` id, so the outbox keeps one."""
    return TenantSynced(
        tenant_id=tenant.id,
        event_id=f"{caused_by}:synced" if caused_by else new_event_id(),
        name=tenant.name,
        plan=tenant.plan,
        status=tenant.status,
        inbound_addresses=addresses,
    )


# --- marketplace connections (the projection of oauth's connection.* events) ----------

CONNECTED = "CONNECTED"
DISCONNECTED = "DISCONNECTED"
REAUTH_REQUIRED = "REAUTH_REQUIRED"


class ConnectionChange(msgspec.Struct, frozen=True, kw_only=True):
    """``connection.connected`` or ``connection.disconnected``: the connection's life."""

    tenant_id: str
    marketplace: str
    status: str  # CONNECTED | DISCONNECTED
    connection_id: str | None
    seller_id: str | None
    # None: the event does not say (a disconnection keeps the marketplaces it had).
    marketplace_ids: list[str] | None = None
    region: str | None = None
    reason: str | None = None
    # The event's occurredAt: the ordering key of these changes.
    as_of: datetime


class CredentialsRefused(msgspec.Struct, frozen=True, kw_only=True):
    """``connection.reauth_required``: LWA refused the refresh token at ``at``."""

    tenant_id: str
    marketplace: str
    seller_id: str | None
    reason: str | None
    at: datetime


class ConnectionState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A tenant's connection to one marketplace as the ``connection.*`` events tell it;
    camelCase, as the status endpoint shows it (like the events' own structs)."""

    marketplace: str
    status: str  # CONNECTED | DISCONNECTED | REAUTH_REQUIRED
    connection_id: str | None
    seller_id: str | None
    marketplace_ids: list[str]
    region: str | None
    connected_at: datetime | None
    # Why it was disconnected or needs a new consent.
    reason: str | None
    # When the newest event applied happened (its occurredAt).
    as_of: datetime


class MarketplaceConnection(ConnectionState, frozen=True, kw_only=True):
    """A row of the projection: the connection's life (status CONNECTED or DISCONNECTED)
    and the newest refusal of a refresh token seen for this tenant and marketplace."""

    refused_at: datetime | None = None
    refused_seller_id: str | None = None
    refused_reason: str | None = None

    def needs_reauthorization(self) -> bool:
        """The oauth service's rule: a refusal counts against the connection made before it,
        of the seller it names (any seller when it names none)."""
        if self.status != CONNECTED or self.refused_at is None or self.connected_at is None:
            return False
        same_seller = self.refused_seller_id in (None, self.seller_id)
        return same_seller and self.connected_at <= self.refused_at

    def as_shown(self) -> ConnectionState:
        """REAUTH_REQUIRED, with the refusal's reason and time, when the refusal counts."""
        state = {name: getattr(self, name) for name in ConnectionState.__struct_fields__}
        if self.needs_reauthorization():
            state.update(
                status=REAUTH_REQUIRED,
                reason=self.refused_reason,
                as_of=self.refused_at or self.as_of,
            )
        return ConnectionState(**state)


def connection_change(event: ConnectionConnected | ConnectionDisconnected) -> ConnectionChange:
    said = ConnectionChange(
        tenant_id=event.tenant_id,
        marketplace=event.marketplace,
        status=DISCONNECTED,
        connection_id=event.connection_id,
        seller_id=event.seller_id,
        as_of=event.occurred_at,
    )
    if isinstance(event, ConnectionConnected):
        return msgspec.structs.replace(
            said, status=CONNECTED, marketplace_ids=event.marketplace_ids, region=event.region
        )
    return msgspec.structs.replace(said, reason=event.reason)


def credentials_refused(event: ConnectionReauthRequired) -> CredentialsRefused:
    return CredentialsRefused(
        tenant_id=event.tenant_id,
        marketplace=event.marketplace,
        seller_id=event.seller_id,
        reason=event.reason,
        at=event.occurred_at,
    )


# --- what the use cases answer (app.py and micro.py give them their wire shape) ------

SyncOutcome = Literal["created", "updated", "skipped"]


class TenantSyncResult(msgspec.Struct, frozen=True, kw_only=True):
    """One product tenant copied: what happened to its row, and its addresses."""

    tenant: MarketplaceTenant
    outcome: SyncOutcome
    addresses: list[InboundAddressInfo]
    # The address of the country asked for, when addresses were asked for.
    requested_address: str | None = None


class SyncFailure(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    error: str


class SyncAllResult(msgspec.Struct, frozen=True, kw_only=True):
    """Every product tenant copied: tenant ids by outcome (sorted), and those refused."""

    total: int
    created: list[str]
    updated: list[str]
    skipped: list[str]
    errors: list[SyncFailure]


class TenantStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Product vs marketplace view of one tenant, its addresses and its connections."""

    tenant_id: str
    product: ProductTenant | None
    marketplace: MarketplaceTenant | None
    in_sync: bool
    addresses: list[InboundAddressInfo]
    connections: list[ConnectionState]
