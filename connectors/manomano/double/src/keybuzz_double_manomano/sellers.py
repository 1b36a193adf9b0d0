"""The double's sellers (a seller contract each, its partner API key) and their orders,
made from the sandbox's seed: the same every start. Orders span 120 days before the
sandbox's anchor, so a 90-day backfill reads some and leaves the older ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from keybuzz_sandbox.double_kit.people import nth_buyer

CONTRACTS = {1001: "Brico Sud", 1002: "Jardin Plus", 1003: "Outils Pro"}
ORDERS_PER_SELLER = 40
DAYS = 120
# SANDBOX_MANOMANO_EXTRA_SHOPS: seller n's contract is EXTRA_CONTRACTS + n (five digits,
# never a seeded one), its orders 16 over the 120 days (12 or so in a 90-day backfill).
EXTRA_CONTRACTS = 50_000
EXTRA_ORDERS = 16
# ManoMano's statuses [third-party: Lengow's and zynk's guides], cycled through.
STATUSES = (
    "SHIPPED",
    "PREPARATION",
    "PENDING",
    "SHIPPED",
    "REFUNDED",
    "REFUSED",
    "WAITING_PAYMENT",
    "REFUNDING",
    "CANCELLED",
)
PRODUCTS = (
    ("PERC-18V", "Perceuse-visseuse 18 V sans fil", "89.90"),
    ("TOND-46", "Tondeuse thermique 46 cm", "249.00"),
    ("ECH-3x9", "Échelle transformable 3 x 9 marches", "119.50"),
    ("VIS-500", "Boîte de 500 vis à bois 4 x 40", "12.90"),
)


def api_key(seed: str, contract: int, generation: int = 0) -> str:
    digest = hashlib.sha256(f"{seed}|manomano|{contract}|{generation}".encode()).hexdigest()
    return f"mmk_{digest[:40]}"


def order_reference(contract: int, index: int) -> str:
    """``M`` and 12 digits, unique per seller and order: the contract's digits, then the
    index's (a seeded contract has four, an extra one five)."""
    width = 12 - len(str(contract))
    return f"M{contract}{index:0{width}d}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Seller:
    contract: int
    name: str
    key: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)


def seeded(seed: str, anchor: float, extra: int = 0) -> dict[int, Seller]:
    """The seeded sellers (40 orders each), then ``extra`` small ones (16 each)."""
    at = datetime.fromtimestamp(anchor, UTC)
    names = [(contract, name, ORDERS_PER_SELLER) for contract, name in CONTRACTS.items()]
    names += [
        (EXTRA_CONTRACTS + n, f"Boutique ManoMano {n:05d}", EXTRA_ORDERS)
        for n in range(1, extra + 1)
    ]
    sellers = {}
    for contract, name, count in names:
        seller = Seller(contract, name, api_key(seed, contract))
        for index in range(count):
            created = at - timedelta(days=DAYS * (count - index) / count)
            reference = order_reference(contract, index + 1)
            seller.orders[reference] = order(contract, reference, index, created, at)
        sellers[contract] = seller
    return sellers


def order(
    contract: int, reference: str, index: int, created: datetime, now: datetime
) -> dict[str, Any]:
    status = STATUSES[index % len(STATUSES)]
    first, last = nth_buyer(index)
    sku, title, price = PRODUCTS[index % len(PRODUCTS)]
    updated = min(created + timedelta(hours=20), now)
    return {
        "order_reference": reference,
        "seller_contract_id": contract,
        "status": status,
        "created_at": iso(created),
        "status_updated_at": iso(updated),
        "customer": {"firstname": first, "lastname": last},
        "products": [
            {
                "seller_sku": sku,
                "title": title,
                "quantity": 1 + index % 3,
                "price": {"amount": price, "currency": "EUR"},
            }
        ],
        "shipped_at": iso(updated) if status in ("SHIPPED", "REFUNDING", "REFUNDED") else None,
        "tracking_number": f"6A{contract}{index:06d}" if status == "SHIPPED" else None,
    }
