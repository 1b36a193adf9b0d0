"""What the drawn doubles' shops declare alike: a name, the orders of any 90 days, the share
of shipped orders whose buyer opens a claim; and the small extra shops a run may add
(``SANDBOX_<NAME>_EXTRA_SHOPS``, for polling many connections)."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

# Orders in 90 days of each extra shop: its first poll reads a few messages, and a buyer
# always has an order to write about.
EXTRA_SHOP_ORDERS = 12


class DrawnShopSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    order_count: int  # orders in any 90-day window
    claim_rate: float = 0.05  # share of shipped orders whose buyer opens a claim


class _Drawn(Protocol):
    @property
    def spec(self) -> DrawnShopSpec: ...

    def placed_before(self, virtual_now: float) -> int: ...


class DrawnBook(Protocol):
    """A drawn double's shop as its admin lists it: its orders drawn by ``gen``, its
    credentials a struct (named as the admin's listing names them)."""

    @property
    def gen(self) -> _Drawn: ...

    @property
    def credentials(self) -> msgspec.Struct: ...

    def virtual(self, now: float) -> float: ...


def shop_view(book: DrawnBook, now: float) -> dict[str, Any]:
    """One entry of a drawn double's admin list of shops: its name, its credentials, the
    orders it had placed by ``now`` (real seconds)."""
    return {
        "name": book.gen.spec.name,
        **msgspec.to_builtins(book.credentials),
        "orders": book.gen.placed_before(book.virtual(now)),
    }
