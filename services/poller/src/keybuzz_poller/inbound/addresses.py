"""Inbound addresses and tenant folders: the poller's rules, free of SMTP, IMAP and SQL.

An inbound address is ``amazon.<tenantId>.<country>.<token>@<INBOUND_DOMAIN>``
(created by tenant-sync, docs/ARCHITECTURE.md, "Amazon facts"). Each tenant's mail is filed into a
folder of its own in the poller's IMAP account, so reading a tenant never
scans another tenant's mail.
"""

from __future__ import annotations

from typing import Protocol

import msgspec
from keybuzz_shared.ids import AMAZON, is_tenant_id

# Dovecot files ``keybuzz+<folder>@…`` into <folder>: the prefix keeps a tenant
# called "INBOX" (a valid tenant id) out of the real INBOX.
FOLDER_PREFIX = "tenant-"
# Prepended by the MX to every mail it accepts: the envelope recipient, which a
# seller's forwarding rule does not put in To:. The topmost one is ours.
INBOUND_HEADER = "X-KeyBuzz-Inbound-Address"
_MARKETPLACES = {"amazon": AMAZON}


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    """A known, enabled inbound address, and where its mail goes."""

    address: str
    tenant_id: str
    marketplace: str
    country: str

    @property
    def folder(self) -> str:
        return folder_for(self.tenant_id)


class RecipientLookup(Protocol):
    """What the MX asks before accepting a recipient (None: refuse it)."""

    async def lookup(self, address: str) -> Recipient | None: ...


class AddressParts(msgspec.Struct, frozen=True, kw_only=True):
    marketplace: str
    tenant_id: str
    country: str


def folder_for(tenant_id: str) -> str:
    return FOLDER_PREFIX + tenant_id


def normalise(address: str) -> str:
    """Addresses are stored lower-case (tenant-sync writes them so)."""
    return address.strip().strip("<>").lower()


def parse_address(address: str) -> AddressParts | None:
    """Marketplace, tenant and country of an inbound address; None if it is not one."""
    local, _, domain = normalise(address).rpartition("@")
    parts = local.split(".")
    if not domain or len(parts) != 4 or parts[0] not in _MARKETPLACES:
        return None
    marketplace, tenant_id, country, token = parts
    if not (is_tenant_id(tenant_id) and len(country) == 2 and country.isalpha() and token):
        return None
    return AddressParts(
        marketplace=_MARKETPLACES[marketplace], tenant_id=tenant_id, country=country.upper()
    )
