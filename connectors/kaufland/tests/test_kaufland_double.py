"""The Kaufland double and the connector on it (a sandbox of their own): a request's
signature verified as Kaufland's problem types say (a wrong signature, a stale time, a
missing header), every answer of Kaufland's description's shape; the connector's check,
tickets across storefronts, a reply recognised on the re-read ticket, a refusal's reason,
the order a ticket names and the orders read storefront by storefront."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from keybuzz_connector_kaufland.connector import (
    KAUFLAND,
    KauflandSettings,
    client_of,
    probe,
    session_of,
)
from keybuzz_double_kaufland import KauflandDoubleSettings
from keybuzz_double_kaufland.contract import DESCRIBED
from keybuzz_double_kaufland.routes import signature
from keybuzz_sandbox import SandboxConfig
from keybuzz_shared.connectors.kit.declaration import Opening
from keybuzz_shared.connectors.seam import (
    CredentialsRefused,
    MarketplaceUnavailable,
    Reply,
    ThreadKey,
)
from keybuzz_shared.file_links import FileLinks


class Checked:
    """Every answer the connector got, checked against Kaufland's description."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        path = response.request.url.path.removeprefix("/kaufland/v2")
        await response.aread()
        if response.request.url.path.startswith("/kaufland/files/") or not response.content:
            return
        operation = DESCRIBED.operation_at(response.request.method, path)
        assert operation, f"{response.request.method} {path}: no such operation"
        found = DESCRIBED.answer_problems(operation, str(response.status_code), response.json())
        self.problems += [f"{operation}: {p}" for p in found]


async def test_a_request_is_answered_only_with_its_sellers_signature(serve: Any) -> None:  # noqa: F811
    http = await serve(SandboxConfig(doubles=(KauflandDoubleSettings(),)))
    seller = (await http.get("/_sandbox/kaufland/shops")).json()[0]
    url = f"{str(http.base_url).rstrip('/')}/kaufland/v2/info/storefront"

    def headers(secret: str, stamp: int) -> dict[str, str]:
        sign = signature(secret, "GET", url, b"", str(stamp))
        return {
            "Shop-Client-Key": seller["clientKey"],
            "Shop-Timestamp": str(stamp),
            "Shop-Signature": sign,
        }

    now = int(time.time())
    ok = await http.get(url, headers=headers(seller["secretKey"], now))
    assert ok.status_code == 200 and ok.json() == {"data": seller["storefronts"]}
    refused = {
        "wrong signature": headers(seller["secretKey"][::-1], now),
        "stale timestamp": headers(seller["secretKey"], now - 301),
        "missing header": {
            k: v for k, v in headers(seller["secretKey"], now).items() if k != "Shop-Signature"
        },
    }
    types = {}
    for fault, sent in refused.items():
        answer = await http.get(url, headers=sent)
        assert answer.status_code == 401, (fault, answer.text)
        assert DESCRIBED.answer_problems("GetAllStorefronts", "401", answer.json()) == []
        types[fault] = answer.json()["type"]
    assert types == {
        "wrong signature": "/problems/corrupted-signature",
        "stale timestamp": "/problems/missing-or-invalid-request-header",
        "missing header": "/problems/missing-or-invalid-request-header",
    }
    # Signed, but asking what the description does not name or off its schema: refused,
    # so that a misspelt filter of ours shows instead of being ignored.
    for query, why in (
        ("?storefronts=de", "unknown query parameter storefronts"),
        ("?limit=lots", "limit"),
    ):
        asked = f"{str(http.base_url).rstrip('/')}/kaufland/v2/tickets{query}"
        sign = signature(seller["secretKey"], "GET", asked, b"", str(now))
        answer = await http.get(
            asked,
            headers={
                "Shop-Client-Key": seller["clientKey"],
                "Shop-Timestamp": str(now),
                "Shop-Signature": sign,
            },
        )
        assert answer.status_code == 400, (query, answer.text)
        assert answer.json()["type"] == "/problems/validation-error" and why in answer.text


async def test_the_connector_reads_tickets_across_storefronts_and_replies_once(
    serve: Any,
) -> None:  # noqa: F811
    sandbox = await serve(SandboxConfig(doubles=(KauflandDoubleSettings(),)))
    root = str(sandbox.base_url).rstrip("/")
    seller = (await sandbox.get("/_sandbox/kaufland/shops")).json()[2]
    env = {"KAUFLAND_API_URL": f"{root}/kaufland/v2"}
    api = KauflandSettings.from_environment(env).shop_api(KAUFLAND)
    assert api is not None
    fields = {"client_key": seller["clientKey"], "secret_key": seller["secretKey"]}
    checked = Checked()
    asked: list[httpx.URL] = []

    async def record(request: httpx.Request) -> None:
        asked.append(request.url)

    hooks = {"request": [record], "response": [checked]}
    async with httpx.AsyncClient(timeout=30, event_hooks=hooks) as http:
        client = client_of(
            Opening(fields, http, api, {"files": FileLinks([root], inside_allowed=True)})
        )
        assert await probe(client, fields) == seller["clientKey"]
        inbox, replies, orders = session_of(client).parts
        page = await inbox.inbox_messages(since=datetime.now(UTC) - timedelta(days=1))
        assert page.next_cursor is None
        languages = {m.language for m in page.items}
        assert languages == {"it", "fr", "pl", "sk"}  # one ticket a storefront
        assert {m.sender_type for m in page.items} == {"BUYER"}
        assert {m.ticket_subject for m in page.items} == {"WHERE_IS_MY_ORDER"}
        first = page.items[0]
        thread = first.thread
        assert thread.order_id and await orders.orders_by_id([thread.order_id])

        text = "Bonjour, votre colis part aujourd'hui."
        sent_at = datetime.now(UTC)
        outcome = await replies.reply(Reply(thread=thread, in_reply_to=first.message_id, body=text))
        assert outcome.status == "SENT", outcome
        back = await replies.sent_messages(thread, sent_at)
        assert [m.body for m in back] == [text]
        # The buyer's answer, written after the reply, is numbered after it.
        later = await sandbox.post(
            f"/_sandbox/kaufland/shops/{seller['clientKey']}/threads/{thread.id}/messages",
            json={"body": "Merci, bien reçu."},
        )
        assert int(later.json()["messageId"]) > int(back[0].message_id), later.text
        closed = await sandbox.post(
            f"/_sandbox/kaufland/shops/{seller['clientKey']}/threads/{thread.id}/close",
            json={"by": "customer_service"},
        )
        assert closed.status_code == 200
        refused = await replies.reply(
            Reply(thread=thread, in_reply_to=first.message_id, body="encore")
        )
        assert refused.status == "FAILED" and "finally closed" in (refused.reason or "")
        unknown = ThreadKey(kind="DISCUSSION", id="0019999999", order_id=None)
        lost = await replies.reply(Reply(thread=unknown, in_reply_to="1", body="?"))
        assert lost.status == "FAILED"
        await reads_orders_storefront_by_storefront(sandbox, seller, orders, asked)
        # A clock Kaufland finds off holds the shop: its keys are not taken as refused.
        client.auth._clock = lambda: time.time() - 600  # type: ignore[attr-defined]
        with pytest.raises(MarketplaceUnavailable) as held:
            await probe(client, fields)
        assert not isinstance(held.value, CredentialsRefused) and held.value.retry_after == 300
    assert sorted({re.sub(r"\.[0-9]+", "", p) for p in checked.problems}) == []


async def walk(list_page: Any) -> tuple[list[Any], Any]:
    """Every page of a listing: its orders and the last page's ``complete_until``."""
    orders: list[Any] = []
    cursor = None
    while True:
        page = await list_page(cursor)
        orders += page.items
        if page.next_cursor is None:
            return orders, page.complete_until
        cursor = page.next_cursor


async def reads_orders_storefront_by_storefront(
    sandbox: httpx.AsyncClient, seller: dict[str, Any], orders: Any, asked: list[httpx.URL]
) -> None:
    """Created orders (``/orders``) and changed ones (``/order-units`` by their last change)
    asked one storefront a call, each order once, its units its lines (cents as euros)."""
    now = datetime.now(UTC)
    created, _ = await walk(
        lambda c: orders.orders_created(start=now - timedelta(days=10), end=now, cursor=c)
    )
    assert {o.sales_channel for o in created} == set(seller["storefronts"])
    assert len({o.external_id for o in created}) == len(created) >= len(seller["storefronts"])
    line = created[0].lines[0]
    assert line.unit_price == Decimal("24.99") and line.quantity == 1
    assert {o.lines[0].currency for o in created if o.sales_channel == "pl"} == {"PLN"}
    listed = [u for u in asked if u.path.endswith(("/orders", "/order-units"))]
    assert listed and all(u.params.get("storefront") in seller["storefronts"] for u in listed)

    shipped = created[-1]
    changed = await sandbox.post(
        f"/_sandbox/kaufland/shops/{seller['clientKey']}/units/{shipped.lines[0].line_id}",
        json={"status": "sent"},
    )
    assert changed.status_code == 200, changed.text
    fresh, until = await walk(lambda c: orders.orders(since=datetime.now(UTC), cursor=c))
    assert [(o.external_id, o.status) for o in fresh] == [(shipped.external_id, "SHIPPED")]
    assert until is not None
    units = [u for u in asked if u.path.endswith("/order-units")]
    assert {u.params["storefront"] for u in units} == set(seller["storefronts"])
    assert {u.params["sort"] for u in units} == {"ts_updated:desc"}
