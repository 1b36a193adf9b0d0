"""The shops a newcomer can connect against the doubles: for a marketplace value, the
double's first seeded shop with its credentials (by the connector's field names) and the
admin path that lists them all. `make run`'s banner asks here for each marketplace the
registry serves, so that every served marketplace shows a shop to try."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import httpx

from keybuzz_sandbox.conformance import DRIVERS, DoubleShop, ShopDriver
from keybuzz_sandbox.doubles import doubles


@dataclasses.dataclass(frozen=True)
class SeededShop:
    shop: DoubleShop
    listed_at: str  # the sandbox's admin path listing every seeded shop of the double


def _lister(marketplace: str) -> ShopDriver | None:
    """Its conformance driver, or the driver of the double seeding shops of it."""
    if (driver := DRIVERS.get(marketplace)) is not None:
        return driver
    listers = (double.lister(marketplace) for double in doubles().values())
    return next((lister for lister in listers if lister is not None), None)


async def seeded_shops(
    http: httpx.AsyncClient, marketplaces: Iterable[str]
) -> dict[str, SeededShop]:
    """The first seeded shop of each of ``marketplaces`` the sandbox's doubles serve."""
    found: dict[str, SeededShop] = {}
    for marketplace in marketplaces:
        lister = _lister(marketplace)
        if lister is None:
            continue  # no double of this value: the banner says so
        try:
            shops = await lister.shops(http)
        except (httpx.HTTPError, ValueError, KeyError, AssertionError):
            continue  # no double of this value: the banner says so
        if shops:
            found[marketplace] = SeededShop(shops[0], lister.shops_listed_at)
    return found
