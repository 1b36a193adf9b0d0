"""Inbound addresses and tenant folders: the poller's rules, free of SMTP, IMAP and SQL.

An inbound address is ``<relay label>.<tenantId>.<country>.<token>@<INBOUND_DOMAIN>``
(created by tenant-sync; the label is the marketplace's relay's ``address_label``,
``relays.py``). Each tenant's mail is filed into a
folder of its own in the poller's IMAP account, so reading a tenant never
scans another tenant's mail.

A reply's envelope sender is the inbound address with a bounce tag in its local part,
``<relay label>.<tenantId>.<country>.<token>+b-<reply id>-<signature>@<INBOUND_DOMAIN>``
(VERP signed as BATV does, ``inbound/bounce_auth.py``): when the signature is ours the MX
files mail to it like mail to the plain address (``split_bounce_tag``), and only a bounce
sent there can mark that reply ``BOUNCED`` (docs/POLLER.md, "Bounces").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple, Protocol

import msgspec
from keybuzz_shared.ids import is_tenant_id

from keybuzz_poller.inbound.relays import address_labels

# Dovecot files ``keybuzz+<folder>@…`` into <folder>: the prefix keeps a tenant
# called "INBOX" (a valid tenant id) out of the real INBOX.
FOLDER_PREFIX = "tenant-"
# Prepended by the MX to every mail it accepts: the envelope recipient, which a
# seller's forwarding rule does not put in To:. The topmost one is ours.
INBOUND_HEADER = "X-KeyBuzz-Inbound-Address"
# Prepended next to it: ``sha256:<hex>`` of the mail as the MX received it, the mail's
# identity when it has no Message-ID (the trace lines delivery adds differ each time).
DIGEST_HEADER = "X-KeyBuzz-Content-Digest"
# And when the MX accepted it (RFC 3339, UTC, microseconds): where a ticket's arrival lag
# (MX acceptance -> ticket committed) starts.
ACCEPTED_HEADER = "X-KeyBuzz-Accepted-At"


def seconds_since_accepted(accepted_at: datetime, at: datetime) -> float:
    """From the MX's acceptance stamp to ``at``; never negative: the MX that stamped the
    mail and the instance that reads it may run on hosts whose clocks differ a little."""
    return max(0.0, (at - accepted_at).total_seconds())


# "+b-<reply id: uuid, 32 hex>-<signature: 16 base32>" at the end of the local part.
_BOUNCE_TAG = re.compile(r"\+b-([0-9a-f]{32})-([a-z2-7]{16})$")


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    """A known, enabled inbound address, and where its mail goes."""

    address: str
    tenant_id: str
    marketplace: str
    country: str

    @property
    def folder(self) -> str:
        return folder_for(self.tenant_id)


class ProjectedAddress(NamedTuple):
    """One of a tenant's addresses as the projection keeps it (``tenant.synced``)."""

    email: str  # normalised
    marketplace: str
    country: str  # upper case
    enabled: bool  # False: kept, but its mail refused (the address is DISABLED)


class RecipientLookup(Protocol):
    """What the MX asks before accepting a recipient (None: refuse it)."""

    async def lookup(self, address: str) -> Recipient | None: ...


class AddressParts(msgspec.Struct, frozen=True, kw_only=True):
    marketplace: str
    tenant_id: str
    country: str


class BounceTag(msgspec.Struct, frozen=True, kw_only=True):
    """What a reply's envelope sender carries: the reply, and our signature of it."""

    address: str  # the inbound address it was made from (lower case, no tag)
    reply_id: str  # the reply's ticket message id, as 32 hex digits
    signature: str


def folder_for(tenant_id: str) -> str:
    return FOLDER_PREFIX + tenant_id


def normalise(address: str) -> str:
    """Addresses are stored lower-case (tenant-sync writes them so)."""
    return address.strip().strip("<>").lower()


def split_bounce_tag(address: str) -> tuple[str, BounceTag | None]:
    """The inbound address (normalised) an address is made from, and its bounce tag if any."""
    address = normalise(address)
    local, at, domain = address.rpartition("@")
    found = _BOUNCE_TAG.search(local)
    if not at or found is None:
        return address, None
    plain = f"{local[: found.start()]}@{domain}"
    return plain, BounceTag(address=plain, reply_id=found[1], signature=found[2])


def with_bounce_tag(address: str, reply_id: str, signature: str) -> str:
    local, _, domain = normalise(address).rpartition("@")
    return f"{local}+b-{reply_id}-{signature}@{domain}"


def parse_address(address: str) -> AddressParts | None:
    """Marketplace, tenant and country of an inbound address (bounce tag or not); None if it
    is not one."""
    local, _, domain = split_bounce_tag(address)[0].rpartition("@")
    parts = local.split(".")
    labels = address_labels()
    if not domain or len(parts) != 4 or parts[0] not in labels:
        return None
    marketplace, tenant_id, country, token = parts
    if not (is_tenant_id(tenant_id) and len(country) == 2 and country.isalpha() and token):
        return None
    return AddressParts(
        marketplace=labels[marketplace], tenant_id=tenant_id, country=country.upper()
    )
