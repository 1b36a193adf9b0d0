"""Notifications API v1: destinations and ``deleteSubscriptionById`` grantless, subscriptions
with the seller's token, as the model says; the delivery: notification_delivery.py."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import msgspec
from keybuzz_sandbox.answers import json_answer
from keybuzz_sandbox.double_kit.admin import settings_handlers
from keybuzz_sandbox.double_kit.api import found
from keybuzz_sandbox.double_kit.sqs import DeliveryFaults, parse_sqs_arn
from litestar import Response, get

from .double import AmazonDouble
from .errors import invalid_input, unauthorized
from .notification_delivery import (
    NOTIFICATIONS_SCOPE,
    ORDER_CHANGE,
    PAYLOAD_VERSION,
    Destination,
    conflict,
    queue_of,
)
from .spapi import Answer, CallContext


def _grantless(ctx: CallContext) -> None:
    """Grantless operations need a client_credentials token with the notifications scope."""
    if ctx.principal.seller_id is not None or ctx.principal.scope != NOTIFICATIONS_SCOPE:
        raise unauthorized()


def _check_type(ctx: CallContext) -> None:
    kind = ctx.path_params["notificationType"]
    if kind != ORDER_CHANGE:
        raise invalid_input(f"Notification type {kind} is not supported by the sandbox.")


async def create_destination(ctx: CallContext) -> Answer:
    _grantless(ctx)
    spec = ctx.body["resourceSpecification"]
    if "sqs" not in spec or "eventBridge" in spec:
        raise invalid_input("The sandbox delivers to one SQS queue per destination.")
    arn = spec["sqs"]["arn"]
    if parse_sqs_arn(arn) is None:
        raise invalid_input("Invalid SQS ARN.", arn)
    notes = ctx.sandbox.notifications
    if any(queue_of(d) == arn for d in notes.destinations.values()):
        raise conflict("A destination with this resource already exists.")
    resource = {"sqs": {"arn": arn}}
    destination: Any = Destination(
        destinationId=str(uuid.uuid4()), name=ctx.body["name"], resource=resource
    )
    notes.destinations[destination.destinationId] = destination
    return Answer(200, {"payload": destination})


async def get_destinations(ctx: CallContext) -> Answer:
    _grantless(ctx)
    return Answer(200, {"payload": list(ctx.sandbox.notifications.destinations.values())})


async def create_subscription(ctx: CallContext) -> Answer:
    seller = ctx.book().seller_id  # grantless tokens have no seller: 403
    _check_type(ctx)
    if ctx.body["payloadVersion"] != PAYLOAD_VERSION:
        raise invalid_input(f"Payload version {ctx.body['payloadVersion']} is not supported.")
    notes, destination_id = ctx.sandbox.notifications, ctx.body["destinationId"]
    found(notes.destinations.get(destination_id), "Destination not found.")
    return Answer(200, {"payload": notes.subscribe(seller, destination_id)})


async def get_subscription(ctx: CallContext) -> Answer:
    seller = ctx.book().seller_id  # grantless tokens have no seller: 403
    _check_type(ctx)
    sub = ctx.sandbox.notifications.subscriptions.get(seller)
    return Answer(200, {"payload": found(sub, "Subscription not found.")})


async def delete_subscription_by_id(ctx: CallContext) -> Answer:
    _grantless(ctx)
    _check_type(ctx)
    notes = ctx.sandbox.notifications
    wanted = ctx.path_params["subscriptionId"]
    whose = (s for s, sub in notes.subscriptions.items() if sub.subscriptionId == wanted)
    del notes.subscriptions[found(next(whose, None), "Subscription not found.")]
    return Answer(200, {})


IMPLEMENTATIONS = {
    "notifications.createDestination": create_destination,
    "notifications.getDestinations": get_destinations,
    "notifications.createSubscription": create_subscription,
    "notifications.getSubscription": get_subscription,
    "notifications.deleteSubscriptionById": delete_subscription_by_id,
}


def notifications_admin_routes(sb: AmazonDouble) -> list[Any]:
    notes, outbox = sb.notifications, sb.notifications.outbox

    @get("/notifications", sync_to_thread=False)
    def overview() -> Response[bytes]:
        subscriptions = [
            {
                **msgspec.to_builtins(sub),
                "sellingPartnerId": seller,
                "notificationType": ORDER_CHANGE,
            }
            for seller, sub in notes.subscriptions.items()
        ]
        return json_answer(
            {
                "destinations": list(notes.destinations.values()),
                "subscriptions": subscriptions,
                "pending": len(outbox.pending),
                "sent": notes.delivered,
            }
        )

    write = partial(setattr, outbox, "faults")
    faults = settings_handlers(
        "/notifications/faults", DeliveryFaults, lambda: outbox.faults, write
    )
    return [overview, *faults]
