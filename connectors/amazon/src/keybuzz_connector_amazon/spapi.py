"""SP-API client: access tokens, per-operation rate limits, retries, typed errors.

Every call carries ``x-amz-access-token`` from the :class:`TokenService` (no SigV4).
One token bucket per (tenant, operation) at the model's documented rate and burst
(``shared/spapi-models/``), adopting ``x-amzn-RateLimit-Limit`` when Amazon sends it.
Each call runs on the connector kit's requester (``keybuzz_shared.connectors.kit``):
429, 5xx, timeouts and unreadable bodies are retried with jittered back-off, then
:class:`SpApiUnavailable` says Amazon is down for now, and an answer is read up to
``MAX_RESPONSE_BYTES``; a 403 "access token … has expired" drops the cached token and
sends the call once more with a fresh one. TLS is always verified (``cacert``
adds a private CA). Orders 2026-01-01 is typed below with msgspec, and orders are
decoded one by one so one order in an unexpected shape is one error, not a lost page
(docs/ORDERS.md, "SP-API client").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
from keybuzz_shared.connectors.kit import ApiSpec, CallErrors, HeaderAuth, Refusals, Requester
from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.json_calls import CallOptions
from keybuzz_shared.mended import json_decoded
from keybuzz_shared.redaction import mask_tokens, remote_excerpt
from keybuzz_shared.tls import verifying

from keybuzz_connector_amazon.marketplaces import region
from keybuzz_connector_amazon.tokens import AccessTokens, TokenService

log = logging.getLogger(__name__)

SEARCH_ORDERS = "searchOrders"
GET_ORDER = "getOrder"
ORDERS_PATH = "/orders/2026-01-01/orders"
EXPIRED_TOKEN = "access token you provided has expired"
# Every dataset an order listing can enrich itself with that we store (no RDT needed).
ORDER_DATASETS = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES", "CANCELLATION")


@dataclass(frozen=True)
class RateLimit:
    rate: float  # requests per second
    burst: int


# The "Usage Plan" table in each operation's description (orders_2026-01-01.json).
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    SEARCH_ORDERS: RateLimit(rate=0.0056, burst=20),
    GET_ORDER: RateLimit(rate=0.5, burst=30),
    # ordersV0.json (used by keybuzz_connector_amazon.orders_v0, the fallback)
    "getOrders": RateLimit(rate=0.0167, burst=20),
    "getOrderItems": RateLimit(rate=0.5, burst=30),
    # reports_2021-06-30.json (used by keybuzz_connector_amazon.reports)
    "createReport": RateLimit(rate=0.0167, burst=15),
    "getReport": RateLimit(rate=2.0, burst=15),
    "getReportDocument": RateLimit(rate=0.0167, burst=15),
    # messaging.json: every operation 1/s, burst 5 (used by keybuzz_connector_amazon.messaging)
    **{
        operation: RateLimit(rate=1.0, burst=5)
        for operation in (
            "getMessagingActionsForOrder",
            "GetAttributes",
            "confirmCustomizationDetails",
            "createConfirmDeliveryDetails",
            "createLegalDisclosure",
            "createConfirmOrderDetails",
            "createConfirmServiceDetails",
            "CreateWarranty",
            "createDigitalAccessKey",
            "createUnexpectedProblem",
        )
    },
}
FALLBACK_RATE_LIMIT = RateLimit(rate=0.5, burst=1)  # an operation we have no table for


# --- errors ---------------------------------------------------------------------------------


class SpApiError(RuntimeError):
    """SP-API refused the call. Carries Amazon's status and error code, never a token."""

    def __init__(self, operation: str, status: int, code: str, message: str) -> None:
        super().__init__(f"SP-API {operation} answered {status} {code}: {message}")
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message


class SpApiInvalidInput(SpApiError):
    """400: the request breaks the model (a bug of ours, or an expired pagination token)."""


class SpApiAccessDenied(SpApiError):
    """403 other than an expired token: the token is revoked/foreign, or the role is missing."""


class SpApiNotFound(SpApiError):
    """404: no such resource for this seller (e.g. an order of another seller)."""


class SpApiUnavailable(SpApiError, DependencyUnavailable):
    """429/5xx/timeouts/unreadable answers until the retries ran out: try again later."""


class SpApiOutcomeUnknown(SpApiError):
    """A call that is not safe to repeat (it sends something) lost its answer.

    A 5xx, a timeout or a dropped connection after the request left: Amazon may
    have acted on it, so it is not retried (a buyer would get the message twice).
    """


class TokenBucket:
    """Amazon's own model (rate, burst): what we spend here is what Amazon meters there."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = limit.rate
        self.burst = limit.burst
        self.tokens = float(limit.burst)
        self._clock = clock
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> float:
        """Spend one token, waiting for it if needed; returns how long we waited."""
        async with self._lock:  # FIFO: callers of one bucket are served in arrival order
            self._refill()
            wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
            if wait:
                await sleep(wait)
                self._refill()
            self.tokens -= 1
            return wait

    def adopt_rate(self, rate: float) -> None:
        """Amazon told us the rate that applies to this seller (``x-amzn-RateLimit-Limit``)."""
        if rate > 0 and rate != self.rate:
            self._refill()
            self.rate = rate


class RateLimiter:
    def __init__(self, limits: Mapping[str, RateLimit] = DEFAULT_RATE_LIMITS) -> None:
        self._limits = dict(limits)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def bucket(self, tenant_id: str, operation: str) -> TokenBucket:
        key = (tenant_id, operation)
        if key not in self._buckets:
            limit = self._limits.get(operation, FALLBACK_RATE_LIMIT)
            self._buckets[key] = TokenBucket(limit)
        return self._buckets[key]


def _header_rate(response: httpx.Response) -> float | None:
    raw = response.headers.get("x-amzn-RateLimit-Limit")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


# --- Orders 2026-01-01 models (only the fields we use; unknown fields are ignored) ---------


class _Model(msgspec.Struct, rename="camel", kw_only=True):
    pass


class Money(_Model):
    amount: Decimal
    currency_code: str


class DateTimeRange(_Model):
    earliest_date_time: datetime | None = None
    latest_date_time: datetime | None = None


class SalesChannel(_Model):
    channel_name: str
    marketplace_id: str | None = None
    marketplace_name: str | None = None


class Buyer(_Model):
    buyer_name: str | None = None
    buyer_email: str | None = None
    buyer_company_name: str | None = None


class CustomerAddress(_Model, omit_defaults=True):
    name: str | None = None
    company_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    city: str | None = None
    district_or_county: str | None = None
    state_or_region: str | None = None
    municipality: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None
    address_type: str | None = None


class Recipient(_Model):
    delivery_address: CustomerAddress | None = None


class OrderProceeds(_Model):
    grand_total: Money | None = None


class OrderFulfillment(_Model):
    fulfillment_status: str
    fulfilled_by: str | None = None
    fulfillment_service_level: str | None = None
    ship_by_window: DateTimeRange | None = None
    deliver_by_window: DateTimeRange | None = None


class PackageStatus(_Model):
    status: str
    detailed_status: str | None = None


class OrderPackage(_Model):
    package_reference_id: str
    created_time: datetime | None = None
    package_status: PackageStatus | None = None
    carrier: str | None = None
    ship_time: datetime | None = None
    shipping_service: str | None = None
    tracking_number: str | None = None


class ItemPrice(_Model):
    unit_price: Money | None = None


class ItemProduct(_Model):
    asin: str | None = None
    title: str | None = None
    seller_sku: str | None = None
    price: ItemPrice | None = None


class OrderItem(_Model):
    order_item_id: str
    quantity_ordered: int
    product: ItemProduct


class Order(_Model):
    order_id: str
    created_time: datetime
    last_updated_time: datetime
    sales_channel: SalesChannel
    order_items: list[OrderItem]
    buyer: Buyer | None = None
    recipient: Recipient | None = None
    proceeds: OrderProceeds | None = None
    fulfillment: OrderFulfillment | None = None
    packages: list[OrderPackage] | None = None


class Pagination(_Model):
    next_token: str | None = None


class _SearchOrdersBody(_Model):
    orders: list[msgspec.Raw]
    pagination: Pagination | None = None
    created_before: datetime | None = None
    last_updated_before: datetime | None = None


class _GetOrderBody(_Model):
    order: Order


class _Error(msgspec.Struct):
    code: str = "Unknown"
    message: str = ""
    details: str | None = None


class _ErrorList(msgspec.Struct):
    errors: list[_Error] = []


@dataclass(frozen=True)
class UndecodableOrder:
    """An order of a page we could not read: its id when visible, and why."""

    order_id: str | None
    reason: str


@dataclass(frozen=True)
class SearchOrdersPage:
    raw_orders: list[msgspec.Raw]
    next_token: str | None
    # Amazon's cursor: the listing is complete up to this moment (never the local clock).
    created_before: datetime | None
    last_updated_before: datetime | None
    rate_limit_waits: int = 0

    def decode_orders(self) -> tuple[list[Order], list[UndecodableOrder]]:
        orders: list[Order] = []
        bad: list[UndecodableOrder] = []
        for raw in self.raw_orders:
            try:
                orders.append(json_decoded(raw, Order))
            except msgspec.DecodeError as exc:
                bad.append(UndecodableOrder(_order_id_of(raw), str(exc)[:200]))
        return orders, bad


class _OrderIdOnly(msgspec.Struct):
    orderId: str | None = None  # noqa: N815 - Amazon's name


def _order_id_of(raw: msgspec.Raw) -> str | None:
    try:
        return json_decoded(raw, _OrderIdOnly).orderId
    except msgspec.DecodeError:
        return None


@dataclass(frozen=True)
class SearchOrdersQuery:
    """searchOrders' filters. A ``pagination_token`` request must repeat the first one's."""

    marketplace_ids: Sequence[str]
    created_after: str | None = None
    created_before: str | None = None
    last_updated_after: str | None = None
    last_updated_before: str | None = None
    max_results_per_page: int = 100
    included_data: Sequence[str] = ORDER_DATASETS
    pagination_token: str | None = None

    def params(self) -> dict[str, str]:
        params = {
            "marketplaceIds": ",".join(self.marketplace_ids),
            "createdAfter": self.created_after,
            "createdBefore": self.created_before,
            "lastUpdatedAfter": self.last_updated_after,
            "lastUpdatedBefore": self.last_updated_before,
            "maxResultsPerPage": str(self.max_results_per_page),
            "includedData": ",".join(self.included_data) or None,
            "paginationToken": self.pagination_token,
        }
        return {name: value for name, value in params.items() if value}


@dataclass
class _Pace:
    """One call's bucket (the tenant's, for its operation): a token taken before each
    request, Amazon's rate in an answer the bucket's from then on, a 429 one wait."""

    bucket: TokenBucket
    waits: int = 0
    last_status: int = 0  # of the last answer, for the error that ends the call

    async def before(self, call: str) -> None:
        if await self.bucket.take():
            self.waits += 1

    def after(self, call: str, response: httpx.Response) -> None:
        self.last_status = response.status_code
        if (rate := _header_rate(response)) is not None:
            self.bucket.adopt_rate(rate)
        if response.status_code == 429:
            self.waits += 1


def _outcome_unknown(operation: str, reason: str) -> SpApiOutcomeUnknown:
    return SpApiOutcomeUnknown(
        operation,
        0,
        "OutcomeUnknown",
        f"the answer to {operation} was lost ({reason}); Amazon may have processed it, "
        "so it was not sent again",
    )


def _unavailable(call: str, reason: str, *, retry_after: float | None = None) -> SpApiUnavailable:
    return SpApiUnavailable(call, 0, "Unavailable", reason)


def _expired(response: httpx.Response, document: Any) -> bool:
    """A 403 saying the access token expired: our cached token outlived Amazon's view of
    it, so one fresh token, once."""
    if response.status_code != 403:
        return False
    return EXPIRED_TOKEN in _error_of("", 403, document).message.lower()


def _error_of(operation: str, status: int, document: Any) -> SpApiError:
    try:
        errors = msgspec.convert(document, _ErrorList).errors
    except msgspec.ValidationError:
        errors = []
    first = errors[0] if errors else _Error(code=f"HTTP{status}")
    message = remote_excerpt(" ".join(filter(None, [first.message, first.details])), 300)
    kind = {400: SpApiInvalidInput, 403: SpApiAccessDenied, 404: SpApiNotFound}.get(
        status, SpApiError
    )
    return kind(operation, status, mask_tokens(first.code), message)


def _credentials_refused(detail: str) -> SpApiAccessDenied:
    return SpApiAccessDenied("", 403, "Unauthorized", detail)


# Of an answer, only this much is read (an Orders page of 100 orders with every dataset
# is well under 1 MiB; report documents are fetched from their own URLs).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
API = ApiSpec(
    "SP-API",
    log,
    CallErrors(
        unavailable=_unavailable,
        unreadable=lambda operation, reason: _unavailable(operation, reason),
        outcome_unknown=_outcome_unknown,
        refused=lambda operation, status, detail: SpApiError(operation, status, "", detail),
        credentials_refused=_credentials_refused,
    ),
    # Every refusal is Amazon's error (its code, its message); a 401 among them.
    Refusals(credentials=frozenset(), expired=_expired, error=_error_of),
    max_response_bytes=MAX_RESPONSE_BYTES,
)


# --- the client ----------------------------------------------------------------------------


class SpApiClient:
    """Every tenant's SP-API calls on the kit's requester (attempts, back-off, 5xx, lost
    answers, the size cap, an expired token renewed once) with Amazon's tokens, sent as
    ``x-amz-access-token``, and buckets."""

    def __init__(
        self,
        tokens: AccessTokens,
        *,
        endpoint: str | None = None,
        cacert: str | None = None,
        http: httpx.AsyncClient | None = None,
        limits: Mapping[str, RateLimit] = DEFAULT_RATE_LIMITS,
        attempts: int = 6,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 30.0,
    ) -> None:
        if http is None:
            # a private CA when given; verification stays on
            http = httpx.AsyncClient(timeout=timeout, verify=verifying(cacert))
        self._http = http
        self._options = CallOptions(
            attempts=attempts, initial_backoff=initial_backoff, max_backoff=max_backoff
        )
        self._max_bytes = MAX_RESPONSE_BYTES
        self.tokens = tokens
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.limiter = RateLimiter(limits)

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled client (TLS verified), e.g. for pre-signed report document URLs."""
        return self._http

    async def aclose(self) -> None:
        await self._http.aclose()

    async def search_orders(self, tenant_id: str, query: SearchOrdersQuery) -> SearchOrdersPage:
        body, waits = await self.request(
            tenant_id, SEARCH_ORDERS, ORDERS_PATH, _SearchOrdersBody, params=query.params()
        )
        return SearchOrdersPage(
            raw_orders=body.orders,
            next_token=body.pagination.next_token if body.pagination else None,
            created_before=body.created_before,
            last_updated_before=body.last_updated_before,
            rate_limit_waits=waits,
        )

    async def get_order(
        self, tenant_id: str, order_id: str, included_data: Sequence[str] = ORDER_DATASETS
    ) -> Order:
        params = {"includedData": ",".join(included_data)} if included_data else {}
        path = f"{ORDERS_PATH}/{quote(order_id, safe='')}"
        body, _ = await self.request(tenant_id, GET_ORDER, path, _GetOrderBody, params=params)
        order: Order = body.order
        return order

    async def request(
        self,
        tenant_id: str,
        operation: str,
        path: str,
        kind: type[Any] | None,
        *,
        params: dict[str, str] | None = None,
        method: str = "GET",
        json_body: Any = None,
        idempotent: bool = True,
    ) -> tuple[Any, int]:
        """Any SP-API operation with this client's tokens, buckets and retries.

        Returns the 2xx body decoded into ``kind`` (an answer in another shape is asked
        again) and how many rate-limit waits it took. ``kind=None``: the answer has no
        body (the Messaging API's 201); returns None. ``idempotent=False``: a lost answer
        raises :class:`SpApiOutcomeUnknown` instead of being retried.
        """
        token = await self.tokens.access_token(tenant_id)
        pace = _Pace(self.limiter.bucket(tenant_id, operation))
        requester = Requester(
            API,
            HeaderAuth.LoginToken(
                lambda: self._token_value(tenant_id),
                str,
                carry=lambda token: {"x-amz-access-token": token},
                drop=lambda: self.tokens.invalidate(tenant_id),
            ),
            self._http,
            self.endpoint or region(token.region).spapi_endpoint,
            shop={"tenant_id": tenant_id},
            max_response_bytes=self._max_bytes,
            pace=pace,
            **self._options,
        )
        try:
            body = await requester.request(
                method,
                path,
                params,  # httpx percent-encodes + / = in pagination tokens
                name=operation,
                body=json_body,
                idempotent=idempotent,
                shape=kind,
                answered=kind is not None,  # createReport answers 202 with a body
            )
        except (SpApiUnavailable, SpApiOutcomeUnknown) as exc:
            if exc.status or not pace.last_status:
                raise
            # Worded by the requester, which knows the call by its name only.
            raise type(exc)(exc.operation, pace.last_status, exc.code, exc.message) from None
        return body, pace.waits

    async def _token_value(self, tenant_id: str) -> str:
        return (await self.tokens.access_token(tenant_id)).value


def spapi_client_for(tokens: TokenService, endpoint: str | None) -> SpApiClient:
    """The client a service on the shared frame uses (``SPAPI_ENDPOINT`` or the region's)."""
    return SpApiClient(tokens, endpoint=endpoint)
