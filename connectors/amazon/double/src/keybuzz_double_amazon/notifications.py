"""Notifications API v1: destinations and ``deleteSubscriptionById`` grantless, subscriptions
with the seller's token, as the model says; the delivery: notification_delivery.py."""

from __future__ import annotations

import uuid

from keybuzz_sandbox.answers import json_answer
from keybuzz_sandbox.double_kit.admin import settings_handlers
from keybuzz_sandbox.double_kit.sqs import DeliveryFaults, parse_sqs_arn
from litestar import Response, Router, get

from .double import AmazonDouble
from .errors import invalid_input, not_found, unauthorized
from .notification_delivery import (
    NOTIFICATIONS_SCOPE,
    ORDER_CHANGE,
    PAYLOAD_VERSION,
    Destination,
    conflict,
)
from .spapi import CallContext, Reply

# --- operations -------------------------------------------------------------------------


def _grantless(ctx: CallContext) -> None:
    """Grantless operations need a client_credentials token with the notifications scope."""
    if ctx.principal.seller_id is not None or ctx.principal.scope != NOTIFICATIONS_SCOPE:
        raise unauthorized()


def _seller(ctx: CallContext) -> str:
    ctx.book()  # grantless tokens have no seller: 403
    assert ctx.principal.seller_id is not None
    return ctx.principal.seller_id


def _notification_type(ctx: CallContext) -> str:
    kind = ctx.path_params["notificationType"]
    if kind != ORDER_CHANGE:
        raise invalid_input(f"Notification type {kind} is not supported by the sandbox.")
    return kind


async def create_destination(ctx: CallContext) -> Reply:
    _grantless(ctx)
    spec = ctx.body["resourceSpecification"]
    if "sqs" not in spec or "eventBridge" in spec:
        raise invalid_input("The sandbox delivers to one SQS queue per destination.")
    arn = spec["sqs"]["arn"]
    if parse_sqs_arn(arn) is None:
        raise invalid_input("Invalid SQS ARN.", arn)
    notes = ctx.sandbox.notifications
    if any(d.arn == arn for d in notes.destinations.values()):
        raise conflict("A destination with this resource already exists.")
    destination = Destination(destination_id=str(uuid.uuid4()), name=ctx.body["name"], arn=arn)
    notes.destinations[destination.destination_id] = destination
    return Reply({"payload": destination.model()})


async def get_destinations(ctx: CallContext) -> Reply:
    _grantless(ctx)
    return Reply({"payload": [d.model() for d in ctx.sandbox.notifications.destinations.values()]})


async def create_subscription(ctx: CallContext) -> Reply:
    seller = _seller(ctx)
    kind = _notification_type(ctx)
    if ctx.body["payloadVersion"] != PAYLOAD_VERSION:
        raise invalid_input(f"Payload version {ctx.body['payloadVersion']} is not supported.")
    notes = ctx.sandbox.notifications
    if ctx.body["destinationId"] not in notes.destinations:
        raise not_found("Destination not found.")
    sub = notes.subscribe(seller, kind, ctx.body["destinationId"])
    return Reply({"payload": sub.model()})


async def get_subscription(ctx: CallContext) -> Reply:
    seller = _seller(ctx)
    kind = _notification_type(ctx)
    sub = ctx.sandbox.notifications.subscriptions.get((seller, kind))
    if sub is None:
        raise not_found("Subscription not found.")
    return Reply({"payload": sub.model()})


async def delete_subscription_by_id(ctx: CallContext) -> Reply:
    _grantless(ctx)
    kind = _notification_type(ctx)
    sub = ctx.sandbox.notifications.by_id(ctx.path_params["subscriptionId"])
    if sub is None or sub.notification_type != kind:
        raise not_found("Subscription not found.")
    del ctx.sandbox.notifications.subscriptions[(sub.seller_id, sub.notification_type)]
    return Reply({})


IMPLEMENTATIONS = {
    "notifications.createDestination": create_destination,
    "notifications.getDestinations": get_destinations,
    "notifications.createSubscription": create_subscription,
    "notifications.getSubscription": get_subscription,
    "notifications.deleteSubscriptionById": delete_subscription_by_id,
}


# --- admin ------------------------------------------------------------------------------


def notifications_admin_router(sb: AmazonDouble) -> Router:
    @get("/", sync_to_thread=False)
    def overview() -> Response[bytes]:
        notes = sb.notifications
        return json_answer(
            {
                "destinations": [d.model() for d in notes.destinations.values()],
                "subscriptions": [
                    {
                        **s.model(),
                        "sellingPartnerId": s.seller_id,
                        "notificationType": s.notification_type,
                    }
                    for s in notes.subscriptions.values()
                ],
                "pending": len(notes.outbox.pending),
                "sent": notes.delivered,
            }
        )

    outbox = sb.notifications.outbox

    def write_faults(faults: DeliveryFaults) -> None:
        outbox.faults = faults

    return Router(
        "/_sandbox/notifications",
        route_handlers=[
            overview,
            *settings_handlers("/faults", DeliveryFaults, lambda: outbox.faults, write_faults),
        ],
        include_in_schema=False,
    )
