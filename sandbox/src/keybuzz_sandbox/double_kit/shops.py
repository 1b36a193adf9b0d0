"""What the drawn doubles' shops declare alike: a name, the orders of any 90 days, the share
of shipped orders whose buyer opens a claim; and the small extra shops a run may add
(``SANDBOX_<NAME>_EXTRA_SHOPS``, for polling many connections)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from keybuzz_sandbox.double_kit.books import DrawnShop

# Orders in 90 days of each extra shop: its first poll reads a few messages, and a buyer
# always has an order to write about.
EXTRA_SHOP_ORDERS = 12


class DrawnShopSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    order_count: int  # orders in any 90-day window
    claim_rate: float = 0.05  # share of shipped orders whose buyer opens a claim


def shop_view(book: DrawnShop[Any, Any], now: float) -> dict[str, Any]:
    """One entry of a drawn double's admin list of shops: its name, its credentials, the
    orders it had placed by ``now`` (real seconds)."""
    return {
        "name": book.gen.spec.name,
        **msgspec.to_builtins(book.credentials),
        "orders": book.gen.placed_before(book.virtual(now)),
    }
