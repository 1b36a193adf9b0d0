"""Messaging API v1 against Amazon's model: sending templated messages, refusals, limits."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import httpx
import pytest
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import CONTRACT, FR, all_orders_v0, connect, headers, iso_ago

pytestmark = pytest.mark.asyncio

SEND_PATHS = {
    "confirmCustomizationDetails",
    "confirmDeliveryDetails",
    "legalDisclosure",
    "confirmOrderDetails",
    "confirmServiceDetails",
    "warranty",
    "digitalAccessKey",
    "unexpectedProblem",
    "invoice",
}


def _checked(response: httpx.Response) -> Any:
    """Every non-201 answer must be valid against the operation's model schema."""
    body = response.json()
    CONTRACT.check(response.request.method, response.request.url.path, response.status_code, body)
    return body


async def _orders_by_status(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    orders = await all_orders_v0(client, token, CreatedAfter=iso_ago(days=60))
    return {o["OrderStatus"]: o["AmazonOrderId"] for o in orders}


async def _send(
    client: httpx.AsyncClient, token: str, order_id: str, action: str, body: Any
) -> httpx.Response:
    return await client.post(
        f"/messaging/v1/orders/{order_id}/messages/{action}",
        params={"marketplaceIds": FR},
        headers=headers(token),
        json=body,
    )


async def _sent(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await client.get("/_sandbox/messaging/sent", params={"orderId": order_id})
    assert response.status_code == 200
    return response.json()["sent"]


async def test_every_send_operation_of_the_model_is_served() -> None:
    model = json.loads(
        (resources.files("keybuzz_double_amazon") / "spapi_models" / "messaging.json").read_text()
    )
    paths = {path.rsplit("/", 1)[1] for path in model["paths"] if "/messages/" in path}
    assert paths == SEND_PATHS


async def test_an_allowed_action_is_sent_with_201_and_an_empty_body(make_client) -> None:
    client = await make_client(contract=False)
    token = (await connect(client))["access_token"]
    shipped = (await _orders_by_status(client, token))["Shipped"]
    response = await _send(client, token, shipped, "confirmDeliveryDetails", {"text": "Livré."})
    assert response.status_code == 201, response.text
    assert response.content == b""
    assert response.headers["x-amzn-RateLimit-Limit"] == "1.0"
    [sent] = await _sent(client, shipped)
    assert sent["action"] == "confirmDeliveryDetails" and sent["body"] == {"text": "Livré."}
    assert sent["sellingPartnerId"] == "A12BCIS2R7HD4D" and sent["marketplaceId"] == FR
    assert await _sent(client, "000-0000000-0000000") == []
    # The invoice a shipped order lists is sent too; its model documents no rate.
    invoice = {"attachments": [{"uploadDestinationId": "u-1", "fileName": "facture.pdf"}]}
    response = await _send(client, token, shipped, "invoice", invoice)
    assert response.status_code == 201, response.text
    assert "x-amzn-RateLimit-Limit" not in response.headers
    assert [s["action"] for s in await _sent(client, shipped)][-1] == "invoice"


async def test_an_action_the_order_does_not_allow_is_refused_like_amazon(make_client) -> None:
    client = await make_client(contract=False)
    token = (await connect(client))["access_token"]
    by_status = await _orders_by_status(client, token)
    refused = [
        (by_status["Shipped"], "confirmOrderDetails"),  # only before shipping
        (by_status["Canceled"], "unexpectedProblem"),  # nothing for a cancelled order
        (by_status["Shipped"], "digitalAccessKey"),  # no digital goods here
    ]
    for order_id, action in refused:
        response = await _send(client, token, order_id, action, {"text": "Bonjour"})
        assert response.status_code == 403, (action, response.text)
        assert _checked(response) == {
            "errors": [
                {
                    "code": "Unauthorized",
                    "message": "Invalid amazonOrderId and template combination.",
                    "details": "",
                }
            ]
        }
        assert await _sent(client, order_id) == []


async def test_bodies_and_parameters_are_checked_against_the_model(make_client) -> None:
    client = await make_client(contract=False)
    token = (await connect(client))["access_token"]
    shipped = (await _orders_by_status(client, token))["Shipped"]
    bad = [
        ("confirmDeliveryDetails", {"text": ""}),  # minLength 1
        ("confirmDeliveryDetails", {"text": "x" * 2001}),  # maxLength 2000
        ("confirmDeliveryDetails", {"text": 42}),
        ("warranty", {"coverageStartDate": "not a date", "attachments": "x"}),
        ("confirmDeliveryDetails", None),  # body required
    ]
    for action, body in bad:
        response = await _send(client, token, shipped, action, body)
        assert response.status_code == 400, (action, body, response.text)
        assert _checked(response)["errors"][0]["code"] == "InvalidInput"
    no_marketplace = await client.post(
        f"/messaging/v1/orders/{shipped}/messages/unexpectedProblem",
        headers=headers(token),
        json={"text": "x"},
    )
    assert no_marketplace.status_code == 400
    other_marketplace = await client.post(
        f"/messaging/v1/orders/{shipped}/messages/unexpectedProblem",
        params={"marketplaceIds": "A1PA6795UKMFR9"},
        headers=headers(token),
        json={"text": "x"},
    )
    assert other_marketplace.status_code == 400
    unknown = await _send(client, token, "999-9999999-9999999", "unexpectedProblem", {"text": "x"})
    assert unknown.status_code == 404 and _checked(unknown)["errors"][0]["code"] == "NotFound"
    forged = await _send(client, "Atza|forged", shipped, "unexpectedProblem", {"text": "x"})
    assert forged.status_code == 403 and _checked(forged)["errors"][0]["code"] == "Unauthorized"
    assert await _sent(client, shipped) == []


async def test_sends_are_metered_with_the_models_rate(make_client) -> None:
    # The model's 1 send a second, burst 5, on a clock a hundred times slower: the burst is
    # spent whatever the machine's pace (at time scale 1 six sends taking more than a second
    # met a refilled bucket, not the limit).
    client = await make_client(SandboxConfig(time_scale=0.01), contract=False)
    token = (await connect(client))["access_token"]
    shipped = (await _orders_by_status(client, token))["Shipped"]
    statuses = [
        (await _send(client, token, shipped, "unexpectedProblem", {"text": f"n{i}"})).status_code
        for i in range(6)
    ]
    assert statuses == [201] * 5 + [429]
    throttled = await _send(client, token, shipped, "unexpectedProblem", {"text": "again"})
    assert throttled.status_code == 429 and "x-amzn-RateLimit-Limit" not in throttled.headers
    assert _checked(throttled)["errors"][0]["code"] == "QuotaExceeded"
    assert len(await _sent(client, shipped)) == 5
    config = (await client.get("/_sandbox/config")).json()["rateLimits"]
    assert config["messaging.createUnexpectedProblem"] == {"rate": 1.0, "burst": 5}


async def test_attributes_and_actions_follow_the_order(client) -> None:
    token = (await connect(client))["access_token"]
    by_status = await _orders_by_status(client, token)
    attributes = await client.get(
        f"/messaging/v1/orders/{by_status['Shipped']}/attributes",
        params={"marketplaceIds": FR},
        headers=headers(token),
    )
    assert attributes.status_code == 200 and attributes.json() == {"buyer": {"locale": "fr-FR"}}
    for status, expected in {
        "Shipped": {"legalDisclosure", "unexpectedProblem", "confirmDeliveryDetails", "warranty"},
        "Canceled": set(),
    }.items():
        actions = await client.get(
            f"/messaging/v1/orders/{by_status[status]}",
            params={"marketplaceIds": FR},
            headers=headers(token),
        )
        assert expected <= {a["name"] for a in actions.json()["_links"]["actions"]}
