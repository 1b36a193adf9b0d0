"""Notifications API v1 client: destinations and ORDER_CHANGE subscriptions.

Destinations are grantless operations (LWA ``client_credentials``, scope
``sellingpartnerapi::notifications``), called with the application's token per region
(:class:`GrantlessTokens`); a subscription is made and read with the seller's own token,
and deleted grantless (the seller's token may be gone by then). Built on
:class:`~keybuzz_connector_amazon.spapi.SpApiClient`, so every call is metered at the
model's rates and retried like any other SP-API call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import msgspec
from keybuzz_shared.vault import VaultClient

from keybuzz_connector_amazon.credentials import APP
from keybuzz_connector_amazon.lwa import LwaClient
from keybuzz_connector_amazon.spapi import (
    DEFAULT_RATE_LIMITS,
    RateLimit,
    SpApiClient,
    SpApiError,
)
from keybuzz_connector_amazon.tokens import AccessToken

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
ORDER_CHANGE = "ORDER_CHANGE"
PAYLOAD_VERSION = "1.0"
DESTINATIONS = "/notifications/v1/destinations"
SUBSCRIPTIONS = "/notifications/v1/subscriptions/" + ORDER_CHANGE
TOKEN_MARGIN_SECONDS = 60.0
# notifications.json: every operation 1 request/s, burst 5.
RATE_LIMITS: Mapping[str, RateLimit] = {
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
    """LWA client_credentials tokens, one per region, cached until near expiry.

    An ``AccessTokens`` keyed by region, not by tenant: the SP-API client takes it as it
    takes the sellers' ``TokenService``.
    """

    def __init__(self, vault: VaultClient, lwa: LwaClient, *, app_source: str) -> None:
        self.vault = vault
        self.lwa = lwa
        self.app_source = app_source
        self._cache: dict[str, AccessToken] = {}
        self._lock = asyncio.Lock()

    async def access_token(self, key: str) -> AccessToken:
        async with self._lock:
            cached = self._cache.get(key)
            if cached and cached.fresh(time.monotonic()):
                return cached
            app = await APP.read(self.vault, self.app_source)
            grant = await self.lwa.client_credentials(app, NOTIFICATIONS_SCOPE)
            token = AccessToken(
                value=grant.access_token,
                tenant_id=key,
                seller_id="",
                marketplace_id="",
                region=key,
                refresh_at=time.monotonic() + max(0.0, grant.expires_in - TOKEN_MARGIN_SECONDS),
            )
            self._cache[key] = token
            return token

    def invalidate(self, key: str) -> None:
        self._cache.pop(key, None)

    async def aclose(self) -> None:
        await self.lwa.aclose()


class NotificationsClient:
    """ORDER_CHANGE destinations (grantless, per region) and subscriptions (per seller)."""

    def __init__(
        self,
        sellers: SpApiClient,
        tokens: GrantlessTokens,
        *,
        endpoint: str | None = None,
        initial_backoff: float = 0.5,
    ) -> None:
        self.sellers = sellers  # the sellers' tokens; closed by its owner
        self.tokens = tokens
        self.grantless = SpApiClient(
            tokens, endpoint=endpoint, limits=RATE_LIMITS, initial_backoff=initial_backoff
        )

    async def aclose(self) -> None:
        await self.grantless.aclose()
        await self.tokens.aclose()

    async def find_destination(self, region: str, arn: str) -> str | None:
        """The id of the destination that delivers to the SQS queue ``arn``, if any."""
        listed, _ = await self.grantless.request(
            region, "getDestinations", DESTINATIONS, _Destinations
        )
        for destination in listed.payload:
            if destination.resource.sqs and destination.resource.sqs.arn == arn:
                return str(destination.destination_id)
        return None

    async def ensure_destination(self, region: str, name: str, arn: str) -> str:
        """The destination of the queue ``arn``: found, or created (a 409 means another
        instance created it meanwhile: found again)."""
        found = await self.find_destination(region, arn)
        if found is not None:
            return found
        body = {"name": name, "resourceSpecification": {"sqs": {"arn": arn}}}
        try:
            created, _ = await self.grantless.request(
                region,
                "createDestination",
                DESTINATIONS,
                _DestinationBody,
                method="POST",
                json_body=body,
            )
            return str(created.payload.destination_id)
        except SpApiError as exc:
            if exc.status != 409:
                raise
            found = await self.find_destination(region, arn)
            if found is None:
                raise
            return found

    async def subscription(self, tenant_id: str) -> Subscription | None:
        """The seller's ORDER_CHANGE subscription (None: not subscribed)."""
        try:
            found, _ = await self.sellers.request(
                tenant_id, "getSubscription", SUBSCRIPTIONS, _SubscriptionBody
            )
        except SpApiError as exc:
            if exc.status == 404:
                return None
            raise
        subscription: Subscription = found.payload
        return subscription

    async def subscribe(self, tenant_id: str, destination_id: str) -> Subscription:
        """Subscribe the seller; a 409 (subscribed meanwhile) gives the existing one."""
        body = {"payloadVersion": PAYLOAD_VERSION, "destinationId": destination_id}
        try:
            created, _ = await self.sellers.request(
                tenant_id,
                "createSubscription",
                SUBSCRIPTIONS,
                _SubscriptionBody,
                method="POST",
                json_body=body,
            )
            subscription: Subscription = created.payload
            return subscription
        except SpApiError as exc:
            if exc.status != 409:
                raise
        found = await self.subscription(tenant_id)
        if found is None:
            raise SpApiError("createSubscription", 409, "Conflict", "subscription not found")
        return found

    async def delete_subscription(self, region: str, subscription_id: str) -> None:
        """Grantless: the seller's token may be revoked already. Gone already is done."""
        path = f"{SUBSCRIPTIONS}/{subscription_id}"
        try:
            await self.grantless.request(
                region, "deleteSubscriptionById", path, None, method="DELETE"
            )
        except SpApiError as exc:
            if exc.status != 404:
                raise
