"""A mail relay's inbound addresses, declared: the seam's ``InboundAddresses`` of a
marketplace whose buyers' mails reach a tenant at ``<label>.<tenantId>.<country>.<token>@<domain>``
(the form the poller reads an address by), lower case throughout since mail systems do
not keep case reliably."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelayAddresses:
    """``label``: the relay's address label; ``setup``: where the seller gives the
    marketplace its address, in the seller's words; ``on_connection``: made when the
    tenant connects the marketplace (else when the tenant is created)."""

    label: str
    setup: str
    on_connection: bool

    def address(self, tenant_id: str, country: str, token: str, domain: str) -> str:
        return f"{self.label}.{tenant_id}.{country}.{token}@{domain}".lower()
