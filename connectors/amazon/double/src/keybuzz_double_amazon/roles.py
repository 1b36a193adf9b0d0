"""The application's SP-API roles and the restricted data they open in Orders 2026-01-01
(no Restricted Data Token there; v0's RDTs are not served: our connector asks for none)."""

from __future__ import annotations

from typing import Literal

import msgspec

D2C_SHIPPING = "direct-to-consumer-shipping"
TAX_ROLES = frozenset({"tax-invoicing", "tax-remittance"})
# The roles an application may be given (SANDBOX_APP_ROLES names some of them).
KnownRole = Literal[
    "direct-to-consumer-shipping",
    "tax-invoicing",
    "tax-remittance",
    "amazon-fulfillment",
    "buyer-communication",
    "buyer-solicitation",
    "finance-and-accounting",
    "inventory-and-order-tracking",
    "pricing",
    "product-listing",
    "selling-partner-insights",
]
# What KeyBuzz's helpdesk application is approved for.
DEFAULT_ROLES: tuple[KnownRole, ...] = (
    "inventory-and-order-tracking",
    "buyer-communication",
    "direct-to-consumer-shipping",
)

# Orders 2026-01-01 shows PII only for orders in these (v0-vocabulary) statuses.
PII_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped"})


class Roles(msgspec.Struct, frozen=True):
    granted: frozenset[str]

    def shipping_pii(self, status: str, channel: str) -> bool:
        """2026-01-01 buyer.buyerEmail, and the recipient's name, address lines, postal code
        and phone: Direct-to-Consumer Shipping, merchant orders."""
        return D2C_SHIPPING in self.granted and channel == "MFN" and status in PII_STATUSES

    def buyer_name(self, status: str, channel: str) -> bool:
        allowed = TAX_ROLES if channel == "AFN" else TAX_ROLES | {D2C_SHIPPING}
        return bool(self.granted & allowed) and status in PII_STATUSES
