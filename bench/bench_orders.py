"""Orders backfill against the Amazon sandbox, next to a naive Orders v0 loop in the same run.

A sandbox process of its own at ``SCALE`` (Amazon durations and bucket refills
divided by it), the oauth and orders services in-process, tenants connected the
way a seller does it (oauth start → consent page → callback). Measured:

- callback → the first orders visible over ``GET /api/v1/orders`` (small seller);
- backfill wall time (job ``startedAt`` → ``finishedAt``) next to the minimum
  Amazon allows for the strategy the job chose: for ``searchOrders`` pages of 100,
  pages beyond the burst × 1/rate; for the report strategy (the 10,000-order
  seller, 90 days), the reports' processing time (IN_QUEUE + IN_PROGRESS, every
  report requested at once and all calls within their bursts), divided by the
  time scale;
- a naive Orders v0 loop (``getOrders`` pages of 100, then ``getOrderItems`` per
  order, following its ``NextToken``) paced at the documented rates, scaled the
  same way: for the small seller over its 90 days, for the large one over
  ``NAIVE_DAYS`` (its 90 days would take ~20 minutes here, ~6 hours at Amazon):
  measured, it runs at its quota minimum, which for 10,000 orders is computed
  exactly from the call counts; the speed-up is against that minimum, so it is
  a lower bound.

The orders service's token buckets pace at Amazon's real rates (the sandbox
announces the documented rate even when sped up), so a page beyond the burst
would wait ~3 real minutes: here its limiter is swapped for the same buckets on
the sandbox's clock (rates × SCALE), as the naive loop's.

Then the large seller once more against a second sandbox at time scale 1:
Amazon's own durations, the orders service as configured by default. At
SCALE the reports' 90 s of processing last 4.5 s while importing 10,000 orders
takes the same CPU as ever, so that ratio weighs our import 20 times heavier
than Amazon would; at scale 1 it is the ratio a seller would see.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from keybuzz_connector_amazon import SpApiClient
from keybuzz_connector_amazon.spapi import (
    DEFAULT_RATE_LIMITS,
    FALLBACK_RATE_LIMIT,
    RateLimit,
    RateLimiter,
    TokenBucket,
)
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.oauth_testing import (
    SANDBOX_APP,
    OauthKit,
    register_redirect,
    root_vault_at,
    tenant_path,
    write_app,
)
from keybuzz_devstack.testing import RunningService, run_in_process
from keybuzz_oauth.app import CALLBACK_PATH
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS

from bench.harness import BenchContext, Figure

# The oauth round trip must survive a 5-minute authorization code (15 s at 20) on a
# loaded machine, and the naive loop's ~64 throttled getOrderItems take ~6 s at 20.
SCALE = 20
SMALL, SMALL_MARKETPLACE, SMALL_ID = "A12BCIS2R7HD4D", None, "A13V1IB3VIYZZH"
LARGE, LARGE_MARKETPLACE = "A3DESELLERBENCH", "DE"
LARGE_ID = "A1PA6795UKMFR9"
# The naive loop on the large seller: 4 days ≈ 450 orders, ~45 s at scale 20.
NAIVE_DAYS = 4
REPORT_PROCESSING = 30.0 + 60.0  # the sandbox's IN_QUEUE + IN_PROGRESS (Amazon seconds)
SEARCH = (0.0056, 20)  # searchOrders rate/s, burst
GET_ORDERS = (0.0167, 20)  # Orders v0 getOrders
GET_ITEMS = (0.5, 30)  # Orders v0 getOrderItems
PAGE = 100
API = "/api/v1/orders"


def quota_floor(calls: int, limit: tuple[float, int]) -> float:
    """Real seconds the sandbox's buckets force on ``calls`` calls: beyond the burst, 1/rate."""
    rate, burst = limit
    return max(0, calls - burst) / (rate * SCALE)


async def run(ctx: BenchContext) -> list[Figure]:
    sandbox = _start_sandbox(ctx.root, SCALE)
    try:
        figures = await _measure(ctx, sandbox.spec.url)
    finally:
        sandbox.stop()
    sandbox = _start_sandbox(ctx.root, 1)
    try:
        return [*figures, await _large_at_amazon_pace(ctx, sandbox.spec.url)]
    finally:
        sandbox.stop()


def _start_sandbox(root: Path, scale: int) -> infra.RunningServer:
    spec = infra.sandbox_spec(infra.free_port(), str(scale))
    return infra.RunningServer(spec, root / f"sandbox-{spec.port}.log").start(timeout=60)


async def _service(ctx: BenchContext, definition: Any, **env: str) -> RunningService:
    return await run_in_process(
        definition,
        {
            "NATS_URL": ctx.nats_url,
            "DATABASE_URL": await ctx.make_database(definition.name),
            "PRODUCT_DATABASE_URL": await ctx.make_database("product"),
            "VAULT_ADDR": ctx.vault_addr,
            "VAULT_TOKEN": bootstrap.service_token_id(definition.name),
            "LOG_LEVEL": "WARNING",
            **env,
        },
    )


class SandboxClockBucket(TokenBucket):
    """Amazon's bucket on the sandbox's clock: every rate, documented or announced, × SCALE."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(RateLimit(rate=limit.rate * SCALE, burst=limit.burst))

    def adopt_rate(self, rate: float) -> None:
        super().adopt_rate(rate * SCALE)  # the sandbox announces the documented rate


class SandboxClockLimiter(RateLimiter):
    def bucket(self, tenant_id: str, operation: str) -> TokenBucket:
        key = (tenant_id, operation)
        if key not in self._buckets:
            limit = self._limits.get(operation, FALLBACK_RATE_LIMIT)
            self._buckets[key] = SandboxClockBucket(limit)
        return self._buckets[key]


async def _orders_service(ctx: BenchContext, days: int, env: dict[str, str]) -> RunningService:
    """The orders service, its SP-API buckets on the sandbox's clock (see the module doc)."""
    service = await _service(ctx, ORDERS, BACKFILL_DAYS=str(days), **env)
    service.runtime.component(SpApiClient).limiter = SandboxClockLimiter(DEFAULT_RATE_LIMITS)
    return service


@dataclass
class Connector:
    """The oauth service and a seller's browser, connected to one sandbox."""

    service: RunningService
    kit: OauthKit
    amazon: dict[str, str]  # what the orders service needs to reach the same sandbox

    async def aclose(self) -> None:
        await self.kit.aclose()
        await self.service.stop()


async def _connector(ctx: BenchContext, sandbox: str) -> Connector:
    source = f"bench-{uuid.uuid4().hex[:8]}"
    oauth_service = await _service(
        ctx,
        OAUTH,
        LWA_ENDPOINT=f"{sandbox}/auth/o2/token",
        SELLER_CENTRAL_URL=sandbox,
        FRONTEND_URL="http://frontend.test/settings",
        AMAZON_APP_SOURCE=source,
    )
    redirect = oauth_service.url + CALLBACK_PATH
    await write_app(ctx.vault_addr, source, redirect)
    await register_redirect(sandbox, redirect)
    amazon = {
        "LWA_ENDPOINT": f"{sandbox}/auth/o2/token",
        "SPAPI_ENDPOINT": sandbox,
        "AMAZON_APP_SOURCE": source,
    }
    return Connector(oauth_service, OauthKit(ctx, sandbox, oauth_service, source), amazon)


async def _large_at_amazon_pace(ctx: BenchContext, sandbox: str) -> Figure:
    """The large seller's report backfill with Amazon's own durations (time scale 1) and
    the service exactly as configured by default (its real buckets, its poll interval)."""
    connector = await _connector(ctx, sandbox)
    try:
        orders = await _service(ctx, ORDERS, BACKFILL_DAYS="90", **connector.amazon)
        try:
            tenant = f"bench-{uuid.uuid4().hex[:8]}"
            _, job = await _connect_and_backfill(
                connector.kit, orders, tenant, LARGE_MARKETPLACE, LARGE, within=600
            )
        finally:
            await orders.stop()
    finally:
        await connector.aclose()
    if job["strategy"] != "REPORT":
        raise RuntimeError(f"the large seller was not backfilled by report: {job}")
    backfill = _job_seconds(job)
    return {
        "name": f"backfill wall time, {LARGE} (90 days, report strategy), Amazon's durations",
        "value": backfill,
        "unit": "s",
        "baseline": REPORT_PROCESSING,
        "note": f"time scale 1: {job['created']} orders, {job['items']} items, "
        f"{len(job['reportWindows'] or [])} order reports + {job['pages']} searchOrders pages, "
        f"{job['rateLimitWaits']} rate-limit waits, {job['errors']} errors; minimum = "
        f"report processing ({REPORT_PROCESSING:.0f} s); default settings (report polled "
        "every BACKFILL_REPORT_POLL_SECONDS)",
    }


async def _measure(ctx: BenchContext, sandbox: str) -> list[Figure]:
    connector = await _connector(ctx, sandbox)
    oauth, amazon = connector.kit, connector.amazon
    figures: list[Figure] = []
    try:
        orders = await _orders_service(ctx, 90, amazon)
        try:
            small = f"bench-{uuid.uuid4().hex[:8]}"
            visible, job = await _connect_and_backfill(
                oauth, orders, small, SMALL_MARKETPLACE, SMALL
            )
        finally:
            await orders.stop()
        naive = await _naive_v0(ctx, sandbox, small, SMALL_ID, 90)
        figures += _small_figures(visible, job, naive)
        # A service of its own: the report is polled at the sandbox's pace
        # (getReport allows 2/s; the limiter keeps it there).
        orders = await _orders_service(
            ctx, 90, {**amazon, "BACKFILL_REPORT_POLL_SECONDS": str(0.5 / SCALE)}
        )
        try:
            large = f"bench-{uuid.uuid4().hex[:8]}"
            _, job = await _connect_and_backfill(oauth, orders, large, LARGE_MARKETPLACE, LARGE)
        finally:
            await orders.stop()
        naive_large = await _naive_v0(ctx, sandbox, large, LARGE_ID, NAIVE_DAYS)
        figures += _large_figures(job, naive_large)
    finally:
        await connector.aclose()
    return figures


async def _connect_and_backfill(
    oauth: OauthKit,
    orders: RunningService,
    tenant: str,
    marketplace: str | None,
    seller: str,
    within: float = 240,
) -> tuple[float, dict[str, Any]]:
    """Seconds from the callback to the first orders over HTTP, and the finished job."""
    started = await oauth.start(tenant, marketplace)
    callback = await oauth.consent(started["authUrl"], seller=seller)
    headers = oauth.headers(tenant)
    async with httpx.AsyncClient(base_url=orders.url, timeout=30) as http:
        start = time.perf_counter()
        answer = await oauth.follow(callback)
        if answer.status_code != 303 or "status=connected" not in answer.headers["location"]:
            raise RuntimeError(f"connect failed: {answer.status_code} {answer.text}")
        # Polling the API is the measurement: the first listed order is the end of it.
        while not (await http.get(API, headers=headers, params={"limit": 1})).json()["orders"]:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        visible = time.perf_counter() - start
        job_id = await orders.runtime.pool.fetchval(
            "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1", tenant
        )
        deadline = time.perf_counter() + within
        while True:
            job = (await http.get(f"{API}/backfill/{job_id}", headers=headers)).json()
            if job["status"] != "RUNNING":
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"backfill still running after {within:g} s: {job}")
            await asyncio.sleep(0.1)
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"backfill ended {job['status']}: {job}")
    return visible, dict(job)


def _job_seconds(job: dict[str, Any]) -> float:
    started = datetime.fromisoformat(job["startedAt"])
    return (datetime.fromisoformat(job["finishedAt"]) - started).total_seconds()


def _report_floor(job: dict[str, Any]) -> float:
    """Reports run side by side: one processing time; every call fits its burst."""
    tail_pages = job["pages"]  # the first page and the tail: searchOrders
    return REPORT_PROCESSING / SCALE + quota_floor(tail_pages, SEARCH)


def _large_figures(job: dict[str, Any], naive: NaiveRun) -> list[Figure]:
    if job["strategy"] != "REPORT":
        raise RuntimeError(f"the large seller was not backfilled by report: {job}")
    backfill, floor = _job_seconds(job), _report_floor(job)
    orders = job["created"]
    # The naive loop over 90 days: one getOrders page per 100 orders, one getOrderItems
    # per order (each fits one page here), paced by the quotas.
    naive_floor = quota_floor(-(-orders // PAGE), GET_ORDERS) + quota_floor(orders, GET_ITEMS)
    windows = len(job["reportWindows"] or [])
    return [
        {
            "name": f"backfill wall time, {LARGE} (90 days, report strategy)",
            "value": backfill,
            "unit": "s",
            "baseline": floor,
            "note": f"{orders} orders, {job['items']} items, {windows} order reports + "
            f"{job['pages']} searchOrders pages, {job['rateLimitWaits']} rate-limit waits, "
            f"{job['errors']} errors; minimum {floor:.1f} s = report processing "
            f"({REPORT_PROCESSING:.0f} s) ÷ {SCALE}; strategy: {job['strategyReason']}",
        },
        {
            "name": f"naive Orders v0 loop, {LARGE} ({NAIVE_DAYS} of 90 days, measured)",
            "value": naive.seconds,
            "unit": "s",
            "baseline": naive.floor,
            "note": f"{naive.calls} calls for {naive.orders} orders; baseline = its quota minimum",
        },
        {
            "name": f"backfill speed-up over the naive v0 loop, {LARGE} (90 days)",
            "value": naive_floor / backfill,
            "unit": "×",
            "note": f"lower bound: the naive loop's quota minimum for {orders} orders "
            f"({naive_floor:.0f} s at scale {SCALE}; it runs at "
            f"{naive.seconds / naive.floor:.2f}× its minimum on {NAIVE_DAYS} days) "
            "÷ the report backfill's wall time",
        },
    ]


def _backfill_figure(label: str, job: dict[str, Any]) -> Figure:
    floor = quota_floor(job["pages"], SEARCH)
    return {
        "name": f"backfill wall time, {label}",
        "value": _job_seconds(job),
        "unit": "s",
        "baseline": floor or None,
        "note": f"{job['orders']} orders, {job['items']} items, {job['pages']} searchOrders "
        f"pages, {job['rateLimitWaits']} rate-limit waits, {job['errors']} errors; quota minimum {floor:.1f} s at time scale {SCALE} "
        f"(pages beyond the burst of {SEARCH[1]} × 1/{SEARCH[0]}/s ÷ {SCALE})",
    }


def _small_figures(visible: float, job: dict[str, Any], run: NaiveRun) -> list[Figure]:
    backfill = _job_seconds(job)
    naive, naive_floor, calls = run.seconds, run.floor, run.calls
    return [
        {
            "name": f"callback → first orders over HTTP, {SMALL}",
            "value": visible,
            "unit": "s",
            "note": "oauth callback answered 303, then GET /api/v1/orders polled every 20 ms",
        },
        _backfill_figure(f"{SMALL} (90 days)", job),
        {
            "name": f"naive Orders v0 loop, {SMALL} (90 days)",
            "value": naive,
            "unit": "s",
            "baseline": naive_floor,
            "note": f"{calls} calls: getOrders pages of 100 + getOrderItems per order, paced at "
            f"the documented rates × {SCALE}; baseline = its quota minimum",
        },
        {
            "name": f"backfill speed-up over the naive v0 loop, {SMALL}",
            "value": naive / backfill,
            "unit": "×",
            "note": "naive v0 wall time ÷ searchOrders backfill wall time, same sandbox and run",
        },
    ]


class Bucket:
    """The sandbox's bucket for one operation (documented rate × time scale)."""

    def __init__(self, limit: tuple[float, int]) -> None:
        self.rate, self.tokens, self.burst = limit[0] * SCALE, float(limit[1]), limit[1]
        self.stamp = time.monotonic()

    async def take(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            await asyncio.sleep((1 - self.tokens) / self.rate)
            self.tokens, self.stamp = 1.0, time.monotonic()
        self.tokens -= 1


@dataclass(frozen=True)
class NaiveRun:
    seconds: float
    floor: float
    calls: int
    orders: int


async def _naive_v0(
    ctx: BenchContext, sandbox: str, tenant: str, marketplace_id: str, days: int
) -> NaiveRun:
    """getOrders for the window, then getOrderItems per order, paced at the quotas."""
    refresh = await _refresh_token(ctx, tenant)
    async with httpx.AsyncClient(base_url=sandbox, timeout=30) as http:
        grant = await http.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": SANDBOX_APP["client_id"],
                "client_secret": SANDBOX_APP["client_secret"],
            },
        )
        grant.raise_for_status()
        http.headers["x-amz-access-token"] = grant.json()["access_token"]
        lists, items = Bucket(GET_ORDERS), Bucket(GET_ITEMS)
        after = (datetime.now(UTC) - timedelta(days=days)).isoformat().replace("+00:00", "Z")
        start = time.perf_counter()
        order_ids: list[str] = []
        params = {
            "MarketplaceIds": marketplace_id,
            "CreatedAfter": after,
            "MaxResultsPerPage": PAGE,
        }
        list_calls = item_calls = 0
        while True:
            payload = await _get(http, lists, "/orders/v0/orders", params)
            list_calls += 1
            order_ids += [o["AmazonOrderId"] for o in payload["Orders"]]
            if not payload.get("NextToken"):
                break
            params = {"MarketplaceIds": marketplace_id, "NextToken": payload["NextToken"]}
        for order_id in order_ids:
            token: str | None = None
            while True:
                path = f"/orders/v0/orders/{order_id}/orderItems"
                payload = await _get(http, items, path, {"NextToken": token} if token else {})
                item_calls += 1
                if not (token := payload.get("NextToken")):
                    break
        seconds = time.perf_counter() - start
    floor = quota_floor(list_calls, GET_ORDERS) + quota_floor(item_calls, GET_ITEMS)  # in turn
    return NaiveRun(seconds, floor, list_calls + item_calls, len(order_ids))


async def _get(http: httpx.AsyncClient, bucket: Bucket, path: str, params: Any) -> Any:
    for _ in range(10):  # a 429 means our pacing drifted from the sandbox's: wait and ask again
        await bucket.take()
        response = await http.get(path, params=params)
        if response.status_code != 429:
            response.raise_for_status()
            return response.json()["payload"]
        await asyncio.sleep(1 / bucket.rate)
    raise RuntimeError(f"{path}: still throttled")


async def _refresh_token(ctx: BenchContext, tenant: str) -> str:
    vault = root_vault_at(ctx.vault_addr)
    secret = await asyncio.to_thread(
        vault.secrets.kv.v2.read_secret_version,
        path=tenant_path(tenant).removeprefix("secret/"),
        mount_point="secret",
        raise_on_deleted_version=True,
    )
    return str(secret["data"]["data"]["refresh_token"])
