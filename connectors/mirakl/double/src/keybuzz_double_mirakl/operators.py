"""The seeded Mirakl operators, their channels and shops, and the shops' API keys
(development data). Each operator is one instance of Mirakl's seller API."""

from __future__ import annotations

import msgspec
from keybuzz_sandbox.double_kit.draws import digest, uuid_of


class Channel(msgspec.Struct, frozen=True):
    code: str
    label: str


class ShopSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    order_count: int  # orders in the 90 days before the sandbox started
    # Shops of one operator with the same key_owner share one API key (a user with access
    # to several shops, who names one with shop_id=).
    key_owner: str = ""
    thread_rate: float = 0.3  # share of orders whose customer opened a thread
    operator_rate: float = 0.3  # share of threads the operator's staff wrote in
    incident_rate: float = 0.08  # share of shipped orders with an incident on a line
    refund_rate: float = 0.05  # share of received orders with a refunded line


class OperatorSpec(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    channels: tuple[Channel, ...]
    shops: tuple[ShopSpec, ...]


def demo(code: str, name: str, channels: tuple[Channel, ...], order_count: int) -> OperatorSpec:
    """An operator with one shop, its demo shop."""
    shop = ShopSpec(name=f"KeyBuzz Démo {name}", order_count=order_count)
    return OperatorSpec(code=code, name=name, channels=channels, shops=(shop,))


OPERATORS: tuple[OperatorSpec, ...] = (
    demo("BOULANGER", "Boulanger", (Channel("INIT", "Boulanger.com"),), 40),
    OperatorSpec(
        code="LEROY_MERLIN",
        name="Leroy Merlin",
        channels=(Channel("FR", "Leroy Merlin France"), Channel("ES", "Leroy Merlin España")),
        shops=(
            ShopSpec(name="KeyBuzz Démo Leroy Merlin", order_count=40, key_owner="keybuzz"),
            ShopSpec(name="KeyBuzz Maison Leroy Merlin", order_count=25, key_owner="keybuzz"),
        ),
    ),
    demo(
        "DECATHLON",
        "Decathlon",
        (Channel("FR", "Decathlon France"), Channel("BE", "Decathlon Belgique")),
        30,
    ),
    demo("LA_REDOUTE", "La Redoute", (Channel("LAREDOUTE_FR", "La Redoute France"),), 30),
    # The packaged catalogue's other operators, one small shop each: in the dev stack every
    # operator the product offers connects to the double.
    *(
        demo(code, name, (Channel("FR", f"{name} France"),), 8)
        for code, name in (
            ("CARREFOUR", "Carrefour"),
            ("CASTORAMA", "Castorama"),
            ("MAISONS_DU_MONDE", "Maisons du Monde"),
            ("CONFORAMA", "Conforama"),
            ("SHOWROOMPRIVE", "Showroomprivé"),
            ("RUE_DU_COMMERCE", "Rue du Commerce"),
            ("UBALDI", "Ubaldi"),
            ("BUT", "But"),
            ("E_LECLERC", "E.Leclerc"),
            ("LA_POSTE", "La Poste"),
            ("AUCHAN", "Auchan"),
            ("CULTURA", "Cultura"),
            ("GALERIES_LAFAYETTE", "Galeries Lafayette"),
            ("PRINTEMPS", "Printemps"),
        )
    ),
)


# Orders in 90 days of each extra shop (SANDBOX_MIRAKL_EXTRA_SHOPS), and where their ids
# start (above every seeded shop's).
EXTRA_SHOP_ORDERS = 4
EXTRA_SHOP_IDS = 100_000


def extra_specs(operator: OperatorSpec, count: int) -> dict[int, ShopSpec]:
    """Small shops beyond the seeded ones, for polling many connections of one operator."""
    return {
        EXTRA_SHOP_IDS + n: ShopSpec(
            name=f"KeyBuzz Boutique {operator.name} {n:05d}", order_count=EXTRA_SHOP_ORDERS
        )
        for n in range(1, count + 1)
    }


def shop_id(seed: str, operator: str, shop: str) -> int:
    """A seeded shop's id as Mirakl gives them: a small integer (below the extra shops')."""
    return 2_000 + int.from_bytes(digest(seed, "shop", operator, shop, size=4), "big") % 90_000


def api_key(seed: str, operator: str, owner: str, generation: int = 0) -> str:
    """A shop user's API key: Mirakl's are UUIDs."""
    return uuid_of(seed, "key", operator, owner, generation)
