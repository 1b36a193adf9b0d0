"""Cdiscount double: orders (filters, at most 100 a page, next page by Link, one order)."""

from __future__ import annotations

import pytest
from cdiscount_helpers import MAISON, seller
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.config import ConfigError, config_from_env

pytestmark = pytest.mark.asyncio

STATUSES = {
    "Processing",
    "WaitingAcceptance",
    "Accepted",
    "InPreparation",
    "Shipped",
    "Delivered",
    "Cancelled",
    "Refused",
}


@pytest.fixture
async def http(serve):
    return await serve(SandboxConfig(time_scale=60))


async def test_orders_page_by_link_at_most_100_a_page(http) -> None:
    octopia = await seller(http, MAISON)
    everything = (await octopia.ok("/orders", pageSize=100))["items"]
    assert len(everything) == 100
    window = {"createdAtMin": everything[-1]["createdAt"], "pageSize": 40}
    items, pages = await octopia.all_pages("/orders", **window)
    ids = [o["orderId"] for o in items]
    assert pages == 3 and len(ids) == len(set(ids)) == len(
        [o for o in everything if o["createdAt"] >= window["createdAtMin"]]
    )
    assert [o["createdAt"] for o in items] == sorted((o["createdAt"] for o in items), reverse=True)
    assert (await octopia.get("/orders", pageSize=101)).status_code == 400
    assert {o["status"] for o in everything} <= STATUSES


async def test_orders_by_update_window_and_sort(http) -> None:
    octopia = await seller(http, MAISON)
    everything = (await octopia.ok("/orders", pageSize=100))["items"]
    newest = everything[0]
    window = {"updatedAtMin": newest["updatedAt"], "sort": "updatedAt:asc", "pageSize": 100}
    updated = (await octopia.ok("/orders", **window))["items"]
    assert newest["orderId"] in {o["orderId"] for o in updated}
    assert all(o["updatedAt"] >= newest["updatedAt"] for o in updated)
    assert [o["updatedAt"] for o in updated] == sorted(o["updatedAt"] for o in updated)
    assert (await octopia.get("/orders", sort="price")).status_code == 400


async def test_one_order_with_its_lines_and_parcels(http) -> None:
    octopia = await seller(http, MAISON)
    oldest_first = {"pageSize": 100, "sort": "createdAt:asc"}  # the oldest are delivered
    listed = (await octopia.ok("/orders", **oldest_first))["items"]
    delivered = next(o for o in listed if o["status"] == "Delivered")
    order = await octopia.ok(f"/orders/{delivered['orderId']}")
    assert order == delivered
    assert order["lines"][0]["offer"]["sellerProductId"] and order["lines"][0]["quantity"] >= 1
    assert order["parcels"][0]["parcelNumber"]
    assert (await octopia.get("/orders/2601010000ZZZZZ")).status_code == 404
    assert (await octopia.get("/orders/nope")).status_code == 404


async def test_shop_sizes_and_extra_shops_follow_the_settings(serve) -> None:
    # On the real clock: "orders" counts those placed so far, and at this file's time scale
    # (60) the bench shop places its next one ~2.6 s after the double starts.
    fresh = await serve(SandboxConfig())
    default = {
        s["name"]: s["orders"] for s in (await fresh.get("/_sandbox/cdiscount/shops")).json()
    }
    assert default["KeyBuzz Bench Cdiscount"] == 50_000 and default[MAISON] == 3_000
    env = {"SANDBOX_CDISCOUNT_BENCH_ORDERS": "700", "SANDBOX_CDISCOUNT_EXTRA_SHOPS": "3"}
    small = await serve(config_from_env(env))
    listed = (await small.get("/_sandbox/cdiscount/shops")).json()
    sizes = {s["name"]: s["orders"] for s in listed}
    assert (
        sizes["KeyBuzz Bench Cdiscount"] == 700 and sizes["KeyBuzz Boutique Cdiscount 00003"] == 12
    )
    assert len({s["sellerId"] for s in listed}) == len({s["clientId"] for s in listed}) == 6
    with pytest.raises(ConfigError, match="SANDBOX_CDISCOUNT_EXTRA_SHOPS"):
        config_from_env({"SANDBOX_CDISCOUNT_EXTRA_SHOPS": "-1"})
