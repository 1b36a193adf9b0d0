"""The seeded Fnac and Darty shops and their credentials (development data)."""

from __future__ import annotations

import msgspec
from keybuzz_sandbox.double_kit.books import EXTRA_SHOP_ORDERS, DrawnShopSpec
from keybuzz_sandbox.double_kit.draws import uuid_of


class ShopSpec(DrawnShopSpec, frozen=True, kw_only=True):
    marketplace: str  # FNAC or DARTY
    partner_name: str  # shops of one partner share its partner_id


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    partner_id: str
    shop_id: str
    key: str


def default_shops(bench_orders: int, extra: int = 0) -> tuple[ShopSpec, ...]:
    """The seeded shops, then ``extra`` small ones, Fnac and Darty in turn, each of a
    partner of its own: "KeyBuzz Boutique Fnac 00001", "KeyBuzz Boutique Darty 00002"…"""
    seeded = (
        ShopSpec(
            marketplace="FNAC",
            name="KeyBuzz Démo Fnac",
            partner_name="demo",
            order_count=48,
            claim_rate=0.25,
        ),
        # The same seller on Darty: its own shop_id, the same partner_id.
        ShopSpec(
            marketplace="DARTY",
            name="KeyBuzz Démo Darty",
            partner_name="demo",
            order_count=120,
            claim_rate=0.1,
        ),
        ShopSpec(
            marketplace="FNAC",
            name="KeyBuzz Librairie Fnac",
            partner_name="librairie",
            order_count=2_000,
        ),
        ShopSpec(
            marketplace="FNAC",
            name="KeyBuzz Bench Fnac",
            partner_name="bench",
            order_count=bench_orders,
        ),
    )
    return seeded + tuple(_extra(n) for n in range(1, extra + 1))


def _extra(n: int) -> ShopSpec:
    marketplace = "FNAC" if n % 2 else "DARTY"
    return ShopSpec(
        marketplace=marketplace,
        name=f"KeyBuzz Boutique {marketplace.title()} {n:05d}",
        partner_name=f"boutique-{n:05d}",
        order_count=EXTRA_SHOP_ORDERS,
    )


def uuid_from(*parts: object) -> str:
    """A deterministic id in Fnac's style: upper-case hex, 8-4-4-4-12."""
    return uuid_of(*parts).upper()


def credentials(seed: str, spec: ShopSpec) -> Credentials:
    return Credentials(
        partner_id=uuid_from(seed, "fnac-partner", spec.partner_name),
        shop_id=uuid_from(seed, "fnac-shop", spec.name),
        key=uuid_from(seed, "fnac-key", spec.name),
    )
