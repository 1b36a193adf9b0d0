"""Notifications API: destinations (grantless), subscriptions (per seller), ORDER_CHANGE on SQS.

The queue is a real SQS server (moto, the dev stack's); every message is checked
against Amazon's published ORDER_CHANGE schema (the required fields, types and
enums of schemas/notifications/OrderChangeNotification.json, payload version 1.0).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiobotocore.session import get_session
from jsonschema import Draft7Validator
from keybuzz_devstack import sqs as stack_sqs
from keybuzz_devstack.infra import RunningServer, free_port
from keybuzz_devstack.outage import Outage
from keybuzz_devstack.sqs import DEV_CREDENTIALS, REGION, Queues
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import APPLICATION_ID, FR_SELLER, connect, headers, lwa

DESTINATIONS = "/notifications/v1/destinations"
SUBSCRIPTION = "/notifications/v1/subscriptions/ORDER_CHANGE"

_DATE = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
_NULLABLE_DATE = {"type": ["string", "null"]}
ORDER_CHANGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "NotificationVersion",
        "NotificationType",
        "PayloadVersion",
        "EventTime",
        "Payload",
        "NotificationMetadata",
    ],
    "properties": {
        "NotificationVersion": {"const": "1.0"},
        "NotificationType": {"const": "ORDER_CHANGE"},
        "PayloadVersion": {"const": "1.0"},
        "EventTime": _DATE,
        "Payload": {
            "type": "object",
            "required": ["OrderChangeNotification"],
            "properties": {
                "OrderChangeNotification": {
                    "type": "object",
                    "required": [
                        "NotificationLevel",
                        "SellerId",
                        "AmazonOrderId",
                        "OrderChangeType",
                        "OrderChangeTrigger",
                        "Summary",
                    ],
                    "properties": {
                        "NotificationLevel": {"enum": ["OrderItemLevel", "OrderLevel"]},
                        "SellerId": {"type": "string"},
                        "AmazonOrderId": {"type": "string", "pattern": r"^\d{3}-\d{7}-\d{7}$"},
                        "OrderChangeType": {"enum": ["BuyerRequestedChange", "OrderStatusChange"]},
                        "OrderChangeTrigger": {
                            "type": "object",
                            "required": ["TimeOfOrderChange", "ChangeReason"],
                            "properties": {
                                "TimeOfOrderChange": _NULLABLE_DATE,
                                "ChangeReason": {"type": "string"},
                            },
                        },
                        "Summary": {
                            "type": "object",
                            "required": [
                                "MarketplaceId",
                                "OrderStatus",
                                "PurchaseDate",
                                "DestinationPostalCode",
                                "FulfillmentType",
                                "OrderType",
                                "OrderItems",
                            ],
                            "properties": {
                                "MarketplaceId": {"type": "string"},
                                "OrderStatus": {
                                    "enum": [
                                        "Pending",
                                        "Unshipped",
                                        "PartiallyShipped",
                                        "Shipped",
                                        "Canceled",
                                        "Unfulfillable",
                                        "InvoiceUnconfirmed",
                                        "PendingAvailability",
                                    ]
                                },
                                "PurchaseDate": _NULLABLE_DATE,
                                "DestinationPostalCode": {"type": ["string", "null"]},
                                "FulfillmentType": {"enum": ["AFN", "MFN"]},
                                "OrderType": {
                                    "enum": [
                                        "StandardOrder",
                                        "LongLeadTimeOrder",
                                        "Preorder",
                                        "BackOrder",
                                        "SourcingOnDemandOrder",
                                    ]
                                },
                                "NumberOfItemsShipped": {"type": "integer"},
                                "NumberOfItemsUnshipped": {"type": "integer"},
                                "EarliestDeliveryDate": _DATE,
                                "LatestDeliveryDate": _DATE,
                                "EarliestShipDate": _DATE,
                                "LatestShipDate": _DATE,
                                "OrderPrograms": {
                                    "type": "array",
                                    "items": {
                                        "enum": [
                                            "Business",
                                            "Prime",
                                            "Premium",
                                            "IBA",
                                            "Replacement",
                                        ]
                                    },
                                },
                                "OrderItems": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": [
                                            "OrderItemId",
                                            "SellerSKU",
                                            "SupplySourceId",
                                            "Quantity",
                                        ],
                                        "properties": {
                                            "OrderItemId": {"type": "string"},
                                            "SellerSKU": {"type": "string"},
                                            "SupplySourceId": {"type": ["string", "null"]},
                                            "OrderItemStatus": {"enum": ["Unshipped", "Shipped"]},
                                            "Quantity": {"type": "integer"},
                                            "QuantityShipped": {"type": "integer"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
        "NotificationMetadata": {
            "type": "object",
            "required": ["ApplicationId", "SubscriptionId", "PublishTime", "NotificationId"],
            "properties": {
                k: {"type": "string"}
                for k in ("ApplicationId", "SubscriptionId", "PublishTime", "NotificationId")
            },
        },
    },
}
VALIDATOR = Draft7Validator(ORDER_CHANGE_SCHEMA)


# The sandbox's tests run from sandbox/ too (its own pytest root, without the repository's
# fixtures): the SQS server is started here the way keybuzz_devstack.testing starts it.
@pytest.fixture(scope="module")
def sqs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _server(tmp_path_factory.mktemp("sqs")) as server:
        yield server.spec.url


@contextlib.contextmanager
def _server(root: Path) -> Iterator[RunningServer]:
    server = RunningServer(stack_sqs.sqs_spec(free_port()), root / "sqs.log").start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sqs_queues(sqs_endpoint: str) -> Queues:
    return stack_sqs.create_queues(sqs_endpoint, f"sandbox-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def sqs(sqs_queues: Queues) -> AsyncIterator[Any]:
    async with _client(sqs_queues.endpoint) as client:
        yield client


def _client(endpoint: str) -> Any:
    return get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=DEV_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEV_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


async def grantless_token(client: httpx.AsyncClient) -> str:
    response = await lwa(
        client, grant_type="client_credentials", scope="sellingpartnerapi::notifications"
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def destination(client: httpx.AsyncClient, arn: str) -> str:
    body = {"name": "keybuzz", "resourceSpecification": {"sqs": {"arn": arn}}}
    response = await client.post(
        DESTINATIONS, json=body, headers=headers(await grantless_token(client))
    )
    assert response.status_code == 200, response.text
    return str(response.json()["payload"]["destinationId"])


async def subscribe(client: httpx.AsyncClient, token: str, destination_id: str) -> str:
    response = await client.post(
        SUBSCRIPTION,
        json={"payloadVersion": "1.0", "destinationId": destination_id},
        headers=headers(token),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["payload"]["subscriptionId"])


async def subscribed(make_client: Any, queues: Queues) -> tuple[httpx.AsyncClient, str]:
    """A sandbox at real-time scale (only advances move the orders) delivering to
    ``queues``, with the FR seller subscribed: the client and the subscription id."""
    client = await make_client(
        SandboxConfig(time_scale=1, doubles=(AmazonDoubleSettings(sqs_endpoint=queues.endpoint),))
    )
    seller = (await connect(client))["access_token"]
    return client, await subscribe(client, seller, await destination(client, queues.queue_arn))


async def drain(sqs: Any, url: str, *, want: int, within: float = 15.0) -> list[dict[str, Any]]:
    """Receive (and delete) until ``want`` messages came, in arrival order."""
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(found) < want and loop.time() < deadline:
        answer = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            found.append(json.loads(message["Body"]))
            await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def change_of(message: dict[str, Any]) -> dict[str, Any]:
    return message["Payload"]["OrderChangeNotification"]  # type: ignore[no-any-return]


async def test_destinations_are_grantless_and_subscriptions_per_seller(
    make_client: Any, sqs_queues: Queues
) -> None:
    client = await make_client(
        SandboxConfig(
            time_scale=1, doubles=(AmazonDoubleSettings(sqs_endpoint=sqs_queues.endpoint),)
        )
    )
    seller = (await connect(client))["access_token"]
    body = {"name": "keybuzz", "resourceSpecification": {"sqs": {"arn": sqs_queues.queue_arn}}}
    # A seller's token cannot create a destination; a grantless one can, once per queue.
    refused = await client.post(DESTINATIONS, json=body, headers=headers(seller))
    assert refused.status_code == 403
    destination_id = await destination(client, sqs_queues.queue_arn)
    again = await client.post(
        DESTINATIONS, json=body, headers=headers(await grantless_token(client))
    )
    assert again.status_code == 409
    listed = await client.get(DESTINATIONS, headers=headers(await grantless_token(client)))
    assert [d["destinationId"] for d in listed.json()["payload"]] == [destination_id]

    # Subscriptions: the seller's token, one per notification type; grantless refused.
    missing = await client.get(SUBSCRIPTION, headers=headers(seller))
    assert missing.status_code == 404
    grantless = await client.post(
        SUBSCRIPTION,
        json={"payloadVersion": "1.0", "destinationId": destination_id},
        headers=headers(await grantless_token(client)),
    )
    assert grantless.status_code == 403
    unknown = await client.post(
        SUBSCRIPTION,
        json={"payloadVersion": "1.0", "destinationId": "no-such-destination"},
        headers=headers(seller),
    )
    assert unknown.status_code == 404
    subscription_id = await subscribe(client, seller, destination_id)
    duplicate = await client.post(
        SUBSCRIPTION,
        json={"payloadVersion": "1.0", "destinationId": destination_id},
        headers=headers(seller),
    )
    assert duplicate.status_code == 409
    current = await client.get(SUBSCRIPTION, headers=headers(seller))
    assert current.json()["payload"]["subscriptionId"] == subscription_id

    # The subscription is deleted grantless (a seller's token: 403).
    by_id = f"{SUBSCRIPTION}/{subscription_id}"
    grantless_headers = headers(await grantless_token(client))
    assert (await client.delete(by_id, headers=headers(seller))).status_code == 403
    assert (await client.delete(by_id, headers=grantless_headers)).status_code == 200
    assert (await client.delete(by_id, headers=grantless_headers)).status_code == 404
    assert (await client.get(SUBSCRIPTION, headers=headers(seller))).status_code == 404


async def test_every_order_change_is_one_message_of_amazons_schema(
    make_client: Any, sqs_queues: Queues, sqs: Any
) -> None:
    # Real-time scale: only the advance moves the orders.
    client, subscription_id = await subscribed(make_client, sqs_queues)
    advanced = (
        await client.post(f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400})
    ).json()
    changed = set(advanced["newOrderIds"]) | set(advanced["updatedOrderIds"])
    assert changed
    published = (await client.get("/_sandbox/notifications")).json()["sent"]
    messages = await drain(sqs, sqs_queues.queue_url, want=len(published))
    assert len(messages) == len(published)  # one message per change, no more
    for message in messages:
        errors = sorted(VALIDATOR.iter_errors(message), key=str)
        assert not errors, errors[0].message
        assert message["NotificationMetadata"]["SubscriptionId"] == subscription_id
        assert message["NotificationMetadata"]["ApplicationId"] == APPLICATION_ID
        assert change_of(message)["SellerId"] == FR_SELLER
    assert {change_of(m)["AmazonOrderId"] for m in messages} == changed
    # The last change of each order is its state in getOrder. Last as published (the order
    # of the changes), not as arrived: each is published a lag after its change.
    in_change_order = [p["notificationId"] for p in published]
    messages.sort(key=lambda m: in_change_order.index(m["NotificationMetadata"]["NotificationId"]))
    seller = (await connect(client))["access_token"]
    last: dict[str, dict[str, Any]] = {}
    for message in messages:
        last[change_of(message)["AmazonOrderId"]] = change_of(message)
    for order_id, change in last.items():
        order = (await client.get(f"/orders/v0/orders/{order_id}", headers=headers(seller))).json()[
            "payload"
        ]
        assert change["Summary"]["OrderStatus"] == order["OrderStatus"]
        assert change["OrderChangeTrigger"]["TimeOfOrderChange"] == order["LastUpdateDate"]
    new = [m for m in messages if change_of(m)["AmazonOrderId"] in advanced["newOrderIds"]]
    assert {change_of(m)["Summary"]["OrderStatus"] for m in new} >= {"Pending"}


async def test_faults_send_some_twice_and_some_late(
    make_client: Any, sqs_queues: Queues, sqs: Any
) -> None:
    client, _ = await subscribed(make_client, sqs_queues)
    # No publication lag: the order of arrival is the SQS delay's alone.
    faults = {"duplicateNext": 2, "lateNext": 1, "lateSeconds": 2, "eventLagSeconds": 0}
    assert (await client.put("/_sandbox/notifications/faults", json=faults)).status_code == 200
    await client.post(f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400})
    published = (await client.get("/_sandbox/notifications")).json()["sent"]
    assert len(published) >= 3
    messages = await drain(sqs, sqs_queues.queue_url, want=len(published) + 2)
    ids = [m["NotificationMetadata"]["NotificationId"] for m in messages]
    assert len(ids) == len(published) + 2
    twice = {i for i in ids if ids.count(i) == 2}
    assert twice == {published[0]["notificationId"], published[1]["notificationId"]}
    # The first published one was held back: later changes arrived before it.
    assert ids[-1] == published[0]["notificationId"]
    off_bounds = ({"lateRate": 2}, {"eventLagSeconds": -1}, {"eventLagSeconds": 901})
    for bad_faults in (*off_bounds, {"duplicateNext": -1}):
        bad = await client.put("/_sandbox/notifications/faults", json=bad_faults)
        assert bad.status_code == 400, bad_faults


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_a_change_is_published_a_while_after_it_happened(
    make_client: Any, sqs_queues: Queues, sqs: Any
) -> None:
    client, _ = await subscribed(make_client, sqs_queues)
    lag = 3.0
    faults = {"eventLagSeconds": lag}
    assert (await client.put("/_sandbox/notifications/faults", json=faults)).status_code == 200
    await client.post(f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400})
    published = (await client.get("/_sandbox/notifications")).json()["sent"]
    assert len(published) >= 3
    messages = await drain(sqs, sqs_queues.queue_url, want=len(published), within=20)
    assert len(messages) == len(published)
    by_id = {p["notificationId"]: p for p in published}
    lags = []
    for message in messages:
        changed = change_of(message)["OrderChangeTrigger"]["TimeOfOrderChange"]
        event_time = message["EventTime"]
        assert message["NotificationMetadata"]["PublishTime"] == event_time
        sent = by_id[message["NotificationMetadata"]["NotificationId"]]
        assert (sent["timeOfOrderChange"], sent["sentAt"]) == (changed, event_time)
        assert sent["destinationArn"] == sqs_queues.queue_arn
        lags.append(_epoch(event_time) - _epoch(changed))
    # TimeOfOrderChange is whole seconds: the lag seen is the drawn one plus < 1 s.
    assert all(0 <= seen < lag + 1 for seen in lags), lags
    assert max(lags) - min(lags) > 1, lags  # drawn for each: not one instant for all
    # Each reaches the queue when published: in EventTime order, whatever the changes' order
    # (within a delivery tick, 0.1 s).
    arrivals = [_epoch(m["EventTime"]) for m in messages]
    assert all(b >= a - 0.15 for a, b in itertools.pairwise(arrivals)), arrivals


async def test_no_message_after_unsubscribing(
    make_client: Any, sqs_queues: Queues, sqs: Any
) -> None:
    client, subscription_id = await subscribed(make_client, sqs_queues)
    grantless = headers(await grantless_token(client))
    deleted = await client.delete(f"{SUBSCRIPTION}/{subscription_id}", headers=grantless)
    assert deleted.status_code == 200
    await client.post(f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400})
    assert await drain(sqs, sqs_queues.queue_url, want=1, within=2.0) == []


async def test_messages_are_held_while_the_queue_is_down(
    make_client: Any, sqs_queues: Queues, sqs: Any
) -> None:
    outage = Outage("127.0.0.1", int(sqs_queues.endpoint.rsplit(":", 1)[1]))
    await outage.up()
    client = await make_client(
        SandboxConfig(time_scale=1, doubles=(AmazonDoubleSettings(sqs_endpoint=outage.url),))
    )
    seller = (await connect(client))["access_token"]
    await subscribe(client, seller, await destination(client, sqs_queues.queue_arn))
    await outage.down()  # the queue cannot be reached
    try:
        await client.post(f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400})
        await asyncio.sleep(1.5)  # several delivery attempts fail meanwhile
        overview = (await client.get("/_sandbox/notifications")).json()
        assert overview["pending"] == len(overview["sent"]) > 0
    finally:
        await outage.up()
    messages = await drain(sqs, sqs_queues.queue_url, want=len(overview["sent"]), within=30)
    assert {m["NotificationMetadata"]["NotificationId"] for m in messages} == {
        sent["notificationId"] for sent in overview["sent"]
    }
    assert (await client.get("/_sandbox/notifications")).json()["pending"] == 0
    await outage.down()


async def test_the_models_rate_applies_to_destinations(make_client: Any) -> None:
    # notifications.json: 1 request/s, burst 5, on a clock a hundred times slower: no refill
    # meanwhile whatever the machine's pace (at time scale 1, six requests taking more than
    # a second met a refilled bucket, not the limit).
    client = await make_client(SandboxConfig(time_scale=0.01))
    grantless = headers(await grantless_token(client))
    statuses = [(await client.get(DESTINATIONS, headers=grantless)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
