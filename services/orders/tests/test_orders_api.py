"""GET /api/v1/orders and /api/v1/orders/{orderId}: tenant-scoped, filters, keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_shared.pages import encode_cursor
from orders_testkit import OrdersKit, new_tenant


@pytest.fixture
def orders(module_orders: OrdersKit) -> OrdersKit:
    """The module's tests only read what the service serves: they share one."""
    return module_orders


async def _list(orders: OrdersKit, tenant: str, **params: Any) -> dict[str, Any]:
    response = await orders.api("GET", "", tenant, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_pages_walk_every_order_once_newest_first(
    backfilled: tuple[OrdersKit, str, int],
) -> None:
    orders, tenant, total = backfilled
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await _list(orders, tenant, limit=25, **({"cursor": cursor} if cursor else {}))
        seen += page["orders"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert len(page["orders"]) == 25
    assert len(seen) == total
    assert len({o["externalOrderId"] for o in seen}) == total
    dates = [o["orderDate"] for o in seen]
    assert dates == sorted(dates, reverse=True)
    assert seen[0]["items"] is None  # the list is a summary; items come with one order
    # An exactly full last page is the last one: no cursor to an empty page.
    assert total <= 100
    exact = await _list(orders, tenant, limit=total)
    assert len(exact["orders"]) == total and exact["nextCursor"] is None


async def test_filters(backfilled: tuple[OrdersKit, str, int]) -> None:
    orders, tenant, total = backfilled
    cancelled = await _list(orders, tenant, status="CANCELLED", limit=100)
    assert len(cancelled["orders"]) == 6
    assert {o["orderStatus"] for o in cancelled["orders"]} == {"CANCELLED"}
    both = await _list(orders, tenant, status=["CANCELLED", "SHIPPED"], limit=100)
    assert 6 < len(both["orders"]) <= total

    everything = (await _list(orders, tenant, limit=100))["orders"]
    middle = everything[len(everything) // 2]
    by_id = await _list(orders, tenant, q=middle["externalOrderId"])
    assert [o["externalOrderId"] for o in by_id["orders"]] == [middle["externalOrderId"]]
    by_ref = await _list(orders, tenant, q=middle["orderRef"])
    assert middle["externalOrderId"] in [o["externalOrderId"] for o in by_ref["orders"]]

    named = next(o for o in everything if o["customerName"])
    part = named["customerName"].split()[0].lower()
    by_name = await _list(orders, tenant, q=part, limit=100)
    assert named["externalOrderId"] in [o["externalOrderId"] for o in by_name["orders"]]
    assert all(
        part in (o["customerName"] or "").lower() or part in (o["customerEmail"] or "").lower()
        for o in by_name["orders"]
    )

    detail = (await orders.api("GET", f"/{middle['externalOrderId']}", tenant)).json()
    sku = detail["items"][0]["sku"]
    by_sku = await _list(orders, tenant, q=sku, limit=100)
    assert middle["externalOrderId"] in [o["externalOrderId"] for o in by_sku["orders"]]
    for order in by_sku["orders"][:3]:
        items = (await orders.api("GET", f"/{order['externalOrderId']}", tenant)).json()["items"]
        assert sku in [i["sku"] for i in items]

    since = everything[9]["orderDate"]
    recent = await _list(orders, tenant, **{"from": since}, limit=100)
    assert len(recent["orders"]) == 10
    older = await _list(orders, tenant, to=since, limit=100)
    assert len(older["orders"]) == total - 10
    assert await _list(orders, tenant, q="no-such-thing%_") == {"orders": [], "nextCursor": None}


async def test_a_search_combines_with_the_other_filters_and_pages(
    backfilled: tuple[OrdersKit, str, int],
) -> None:
    """q is matched branch by branch (store.list_orders_query): every filter and the
    keyset apply to each branch, and pages of a search walk its matches once, in order."""
    orders, tenant, _ = backfilled
    sku = await orders.pool.fetchval(
        "SELECT i.sku FROM order_items i JOIN orders o ON o.id = i.order_id"
        " WHERE o.tenant_id = $1 GROUP BY i.sku ORDER BY count(DISTINCT o.id) DESC LIMIT 1",
        tenant,
    )
    matches = (await _list(orders, tenant, q=sku, limit=100))["orders"]
    assert len(matches) >= 3, sku
    walked: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await _list(orders, tenant, q=sku, limit=1, **({"cursor": cursor} if cursor else {}))
        walked += page["orders"]
        assert len(walked) <= len(matches), "a page repeats an earlier match"
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert [o["externalOrderId"] for o in walked] == [o["externalOrderId"] for o in matches]

    status = matches[0]["orderStatus"]
    same_status = await _list(orders, tenant, q=sku, status=status, limit=100)
    assert [o["externalOrderId"] for o in same_status["orders"]] == [
        o["externalOrderId"] for o in matches if o["orderStatus"] == status
    ]
    since = matches[1]["orderDate"]
    recent = await _list(orders, tenant, q=sku, **{"from": since}, limit=100)
    assert [o["externalOrderId"] for o in recent["orders"]] == [
        o["externalOrderId"] for o in matches if o["orderDate"] >= since
    ]

    named = next(o for o in matches if o["customerName"] and " " in o["customerName"])
    by_full_name = await _list(orders, tenant, q=named["customerName"].upper(), limit=100)
    assert named["externalOrderId"] in [o["externalOrderId"] for o in by_full_name["orders"]]
    by_ref_digits = await _list(orders, tenant, q=named["orderRef"].lstrip("#"))
    assert named["externalOrderId"] in [o["externalOrderId"] for o in by_ref_digits["orders"]]


async def _add_order(orders: OrdersKit, tenant: str, order_id: str, name: str | None) -> None:
    await orders.pool.execute(
        "INSERT INTO orders (tenant_id, marketplace, external_order_id, order_ref, customer_name,"
        " marketplace_updated_at,"
        " order_date, order_status) VALUES ($1, 'AMAZON', $2, '#' || right($2, 6), $3, now(),"
        " now() - interval '1 day' * right($2, 1)::int, 'SHIPPED')",
        tenant,
        order_id,
        name,
    )


async def _found(orders: OrdersKit, tenant: str, q: str) -> list[str]:
    return [o["externalOrderId"] for o in (await _list(orders, tenant, q=q, limit=100))["orders"]]


async def test_a_name_is_found_by_its_whole_words_in_any_case_order_and_accents(
    orders: OrdersKit,
) -> None:
    """Migration 006: each word of q is a whole word of the name (no accents, any case)."""
    tenant = new_tenant()
    await _add_order(orders, tenant, "405-0000001-0000001", "Léa Lefèbvre-Dupont")
    await _add_order(orders, tenant, "405-0000001-0000002", "Hugo Dupont")
    await _add_order(orders, tenant, "405-0000001-0000003", None)
    both = ["405-0000001-0000001", "405-0000001-0000002"]  # newest first
    assert await _found(orders, tenant, "dupont") == both
    assert await _found(orders, tenant, "DUPONT") == both
    assert await _found(orders, tenant, "lea dupont") == both[:1]
    assert await _found(orders, tenant, "Dupont, LÉA") == both[:1]
    assert await _found(orders, tenant, "lefebvre") == both[:1]
    assert await _found(orders, tenant, "hugo lefebvre") == []
    assert await _found(orders, tenant, "dupon") == []  # part of a word is not a word
    assert await _found(orders, tenant, "-,;") == []  # no word at all
    assert await _found(orders, new_tenant(), "dupont") == []
    # However odd a name Amazon sends, the order is stored and its words found.
    odd = "Åsa " + "ü" * 3000 + " " + " ".join(f"w{n}" for n in range(400))
    await _add_order(orders, tenant, "405-0000001-0000009", odd)
    assert await _found(orders, tenant, "asa w399") == ["405-0000001-0000009"]
    assert await _found(orders, tenant, "w399") == ["405-0000001-0000009"]
    await orders.pool.execute(
        "DELETE FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
        tenant,
        "405-0000001-0000009",
    )

    # The words follow the name and the date, whichever statement changes them.
    await orders.pool.execute(
        "UPDATE orders SET customer_name = 'Zoé Martin'"
        " WHERE tenant_id = $1 AND external_order_id = $2",
        tenant,
        both[0],
    )
    assert await _found(orders, tenant, "dupont") == both[1:]
    assert await _found(orders, tenant, "zoe martin") == both[:1]
    await orders.pool.execute(
        "UPDATE orders SET order_date = now() - interval '9 days', customer_name = 'Hugo Martin'"
        " WHERE tenant_id = $1 AND external_order_id = $2",
        tenant,
        both[0],
    )
    assert await _found(orders, tenant, "hugo") == [both[1], both[0]]
    page = await _list(orders, tenant, q="hugo", limit=1)
    rest = await _list(orders, tenant, q="hugo", limit=1, cursor=page["nextCursor"])
    assert [o["externalOrderId"] for o in page["orders"] + rest["orders"]] == [both[1], both[0]]
    await orders.pool.execute(
        "DELETE FROM orders WHERE tenant_id = $1 AND external_order_id = $2", tenant, both[1]
    )
    assert await _found(orders, tenant, "hugo") == both[:1]
    assert (
        await orders.pool.fetchval(
            "SELECT count(*) FROM order_name_words WHERE tenant_id = $1", tenant
        )
        == 2
    )  # hugo, martin: nothing left of the deleted or renamed


async def test_one_order_with_items(backfilled: tuple[OrdersKit, str, int]) -> None:
    orders, tenant, _ = backfilled
    row = await orders.pool.fetchrow(
        "SELECT external_order_id FROM orders WHERE tenant_id = $1 AND order_status = 'SHIPPED'"
        " LIMIT 1",
        tenant,
    )
    response = await orders.api("GET", f"/{row['external_order_id']}", tenant)
    assert response.status_code == 200, response.text
    order = response.json()
    assert order["orderStatus"] == "SHIPPED" and order["deliveryStatus"] == "SHIPPED"
    assert order["savStatus"] == "NONE" and order["slaStatus"] == "OK"
    assert order["items"] and all(i["quantity"] >= 1 and i["unitPrice"] for i in order["items"])
    assert order["shippingAddress"]["countryCode"] == "FR"
    assert order["currency"] == "EUR" and float(order["totalAmount"]) > 0


async def test_another_tenant_never_sees_them(backfilled: tuple[OrdersKit, str, int]) -> None:
    orders, tenant, _ = backfilled
    other = new_tenant()
    order_id = await orders.pool.fetchval(
        "SELECT external_order_id FROM orders WHERE tenant_id = $1 LIMIT 1", tenant
    )
    assert (await _list(orders, other, limit=100)) == {"orders": [], "nextCursor": None}
    assert (await _list(orders, other, q=order_id))["orders"] == []
    response = await orders.api("GET", f"/{order_id}", other)
    assert response.status_code == 404, response.text
    assert response.json()["error"]
    job_id = (await orders.job_of(tenant))["jobId"]
    assert (await orders.api("GET", f"/backfill/{job_id}", other)).status_code == 404
    # A token for one tenant cannot ask for another.
    spoofed = await orders.api("GET", f"/{order_id}", other, headers={"X-Tenant-Id": tenant})
    assert spoofed.status_code in (401, 403), spoofed.text


BAD_QUERIES = [
    {"status": "LOST_IN_SPACE"},
    {"limit": "0"},
    {"limit": "101"},
    {"cursor": "bm90LWEtY3Vyc29y"},
    {"cursor": "%%%"},
    {"cursor": encode_cursor(datetime(2026, 11, 22, tzinfo=UTC), "not-an-order-uuid")},
    {"from": "yesterday"},
    {"q": "a\x00b"},
    {"q": "x" * 201},
]


async def test_bad_input_is_a_400_never_a_500(orders: OrdersKit) -> None:
    tenant = new_tenant()
    for params in BAD_QUERIES:
        response = await orders.api("GET", "", tenant, params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]
    for order_id in ("123", "407-8949262-614912x", "407-8949262-6149120-1"):
        response = await orders.api("GET", f"/{order_id}", tenant)
        assert response.status_code == 400, (order_id, response.text)
    unauthenticated = await orders.api("GET", "", tenant, headers={"Authorization": ""})
    assert unauthenticated.status_code == 401


async def test_the_service_keeps_one_plan_per_statement(orders: OrdersKit) -> None:
    """DEFINITION.database_settings reaches every pooled connection: a search is not planned
    anew at each request (store.list_orders_query; docs/ORDERS.md)."""
    async with orders.pool.acquire() as first, orders.pool.acquire() as second:
        for conn in (first, second):
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
