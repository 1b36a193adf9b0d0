"""The shop's orders as the seam's OrderSource, on the sandbox's Octopia double over HTTP:
pages of an updatedAt listing and of creation windows add up to the whole, at most 100
a page; orders by id; Octopia's statuses in KeyBuzz's vocabulary, whatever their spelling."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_connector_cdiscount.connector import OctopiaClient, OctopiaCredentials
from keybuzz_connector_cdiscount.orders import order_status, read_order, shop_orders
from keybuzz_shared.connectors.seam import OrderSummary


@pytest.fixture
async def maison(sandbox_url: str) -> AsyncIterator[OctopiaClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(f"{sandbox_url}/_sandbox/cdiscount/ratelimits/reset")
        shops = (await http.get(f"{sandbox_url}/_sandbox/cdiscount/shops")).json()
        shop = next(s for s in shops if "Maison" in s["name"])
        credentials = OctopiaCredentials(
            client_id=shop["clientId"],
            client_secret=shop["clientSecret"],
            seller_id=shop["sellerId"],
        )
        yield OctopiaClient(
            credentials,
            http,
            f"{sandbox_url}/octopia/seller/v2/",
            f"{sandbox_url}/octopia/auth/realms/maas/protocol/openid-connect/token",
        )


@pytest.fixture
def http_server() -> Any:
    """A fake Octopia answering every ``GET orders`` with ``orders`` (one page), whatever
    its filters: a client of it (``OctopiaClient``)."""

    @contextlib.asynccontextmanager
    async def serving(orders: list[dict[str, Any]]) -> AsyncIterator[OctopiaClient]:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            token = head.startswith(b"POST")
            length = next(
                (
                    int(h.split(b":")[1])
                    for h in head.split(b"\r\n")
                    if h.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            body = (
                b'{"access_token": "t", "expires_in": 7200, "token_type": "Bearer"}'
                if token
                else msgspec.json.encode({"items": orders})
            )
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server, httpx.AsyncClient(timeout=10) as http:
            credentials = OctopiaCredentials(client_id="c", client_secret="s", seller_id="1")
            yield OctopiaClient(credentials, http, f"{url}/api/", f"{url}/token")

    return serving


async def every(listing: Any) -> tuple[list[OrderSummary], int]:
    """Every order of a listing (a function of a cursor) and how many pages it took."""
    found: list[OrderSummary] = []
    cursor, pages = None, 0
    while True:
        page = await listing(cursor)
        found += page.items
        pages += 1
        assert page.unreadable == ()
        if page.next_cursor is None:
            assert page.complete_until is not None
            return found, pages
        cursor = page.next_cursor


async def test_an_updated_at_listing_reads_each_changed_order_in_pages(
    maison: OctopiaClient,
) -> None:
    # Whole seconds, as Octopia's filter takes them: a fraction would be dropped from the
    # query, and an order changed within that fraction taken for one read too early.
    since = (datetime.now(UTC) - timedelta(days=5)).replace(microsecond=0)
    whole, pages = await every(lambda c: shop_orders(maison).orders(since=since, cursor=c))
    assert pages == 1 + len(whole) // 100 and len(whole) > 100  # pages of 100, at most
    small, pages = await every(
        lambda c: shop_orders(maison, page_size=9).orders(since=since, cursor=c)
    )
    assert pages > len(whole) // 9
    # Read again where a page ends (seeking from its last change): repeats, never a gap.
    # The double's clock runs on: an order it moved past the second listing's asking (a
    # busy machine's slower listing) is not in it, and is in the next, changed later than
    # anything the second listed.
    listed = {o.external_id for o in whole}
    missing = listed - {o.external_id for o in small}
    if missing:
        again, _ = await every(lambda c: shop_orders(maison).orders(since=since, cursor=c))
        moved = {o.external_id: o.updated_at for o in again if o.external_id in missing}
        assert moved.keys() == missing
        assert all(at > max(o.updated_at for o in small) for at in moved.values()), moved
    # The double's clock runs on (the session's time scale): an order it places or moves
    # into the window meanwhile is listed too, changed no sooner than the whole listing's
    # newest change.
    newest = max(o.updated_at for o in whole)
    assert all(o.updated_at >= newest for o in small if o.external_id not in listed)
    assert all(o.updated_at >= since - timedelta(minutes=5) for o in whole)


async def test_creation_windows_add_up_and_do_not_overlap(maison: OctopiaClient) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    middle, start = end - timedelta(days=2), end - timedelta(days=4)
    source = shop_orders(maison, page_size=50)

    def window(low: datetime, high: datetime) -> Any:
        return lambda c: source.orders_created(start=low, end=high, cursor=c)

    whole, _ = await every(window(start, end))
    first, _ = await every(window(start, middle))
    second, _ = await every(window(middle, end))
    ids = [o.external_id for o in first + second]
    assert len(ids) == len(set(ids)) and set(ids) == {o.external_id for o in whole}
    assert all(start <= o.created_at < middle for o in first)
    assert len(whole) > 50


async def test_orders_by_id_skip_the_unknown(maison: OctopiaClient) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    some = (await shop_orders(maison).orders(since=since)).items[:2]
    asked = [some[0].external_id, "2601010000ZZZZZ", some[1].external_id, some[0].external_id]
    found = await shop_orders(maison).orders_by_id(asked)
    assert [o.external_id for o in found] == [some[0].external_id, some[1].external_id]


async def test_a_cursor_not_handed_out_is_refused(maison: OctopiaClient) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        await shop_orders(maison).orders(since=datetime.now(UTC), cursor="bm90LWEtY3Vyc29y")


def test_statuses_are_mapped_whatever_their_spelling() -> None:
    assert order_status("WaitingAcceptance") == ("PENDING", None)
    assert order_status("WAITING_ACCEPTANCE") == order_status("waiting-acceptance")
    assert order_status("InPreparation") == ("CONFIRMED", "PREPARING")
    assert order_status("Canceled") == order_status("CANCELLED") == ("CANCELLED", None)
    assert order_status("Delivered") == ("DELIVERED", "DELIVERED")
    assert order_status("SomethingNew") == ("PENDING", None)


def test_an_order_is_read_in_the_variants_octopia_shows() -> None:
    listed = read_order(
        {
            "reference": "2611230948AAACH",
            "purchasedAt": "2026-11-23T09:48:00Z",
            "status": "SHIPPED",
            "lines": [{"offer": {"sellerProductId": "SKU-1"}, "quantity": 2, "unitPrice": "9.90"}],
            "parcels": [{"parcelNumber": "6A123"}],
        }
    )
    assert (listed.external_id, listed.status, listed.tracking_code) == (
        "2611230948AAACH",
        "SHIPPED",
        "6A123",
    )
    assert listed.updated_at == listed.created_at
    assert listed.sales_channel is None  # none named
    sold_in = read_order(
        {
            "orderId": "X1",
            "createdAt": "2026-11-23T09:48:00Z",
            "status": "Shipped",
            "salesChannelId": "CDISBE",
        }
    )
    assert sold_in.sales_channel == "CDISBE"  # a code without a documented label: as given
    sold_in = read_order(
        {
            "orderId": "X2",
            "createdAt": "2026-11-23T09:48:00Z",
            "status": "Shipped",
            "salesChannelId": "CDISFR",
        }
    )
    assert sold_in.sales_channel == "Cdiscount France"
    assert [(line.seller_sku, line.quantity, str(line.unit_price)) for line in listed.lines] == [
        ("SKU-1", 2, "9.90")
    ]
    with pytest.raises(ValueError, match="without orderId"):
        read_order({"status": "Shipped", "purchasedAt": "2026-11-23T09:48:00Z"})


async def test_orders_changing_during_a_listing_shift_no_page(
    sandbox_url: str, maison: OctopiaClient
) -> None:
    """Orders updated while a listing pages leave its window: the orders still to read
    are read all the same (a page-numbered listing would skip as many)."""
    since = datetime.now(UTC) - timedelta(days=3)
    source = shop_orders(maison, page_size=10)
    before, _ = await every(lambda c: source.orders(since=since, cursor=c))
    first = await source.orders(since=since)
    async with httpx.AsyncClient(timeout=30) as http:
        moved = await http.post(
            f"{sandbox_url}/_sandbox/cdiscount/shops/{maison.shop['seller_id']}/advance",
            json={"seconds": 86_400},
        )
        assert moved.status_code == 200, moved.text
    rest, _ = await every(lambda c: source.orders(since=since, cursor=c or first.next_cursor))
    after, _ = await every(lambda c: source.orders(since=since, cursor=c))
    until = max(o.updated_at for o in before)
    changed = {o.external_id for o in after if o.updated_at > until}
    assert changed, "the day played changed some orders"
    read = {o.external_id for o in first.items + tuple(rest)}
    assert {o.external_id for o in before} - changed <= read


async def test_an_order_shown_created_at_a_windows_end_is_the_next_windows(
    http_server: Any,
) -> None:
    """createdAtMax is inclusive at Octopia and dates are whole seconds: an order shown
    created at ``end`` is listed by both windows, and kept by the second only."""
    end = datetime(2026, 11, 20, tzinfo=UTC)
    orders = [
        {"orderId": "2611190000AAAAA", "status": "Shipped", "createdAt": "2026-11-19T23:59:59Z"},
        {"orderId": "2611200000AAAAB", "status": "Shipped", "createdAt": "2026-11-20T00:00:00Z"},
    ]
    async with http_server(orders) as client:
        source = shop_orders(client)
        first = await source.orders_created(start=end - timedelta(days=1), end=end)
        second = await source.orders_created(start=end, end=end + timedelta(days=1))
    assert [o.external_id for o in first.items] == ["2611190000AAAAA"]
    assert "2611200000AAAAB" in [o.external_id for o in second.items]
