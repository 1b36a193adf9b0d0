"""GET/POST /api/v1/orders/{orderId}/messaging-actions: Amazon's templated messages.

Real sandbox (Messaging API from Amazon's model), OpenBao, PostgreSQL, NATS: the
tenant connects through oauth, its orders are backfilled, then it messages buyers.
What the buyer got is read from the sandbox (``GET /_sandbox/messaging/sent``).
"""

from __future__ import annotations

from typing import Any

import pytest
from orders_testkit import OrdersKit, Sandbox, new_tenant

NOT_ALLOWED = "Invalid amazonOrderId and template combination."


@pytest.fixture
def connected(backfilled: tuple[OrdersKit, str, int]) -> tuple[OrdersKit, str]:
    """The module's backfilled seller: each test counts the sandbox's sends of its order
    before and after its own."""
    orders, tenant, _ = backfilled
    return orders, tenant


async def _order_in(orders: OrdersKit, tenant: str, *statuses: str) -> str:
    page = await orders.api("GET", "", tenant, params={"status": list(statuses), "limit": 1})
    assert page.status_code == 200, page.text
    return str(page.json()["orders"][0]["externalOrderId"])


async def _sent(sandbox: Sandbox, order_id: str) -> list[dict[str, Any]]:
    response = await sandbox.http.get("/_sandbox/messaging/sent", params={"orderId": order_id})
    assert response.status_code == 200, response.text
    return list(response.json()["sent"])


async def _send(orders: OrdersKit, tenant: str, order_id: str, **body: Any) -> Any:
    return await orders.api("POST", f"/{order_id}/messaging-actions", tenant, json=body)


async def test_lists_the_actions_and_sends_one_to_the_buyer(
    connected: tuple[OrdersKit, str], sandbox: Sandbox
) -> None:
    orders, tenant = connected
    shipped = await _order_in(orders, tenant, "SHIPPED", "DELIVERED")
    listed = await orders.api("GET", f"/{shipped}/messaging-actions", tenant)
    assert listed.status_code == 200, listed.text
    assert listed.json()["orderId"] == shipped
    assert {"confirmDeliveryDetails", "unexpectedProblem", "warranty"} <= set(
        listed.json()["actions"]
    )
    before = len(await _sent(sandbox, shipped))
    text = "Bonjour, votre colis arrive jeudi. Le transporteur vous appellera."
    sent = await _send(orders, tenant, shipped, action="confirmDeliveryDetails", text=text)
    assert sent.status_code == 201, sent.text
    assert sent.json()["action"] == "confirmDeliveryDetails" and sent.json()["orderId"] == shipped
    received = await _sent(sandbox, shipped)
    assert len(received) == before + 1
    assert received[-1]["action"] == "confirmDeliveryDetails"
    assert received[-1]["body"] == {"text": text}
    assert received[-1]["marketplaceId"] == "A13V1IB3VIYZZH"

    warranty = await _send(
        orders,
        tenant,
        shipped,
        action="warranty",
        coverageStartDate="2026-01-01T00:00:00Z",
        coverageEndDate="2028-01-01T00:00:00Z",
    )
    assert warranty.status_code == 201, warranty.text
    assert (await _sent(sandbox, shipped))[-1]["body"] == {
        "coverageStartDate": "2026-01-01T00:00:00Z",
        "coverageEndDate": "2028-01-01T00:00:00Z",
    }


async def test_an_action_amazon_does_not_allow_is_refused_with_amazons_error(
    connected: tuple[OrdersKit, str], sandbox: Sandbox
) -> None:
    orders, tenant = connected
    cancelled = await _order_in(orders, tenant, "CANCELLED")
    listed = await orders.api("GET", f"/{cancelled}/messaging-actions", tenant)
    assert listed.status_code == 200 and listed.json()["actions"] == []
    shipped = await _order_in(orders, tenant, "SHIPPED", "DELIVERED")
    for order_id, action in ((cancelled, "unexpectedProblem"), (shipped, "confirmOrderDetails")):
        before = len(await _sent(sandbox, order_id))
        refused = await _send(orders, tenant, order_id, action=action, text="Bonjour")
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["error"] == "conflict" and NOT_ALLOWED in body["message"]
        assert body["details"] == {
            "amazonCode": "Unauthorized",
            "amazonMessage": NOT_ALLOWED,
            "amazonStatus": 403,
        }
        assert len(await _sent(sandbox, order_id)) == before


async def test_another_tenants_order_is_a_404_and_nothing_is_sent(
    connected: tuple[OrdersKit, str], sandbox: Sandbox
) -> None:
    orders, tenant = connected
    shipped = await _order_in(orders, tenant, "SHIPPED", "DELIVERED")
    before = len(await _sent(sandbox, shipped))
    stranger = new_tenant()
    listed = await orders.api("GET", f"/{shipped}/messaging-actions", stranger)
    assert listed.status_code == 404 and listed.json()["error"] == "not_found"
    sent = await _send(orders, stranger, shipped, action="unexpectedProblem", text="Bonjour")
    assert sent.status_code == 404, sent.text
    # A user of one tenant naming another tenant in X-Tenant-Id is refused by the frame.
    headers = {**orders.headers(stranger), "X-Tenant-Id": tenant}
    async with orders.service.client() as http:
        crossed = await http.get(f"/api/v1/orders/{shipped}/messaging-actions", headers=headers)
    assert crossed.status_code == 403
    assert len(await _sent(sandbox, shipped)) == before


async def test_bad_input_is_a_400_before_amazon_is_asked(
    connected: tuple[OrdersKit, str], sandbox: Sandbox
) -> None:
    orders, tenant = connected
    shipped = await _order_in(orders, tenant, "SHIPPED", "DELIVERED")
    before = len(await _sent(sandbox, shipped))
    bad: list[dict[str, Any]] = [
        {"action": "sendMoney", "text": "x"},  # not an action
        {"action": "confirmDeliveryDetails"},  # text required
        {"action": "confirmDeliveryDetails", "text": "   "},
        {"action": "confirmDeliveryDetails", "text": "x" * 2001},
        {"action": "confirmCustomizationDetails", "text": "x" * 801},
        {"action": "legalDisclosure", "text": "a template takes no text"},
        {"action": "unexpectedProblem", "text": "x", "coverageStartDate": "2026-01-01T00:00:00Z"},
        {
            "action": "warranty",
            "coverageStartDate": "2027-01-01T00:00:00Z",
            "coverageEndDate": "2026-01-01T00:00:00Z",
        },
        {"action": "unexpectedProblem", "text": "x", "attachments": []},  # unknown field
        {"action": "unexpectedProblem", "text": "nul \u0000 byte"},
    ]
    for body in bad:
        response = await _send(orders, tenant, shipped, **body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "bad_request"
    not_json = await orders.api(
        "POST",
        f"/{shipped}/messaging-actions",
        tenant,
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    bad_id = await _send(orders, tenant, "not-an-order", action="unexpectedProblem", text="x")
    assert bad_id.status_code == 400 and bad_id.json()["error"] == "bad_request"
    assert len(await _sent(sandbox, shipped)) == before


async def test_throttled_sends_are_retried_and_sent_once(
    connected: tuple[OrdersKit, str], sandbox: Sandbox
) -> None:
    orders, tenant = connected
    shipped = await _order_in(orders, tenant, "SHIPPED", "DELIVERED")
    before = len(await _sent(sandbox, shipped))
    await sandbox.fail_next(3, 429, "createUnexpectedProblem")
    sent = await _send(orders, tenant, shipped, action="unexpectedProblem", text="Un souci")
    assert sent.status_code == 201, sent.text
    assert await sandbox.faults_left() == 0  # the three 429s were answered, then it went through
    assert len(await _sent(sandbox, shipped)) == before + 1


async def test_a_send_whose_answer_is_lost_is_not_repeated(
    connected: tuple[OrdersKit, str], sandbox: Sandbox
) -> None:
    orders, tenant = connected
    shipped = await _order_in(orders, tenant, "SHIPPED", "DELIVERED")
    before = len(await _sent(sandbox, shipped))
    # A 500 may come after Amazon sent the message: a retry could send it twice.
    await sandbox.fail_next(1, 500, "createUnexpectedProblem")
    failed = await _send(orders, tenant, shipped, action="unexpectedProblem", text="Un souci")
    assert failed.status_code == 502, failed.text
    assert failed.json()["details"]["amazonStatus"] == 500
    assert "not sent again" in failed.json()["message"]
    assert len(await _sent(sandbox, shipped)) == before  # had it retried, this one would be sent
    # Listing is safe to repeat: a 503 there is retried.
    await sandbox.fail_next(2, 503, "getMessagingActionsForOrder")
    listed = await orders.api("GET", f"/{shipped}/messaging-actions", tenant)
    assert listed.status_code == 200, listed.text
