"""Tickets over HTTP: tenant-scoped, filters, keyset pages; bad input is a 4xx JSON error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keybuzz_devstack.testing import RunningService
from mailkit import get_json, headers, module_poller, new_tenant, poll_now, relay_mail, send, synced

# Each test works with tenants of its own: one poller for the module's tests.
poller = module_poller


def order(n: int) -> str:
    return f"171-000000{n}-1234567"


async def tenant_with_tickets(poller: RunningService, count: int) -> str:
    """A new tenant with ``count`` tickets, one per order (order(0) … order(count - 1))."""
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    for n in range(count):
        subject = f"Question (Order: {order(n)})"
        await send(poller, relay_mail(address, f"about {n}", subject=subject), address)
    assert (await poll_now(poller, tenant))["stored"] == count
    return tenant


async def test_tickets_pages_and_filters(poller: RunningService) -> None:
    tenant = await tenant_with_tickets(poller, 5)

    seen: list[str] = []
    cursor = None
    for _ in range(3):
        page = await get_json(
            poller, tenant, "/api/v1/tickets", limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [t["orderId"] for t in page["items"]]
        cursor = page["nextCursor"]
    assert cursor is None and len(seen) == 5 and set(seen) == {order(n) for n in range(5)}
    newest_first = await get_json(poller, tenant, "/api/v1/tickets")
    stamps = [t["lastMessageAt"] for t in newest_first["items"]]
    assert stamps == sorted(stamps, reverse=True)

    by_order = await get_json(poller, tenant, "/api/v1/tickets", orderId=order(3))
    assert [t["orderId"] for t in by_order["items"]] == [order(3)]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await get_json(poller, tenant, "/api/v1/tickets", since=future))["items"] == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len((await get_json(poller, tenant, "/api/v1/tickets", since=past))["items"]) == 5
    open_ = await get_json(poller, tenant, "/api/v1/tickets", status="OPEN", limit=200)
    assert len(open_["items"]) == 5


async def test_an_exactly_full_last_page_has_no_next_cursor(poller: RunningService) -> None:
    tenant = await tenant_with_tickets(poller, 4)

    whole = await get_json(poller, tenant, "/api/v1/tickets", limit=4)
    assert len(whole["items"]) == 4 and whole["nextCursor"] is None
    first = await get_json(poller, tenant, "/api/v1/tickets", limit=2)
    assert len(first["items"]) == 2 and first["nextCursor"] is not None
    last = await get_json(poller, tenant, "/api/v1/tickets", limit=2, cursor=first["nextCursor"])
    assert len(last["items"]) == 2 and last["nextCursor"] is None
    assert {t["id"] for t in first["items"] + last["items"]} == {t["id"] for t in whole["items"]}


async def test_bad_input_and_foreign_tenants_get_4xx_json(poller: RunningService) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    stranger, _ = new_tenant()
    bad = [
        ("/api/v1/tickets", {"status": "WHATEVER"}, 400),
        ("/api/v1/tickets", {"limit": "0"}, 400),
        ("/api/v1/tickets", {"limit": "many"}, 400),
        ("/api/v1/tickets", {"cursor": "not-a-cursor!"}, 400),
        ("/api/v1/tickets", {"since": "yesterday"}, 400),
        ("/api/v1/tickets/no-such-ticket", {}, 404),
    ]
    async with poller.client() as http:
        for path, params, status in bad:
            response = await http.get(path, params=params, headers=headers(poller, tenant))
            assert response.status_code == status, (path, params, response.text)
            assert response.json()["error"], response.text
        assert (await http.get("/api/v1/tickets")).status_code == 401
        foreign = {**headers(poller, tenant), "X-Tenant-Id": stranger}
        assert (await http.get("/api/v1/tickets", headers=foreign)).status_code == 403
        # A tenant with no inbound address has nothing to poll.
        response = await http.post("/api/v1/poller/poll", headers=headers(poller, stranger))
        assert response.status_code == 404 and response.json()["error"]
        status = await http.get("/api/v1/poller/status", headers=headers(poller, stranger))
        assert status.status_code == 200 and status.json()["scheduled"] is False
