"""The ORDER_CHANGE subscription of each connected seller (Notifications API v1).

- ``connection.connected``: the destination (our SQS queue, by its ARN) exists — found
  with ``getDestinations`` or made with ``createDestination``, both grantless (LWA
  ``client_credentials``, scope ``sellingpartnerapi::notifications``) — and the seller
  is subscribed to ORDER_CHANGE with its own token (``createSubscription``; a 409 means
  it already is: ``getSubscription`` gives its id). Idempotent: a redelivered event
  finds everything in place. Recorded in ``order_subscriptions`` (which tenant a
  notification's SellerId is).
- ``connection.disconnected`` / ``connection.reauth_required``: the subscription is
  deleted (``deleteSubscriptionById``, grantless: the seller's token may be gone), and
  the seller's notifications still queued are dropped when they come.

Only when ``SQS_QUEUE_URL`` is set; the incremental sync keeps running either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec
from keybuzz_shared.amazon import AmazonAuthError, CredentialsMissing, SpApiClient, SpApiError
from keybuzz_shared.amazon.credentials import load_app_credentials
from keybuzz_shared.amazon.lwa import LwaClient
from keybuzz_shared.amazon.spapi import DEFAULT_RATE_LIMITS, RateLimit
from keybuzz_shared.amazon.tokens import AccessToken
from keybuzz_shared.errors import is_outage
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
)
from keybuzz_shared.ids import AMAZON
from keybuzz_shared.messaging import Delivery, EventSubscription
from keybuzz_shared.service import Runtime

from keybuzz_orders.notifications import notification_store as nstore
from keybuzz_orders.notifications.order_details import OrderDetails
from keybuzz_orders.notifications.sqs import QueueConsumer, sqs_client

log = logging.getLogger(__name__)

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
ORDER_CHANGE = "ORDER_CHANGE"
PAYLOAD_VERSION = "1.0"
DESTINATIONS = "/notifications/v1/destinations"
SUBSCRIPTIONS = "/notifications/v1/subscriptions/" + ORDER_CHANGE
TOKEN_MARGIN_SECONDS = 60.0
# notifications.json: every operation 1 request/s, burst 5.
RATE_LIMITS = {
    **DEFAULT_RATE_LIMITS,
    **{
        op: RateLimit(rate=1.0, burst=5)
        for op in (
            "getDestinations",
            "createDestination",
            "createSubscription",
            "getSubscription",
            "deleteSubscriptionById",
        )
    },
}


class _Model(msgspec.Struct, rename="camel", kw_only=True):
    pass


class SqsResource(_Model):
    arn: str


class DestinationResource(_Model):
    sqs: SqsResource | None = None


class Destination(_Model):
    destination_id: str
    name: str
    resource: DestinationResource


class Subscription(_Model):
    subscription_id: str
    destination_id: str
    payload_version: str


class _Destinations(_Model):
    payload: list[Destination] = msgspec.field(default_factory=list)


class _DestinationBody(_Model):
    payload: Destination


class _SubscriptionBody(_Model):
    payload: Subscription


class GrantlessTokens:
    """LWA client_credentials tokens, one per region key, cached until near expiry.

    Shaped like the TokenService as the SP-API client uses it (``access_token(key)``,
    ``invalidate(key)``): the key is the region, not a tenant.
    """

    def __init__(self, runtime: Runtime[Any]) -> None:
        settings = runtime.settings
        self.vault = runtime.vault
        self.app_source = settings.amazon_app_source
        self.lwa = LwaClient(settings.lwa_endpoint, cacert=settings.lwa_cacert)
        self._cache: dict[str, AccessToken] = {}
        self._lock = asyncio.Lock()

    async def access_token(self, region: str) -> AccessToken:
        async with self._lock:
            cached = self._cache.get(region)
            if cached and cached.fresh(time.monotonic()):
                return cached
            app = await load_app_credentials(self.vault, self.app_source)
            grant = await self.lwa.client_credentials(app, NOTIFICATIONS_SCOPE)
            token = AccessToken(
                value=grant.access_token,
                tenant_id=region,
                seller_id="",
                marketplace_id="",
                region=region,
                refresh_at=time.monotonic() + max(0.0, grant.expires_in - TOKEN_MARGIN_SECONDS),
            )
            self._cache[region] = token
            return token

    def invalidate(self, region: str) -> None:
        self._cache.pop(region, None)

    async def aclose(self) -> None:
        await self.lwa.aclose()


class OrderSubscriptions:
    def __init__(self, runtime: Runtime[Any], spapi: SpApiClient) -> None:
        self.runtime = runtime
        self.spapi = spapi  # the sellers' tokens
        self.grantless_tokens = GrantlessTokens(runtime)
        self.grantless = SpApiClient(
            self.grantless_tokens,  # type: ignore[arg-type]  # same shape as TokenService
            endpoint=runtime.settings.spapi_endpoint,
            limits=RATE_LIMITS,
            initial_backoff=runtime.settings.spapi_backoff_seconds,
        )
        self._queue_arn: str | None = None
        self._destinations: dict[str, str] = {}  # region -> destination id

    async def aclose(self) -> None:
        await self.grantless.aclose()
        await self.grantless_tokens.aclose()

    async def subscribe(self, tenant_id: str) -> str:
        """The seller's ORDER_CHANGE subscription id (made if missing)."""
        access = await self.spapi.tokens.access_token(tenant_id)
        destination_id = await self.destination(access.region)
        subscription = await self._seller_subscription(tenant_id)
        if subscription and subscription.destination_id != destination_id:
            # Subscribed to another destination (another queue): move it to ours.
            await self._delete(access.region, subscription.subscription_id)
            subscription = None
        if subscription is None:
            subscription = await self._create(tenant_id, destination_id)
        await nstore.save_subscription(
            self.runtime.pool, tenant_id, AMAZON, access.seller_id, access.region,
            subscription.subscription_id, destination_id,
        )  # fmt: skip
        log.info("subscribed to ORDER_CHANGE", extra={"tenant_id": tenant_id})
        return subscription.subscription_id

    async def unsubscribe(self, tenant_id: str) -> None:
        row = await nstore.subscription(self.runtime.pool, tenant_id, AMAZON)
        if row is None or row["status"] != "ACTIVE":
            return
        if row["subscription_id"]:
            await self._delete(row["region"], row["subscription_id"])
        await nstore.end_subscription(self.runtime.pool, tenant_id, AMAZON)
        log.info("ORDER_CHANGE subscription deleted", extra={"tenant_id": tenant_id})

    async def destination(self, region: str) -> str:
        """Our queue's destination id in this region: found, or created once."""
        if region in self._destinations:
            return self._destinations[region]
        arn = await self.queue_arn()
        found = await self._find_destination(region, arn)
        if found is None:
            body = {
                "name": f"keybuzz-orders-{self.runtime.settings.keybuzz_env}",
                "resourceSpecification": {"sqs": {"arn": arn}},
            }
            try:
                created, _ = await self.grantless.request(
                    region, "createDestination", DESTINATIONS, _DestinationBody,
                    method="POST", json_body=body,
                )  # fmt: skip
                found = created.payload.destination_id
            except SpApiError as exc:
                if exc.status != 409:  # 409: another instance created it meanwhile
                    raise
                found = await self._find_destination(region, arn)
                if found is None:
                    raise
        self._destinations[region] = found
        return found

    async def queue_arn(self) -> str:
        if self._queue_arn is None:
            async with sqs_client(self.runtime.settings) as client:
                answer = await client.get_queue_attributes(
                    QueueUrl=self.runtime.settings.sqs_queue_url, AttributeNames=["QueueArn"]
                )
            self._queue_arn = str(answer["Attributes"]["QueueArn"])
        return self._queue_arn

    async def _find_destination(self, region: str, arn: str) -> str | None:
        listed, _ = await self.grantless.request(
            region, "getDestinations", DESTINATIONS, _Destinations
        )
        for destination in listed.payload:
            if destination.resource.sqs and destination.resource.sqs.arn == arn:
                return destination.destination_id
        return None

    async def _seller_subscription(self, tenant_id: str) -> Subscription | None:
        try:
            found, _ = await self.spapi.request(
                tenant_id, "getSubscription", SUBSCRIPTIONS, _SubscriptionBody
            )
        except SpApiError as exc:
            if exc.status == 404:
                return None
            raise
        return found.payload  # type: ignore[no-any-return]

    async def _create(self, tenant_id: str, destination_id: str) -> Subscription:
        body = {"payloadVersion": PAYLOAD_VERSION, "destinationId": destination_id}
        try:
            created, _ = await self.spapi.request(
                tenant_id, "createSubscription", SUBSCRIPTIONS, _SubscriptionBody,
                method="POST", json_body=body,
            )  # fmt: skip
            return created.payload  # type: ignore[no-any-return]
        except SpApiError as exc:
            if exc.status != 409:  # 409: subscribed meanwhile (a redelivered event)
                raise
        found = await self._seller_subscription(tenant_id)
        if found is None:
            raise SpApiError("createSubscription", 409, "Conflict", "subscription not found")
        return found

    async def _delete(self, region: str, subscription_id: str) -> None:
        path = f"{SUBSCRIPTIONS}/{subscription_id}"
        try:
            await self.grantless.request(
                region, "deleteSubscriptionById", path, None, method="DELETE"
            )
        except SpApiError as exc:
            if exc.status != 404:  # already gone
                raise


def register(runtime: Runtime[Any]) -> None:
    """The subscription lifecycle's event subscribers (only with a notification queue)."""
    if not runtime.settings.sqs_queue_url:
        return

    async def on_connected(event: ConnectionConnected, delivery: Delivery) -> None:
        if event.marketplace != AMAZON:
            return
        try:
            await runtime.component(OrderSubscriptions).subscribe(event.tenant_id)
        except (AmazonAuthError, SpApiError) as exc:
            if is_outage(exc) and not isinstance(exc, CredentialsMissing):
                raise  # Amazon or LWA is down: the event is delivered again
            # Disconnected again meanwhile, or refused: the incremental sync still runs.
            log.warning(
                "not subscribed to ORDER_CHANGE: %s", exc, extra={"tenant_id": event.tenant_id}
            )

    async def on_disconnected(event: ConnectionDisconnected, delivery: Delivery) -> None:
        if event.marketplace != AMAZON:
            return
        try:
            await runtime.component(OrderSubscriptions).unsubscribe(event.tenant_id)
        except (AmazonAuthError, SpApiError) as exc:
            if is_outage(exc):
                raise
            log.warning("ORDER_CHANGE subscription not deleted: %s", exc,
                        extra={"tenant_id": event.tenant_id})  # fmt: skip
            await nstore.end_subscription(runtime.pool, event.tenant_id, AMAZON)

    EventSubscription(
        runtime, event_type=ConnectionConnected, handler=on_connected, purpose="notify-subscribe"
    )
    EventSubscription(
        runtime,
        event_type=ConnectionDisconnected,
        handler=on_disconnected,
        purpose="notify-unsubscribe",
    )
    EventSubscription(
        runtime,
        event_type=ConnectionReauthRequired,
        handler=on_disconnected,  # type: ignore[arg-type]  # a subclass: same handling
        purpose="notify-unsubscribe-reauth",
    )


# --- assembly (service.py) ---------------------------------------------------------------


async def provide(runtime: Runtime[Any], spapi: SpApiClient) -> None:
    if runtime.settings.sqs_queue_url:
        runtime.provide(OrderSubscriptions(runtime, spapi))
        runtime.provide(QueueConsumer(runtime))
        runtime.provide(OrderDetails(runtime, spapi))


def start(runtime: Runtime[Any]) -> None:
    if QueueConsumer in runtime.components:
        runtime.component(QueueConsumer).start()
        runtime.component(OrderDetails).start()


async def stop(runtime: Runtime[Any]) -> None:
    if QueueConsumer in runtime.components:
        await runtime.component(QueueConsumer).aclose()
    if OrderDetails in runtime.components:
        await runtime.component(OrderDetails).aclose()
    if OrderSubscriptions in runtime.components:
        await runtime.component(OrderSubscriptions).aclose()
