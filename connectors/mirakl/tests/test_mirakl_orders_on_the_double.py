"""A Mirakl shop's orders and response figure through the connector's client, on the
sandbox's Mirakl double over HTTP: creation windows adding up to the shop's 90 days, each
order once; the update listing showing an incident and a refund on the lines; orders by
id; OR11's frequency obeyed (no call inside a Retry-After); A21's figure for a window.
Every request the client sends is checked against Mirakl's OpenAPI description."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from keybuzz_connector_mirakl.catalogue import FREQUENCIES
from keybuzz_connector_mirakl.connector import MiraklSettings
from keybuzz_connector_mirakl.orders import EVERY_PERIOD, response_delays, shop_orders
from keybuzz_double_mirakl import service_env
from keybuzz_shared.connectors.kit import Requester
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import CallUnavailable, OrderSummary
from mirakl_connector_helpers import ADMIN, TIME_SCALE, CheckedRequests, serve_double, shop_client


class Sent(CheckedRequests):
    """The checked requests, each one's (operation, query), and the statuses answered."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.statuses: list[int] = []

    async def __call__(self, request: httpx.Request) -> None:
        await super().__call__(request)
        self.requests.append((self.seen[-1], dict(request.url.params)))

    async def answered(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[str]:
    async for url in serve_double():
        yield url


@pytest.fixture
async def admin(sandbox: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox}{ADMIN}", timeout=30) as http:
        await http.post("/limits/reset")
        await http.delete("/retry-after-violations")
        yield http
        await http.put("/limits", json={"enforced": True})


@pytest.fixture
async def shop(sandbox: str, admin: httpx.AsyncClient) -> AsyncIterator[tuple[Requester, Sent]]:
    operator = next(o for o in (await admin.get("/operators")).json() if o["code"] == "BOULANGER")
    first = operator["shops"][0]
    sent = Sent()
    async with httpx.AsyncClient(
        timeout=30, event_hooks={"request": [sent], "response": [sent.answered]}
    ) as http:
        client = shop_client(http, operator["baseUrl"], first, call_deadline=20)
        yield client, sent
    assert sent.seen and sent.problems == []


async def every_order(sandbox: str, client: Requester) -> dict[str, Any]:
    """The shop's orders by OR11 itself, 100 a page."""
    found: dict[str, Any] = {}
    while True:
        page = await client.get_json(
            "api/orders", {"max": "100", "offset": str(len(found))}, operation="OR11"
        )
        found |= {o["order_id"]: o for o in page["orders"]}
        if len(found) >= page["total_count"]:
            return found


async def test_creation_windows_add_up_to_the_shops_90_days_each_order_once(
    sandbox: str, admin: httpx.AsyncClient, shop: tuple[Requester, Sent]
) -> None:
    client, sent = shop
    await admin.put("/limits", json={"enforced": False})  # the windows' pacing: the next test
    expected = await every_order(sandbox, client)
    source = shop_orders(client, page_size=7)
    end = datetime.now(UTC)
    start = end - timedelta(days=90)
    found: list[OrderSummary] = []
    while start < end:
        until = min(start + timedelta(days=15), end)
        page = await source.orders_created(start=start, end=until)
        found += page.items
        while page.next_cursor is not None:
            page = await source.orders_created(start=start, end=until, cursor=page.next_cursor)
            found += page.items
        start = until
    ids = [o.external_id for o in found]
    assert len(ids) == len(set(ids)) == len(expected) >= 30 and set(ids) == set(expected)
    by_state = {o.state: (o.status, o.delivery_status) for o in found}
    assert by_state["CLOSED"] == ("DELIVERED", "DELIVERED")
    assert by_state["SHIPPED"] == ("SHIPPED", "SHIPPED")
    assert all(o.lines and o.lines[0].currency == "EUR" for o in found)
    assert max(int(q.get("max", "0")) for _, q in sent.requests) <= 100
    some = sorted(expected)[:3]
    assert sorted(o.external_id for o in await source.orders_by_id([*some, "NOPE-A"])) == some


async def test_or11s_frequency_paces_a_listings_first_pages_never_a_429(
    admin: httpx.AsyncClient, shop: tuple[Requester, Sent]
) -> None:
    client, sent = shop
    minute = 60 / TIME_SCALE  # Mirakl's minute on the double, in real seconds
    source = shop_orders(client, page_size=20, interval=minute * 1.1)
    end = datetime.now(UTC)
    began = time.monotonic()
    for days in (90, 30, 15):  # three windows: three first pages of OR11
        page = await source.orders_created(start=end - timedelta(days=days), end=end)
        while page.next_cursor is not None:  # its following pages: the same call
            page = await source.orders_created(
                start=end - timedelta(days=days), end=end, cursor=page.next_cursor
            )
    assert time.monotonic() - began >= 2 * minute
    offsets = [q["offset"] for _, q in sent.requests]
    assert offsets.count("0") == 3 and len(offsets) > 3
    assert 429 not in sent.statuses and set(sent.statuses) == {200}
    assert (await admin.get("/retry-after-violations")).json()["count"] == 0


async def test_the_update_listing_shows_an_incident_and_a_refund_on_the_lines(
    admin: httpx.AsyncClient, shop: tuple[Requester, Sent], sandbox: str
) -> None:
    client, _ = shop
    await admin.put("/limits", json={"enforced": False})
    orders = await every_order(sandbox, client)
    delivered = next(o for o in orders.values() if o["order_state"] == "CLOSED")
    since = datetime.now(UTC) - timedelta(seconds=1)
    where = f"/operators/BOULANGER/shops/{client.shop['shop_id']}/orders/{delivered['order_id']}"
    incident = (await admin.post(f"{where}/incident")).json()
    refund = (await admin.post(f"{where}/refund")).json()
    await asyncio.sleep(0.01)  # a listing's window ends at its start, to the millisecond
    page = await shop_orders(client).orders(since=since)
    assert page.next_cursor is None and page.complete_until is not None
    changed = {o.external_id: o for o in page.items}
    assert delivered["order_id"] in changed
    lines = {line.line_id: line for line in changed[delivered["order_id"]].lines}
    assert lines[incident["orderLineId"]].state in ("INCIDENT_OPEN", "REFUNDED")
    assert lines[refund["orderLineId"]].state == "REFUNDED"
    assert lines[refund["orderLineId"]].status == "RETURNED"
    assert lines[refund["orderLineId"]].refunded_amount is not None
    if incident["orderLineId"] != refund["orderLineId"]:
        assert (lines[incident["orderLineId"]].status) == "DELIVERED"  # the order's
    # The next listing starts where this one was complete: the order is not listed again.
    later = await shop_orders(client).orders(since=page.complete_until)
    assert delivered["order_id"] not in {o.external_id for o in later.items}


async def test_a21_gives_the_shops_response_delay_for_the_period_holding_the_window(
    admin: httpx.AsyncClient, shop: tuple[Requester, Sent]
) -> None:
    client, sent = shop
    answered: list[Any] = []

    class Seen:
        async def get_json(self, path: str, params: Any = None, *, operation: str = "") -> Any:
            answered.append(await client.get_json(path, params, operation=operation))
            return answered[-1]

    now = datetime.now(UTC)
    figure = await response_delays(Seen(), FREQUENCIES["A21"]).for_window(
        now - timedelta(days=7), now
    )
    assert figure is not None and figure.name == "order_messages_response_delay (LAST_MONTH)"
    mirakls, seconds = answered[0]["order_messages_response_delay"], figure.average_response_seconds
    assert {"period": "LAST_MONTH", "value": int(seconds)} in mirakls and seconds > 0
    assert len(mirakls) == 5  # every period, in the one call
    assert figure.since is not None and figure.until - figure.since == timedelta(days=30)
    assert sent.requests[-1] == (
        "A21",
        {"periods": EVERY_PERIOD, "shop_id": client.shop["shop_id"]},
    )
    # A21 once a day: a second call today is refused (429), and the client holds every
    # later A21 call back, unsent, for the Retry-After (a day: 1,440 s at 60 times).
    with pytest.raises(CallUnavailable, match="HTTP 429"):
        await response_delays(client, FREQUENCIES["A21"]).for_window(now - timedelta(days=60), now)
    with pytest.raises(CallUnavailable, match="held back") as held:
        await response_delays(client, FREQUENCIES["A21"]).for_window(now - timedelta(days=60), now)
    assert held.value.retry_after is not None and held.value.retry_after > 1_000
    assert [q.get("periods") for op, q in sent.requests if op == "A21"] == [EVERY_PERIOD] * 2
    assert (await admin.get("/retry-after-violations")).json()["count"] == 0


async def test_the_sessions_response_delay_is_a21s_for_the_window(
    sandbox: str, admin: httpx.AsyncClient
) -> None:
    code = "DECATHLON"  # a shop of its own: A21 is once a day per shop
    operator = next(o for o in (await admin.get("/operators")).json() if o["code"] == code)
    first = operator["shops"][0]
    settings = MiraklSettings(mirakl_catalogue=service_env(sandbox)["MIRAKL_CATALOGUE"])
    api = settings.shop_api(code)
    shop_api, figures = connector_for(code).shop_api, connector_for(code).response_figures
    assert api is not None and shop_api is not None and figures is not None
    credentials = {"api_key": first["apiKey"], "shop_id": str(first["shopId"])}
    sent = Sent()
    async with httpx.AsyncClient(
        timeout=30, event_hooks={"request": [sent], "response": [sent.answered]}
    ) as http:
        session = shop_api.session(credentials, http=http, settings=api)
        now = datetime.now(UTC)
        figure = await figures.response_delay(session, since=now - timedelta(days=80), until=now)
        # Another window the same day: its period, from the session's one call.
        week = await figures.response_delay(session, since=now - timedelta(days=7), until=now)
    assert figure is not None and figure.name.endswith("(LAST_THREE_MONTHS)")
    assert figure.average_response_seconds > 0
    assert week is not None and week.name.endswith("(LAST_MONTH)")
    assert week.average_response_seconds > 0
    assert sent.requests == [("A21", {"periods": EVERY_PERIOD, "shop_id": str(first["shopId"])})]
    assert sent.problems == []


async def test_a_first_page_answered_after_a_429_paces_the_next_from_that_answer(
    admin: httpx.AsyncClient, shop: tuple[Requester, Sent]
) -> None:
    """A listing's first page meets a 429 (an OR11 sent just before it, as by another
    process), waits the Retry-After and is answered then: the next listing's first page
    counts OR11's frequency from that answer, not from the first try, and meets no 429."""
    client, sent = shop
    minute = 60 / TIME_SCALE  # Mirakl's minute on the double, in real seconds
    end = datetime.now(UTC)
    await client.get_json(
        "api/orders", {"max": "1", "offset": "0"}, operation="OR11"
    )  # its minute starts
    source = shop_orders(client, page_size=100, interval=minute * 1.1)
    for days in (15, 10):  # two first pages, the first one held back by a 429
        start = end - timedelta(days=days)
        page = await source.orders_created(start=start, end=end)
        while page.next_cursor is not None:
            page = await source.orders_created(start=start, end=end, cursor=page.next_cursor)
    assert sent.statuses.count(429) == 1, sent.statuses  # the first try only
    assert sent.statuses[-1] == 200
    assert (await admin.get("/retry-after-violations")).json()["count"] == 0
