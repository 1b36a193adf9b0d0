"""The seeded Cdiscount shops (Octopia sellers) and their API credentials (development data)."""

from __future__ import annotations

import msgspec
from keybuzz_sandbox.double_kit.books import EXTRA_SHOP_ORDERS, DrawnShopSpec
from keybuzz_sandbox.double_kit.draws import digest, numeric_id


class ShopSpec(DrawnShopSpec, frozen=True, kw_only=True):
    grc_rate: float = 0.5  # share of claims Octopia's customer care (GrcOperator) writes in
    # An extra shop's number (SANDBOX_CDISCOUNT_EXTRA_SHOPS): its seller id is made of it,
    # so 10,000 of them never share one (ids drawn from a hash would).
    extra: int | None = None


class Credentials(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A seller's credentials, as its admin lists and renews them."""

    client_id: str
    client_secret: str
    seller_id: str


def default_shops(bench_orders: int, extra: int = 0) -> tuple[ShopSpec, ...]:
    seeded = (
        ShopSpec(name="KeyBuzz Démo Cdiscount", order_count=60, claim_rate=0.25, grc_rate=0.6),
        ShopSpec(name="KeyBuzz Maison Cdiscount", order_count=3_000),
        ShopSpec(name="KeyBuzz Bench Cdiscount", order_count=bench_orders),
    )
    extras = tuple(
        ShopSpec(name=f"KeyBuzz Boutique Cdiscount {n:05d}", order_count=EXTRA_SHOP_ORDERS, extra=n)
        for n in range(1, extra + 1)
    )
    return seeded + extras


def credentials(seed: str, spec: ShopSpec) -> Credentials:
    slug = "-".join(spec.name.lower().replace("é", "e").split()[1:])
    return Credentials(
        client_id=f"{slug}-{digest(seed, 'client', spec.name, size=4).hex()}",
        client_secret=digest(seed, "secret", spec.name, size=24).hex(),
        seller_id=(
            numeric_id(seed, "seller", spec.name, digits=6)
            if spec.extra is None
            else f"9{spec.extra:07d}"  # 8 digits: never a seeded shop's 6
        ),
    )
