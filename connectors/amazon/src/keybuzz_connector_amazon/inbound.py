"""The relay's inbound addresses: Amazon forwards a buyer's message to the address the
seller registered for the marketplace, ``amazon.<tenantId>.<country>.<token>@<domain>``."""

from __future__ import annotations


class AmazonInboundAddresses:
    # Made with the tenant, in the countries it asks for: the seller registers each in
    # Seller Central, before or after consenting.
    on_connection = False
    setup = (
        "Forward the buyer-message e-mails Amazon sends to your Seller Central address to "
        "this address (a forwarding rule of your mailbox)."
    )

    def address(self, tenant_id: str, country: str, token: str, domain: str) -> str:
        """Lowercase throughout: mail systems do not preserve case reliably."""
        return f"amazon.{tenant_id}.{country}.{token}@{domain}".lower()
