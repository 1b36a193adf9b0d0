"""ORDER_CHANGE notifications end to end, and a burst next to a bare SQS loop in the same run.

The dev stack's SQS (moto server), a sandbox process at ``SCALE`` delivering to it, the
oauth and orders services in-process, sellers connected the way a seller does it.

- **change → visible**: ``ROUNDS`` times, the small seller is advanced one day; for
  every order that changed, the time from the advance call to its latest status over
  ``GET /api/v1/orders/{id}`` (sandbox delivery included: the sandbox publishes at
  once, sends in batches of 10; orders long-polls). The incremental sync is at its
  default 900 s: it plays no part.
- **burst**: the large seller is advanced until ``BURST`` changes are published while
  orders' consumer is stopped, so the queue holds them all; then the consumer is
  started and timed until every notification is handled (applied or stale, each in
  its own unit of work). Baseline: a bare loop (receive 10, delete 10) draining the
  same number of messages of the same size from another queue of the same server, in
  the same run. getOrder calls for the details follow at getOrder's quota (on the
  sandbox's clock, as bench_orders paces them) and are not part of the rate.

moto answers each call in time proportional to the queue's depth (its attributes are
recomputed per message), so both loops slow down alike with a deep queue; the ratio
is what this measures, not SQS's own speed. ``BENCH_NOTIFICATION_BURST`` sets the burst.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from statistics import quantiles
from typing import Any

import httpx
from aiobotocore.session import get_session
from keybuzz_connector_amazon import SpApiClient
from keybuzz_connector_amazon.spapi import DEFAULT_RATE_LIMITS
from keybuzz_devstack import infra
from keybuzz_devstack import sqs as stack_sqs
from keybuzz_orders.bootstrap import ports_of
from keybuzz_orders.notifications.sqs import QueueConsumer
from keybuzz_orders.service import DEFINITION as ORDERS

from bench.bench_orders import (
    LARGE,
    LARGE_MARKETPLACE,
    SCALE,
    SMALL,
    SMALL_MARKETPLACE,
    Connector,
    SandboxClockLimiter,
    _connect_and_backfill,
    _connector,
    _service,
)
from bench.harness import BenchContext, Figure

ROUNDS = 20
BURST = int(os.environ.get("BENCH_NOTIFICATION_BURST", "10000"))
API = "/api/v1/orders"
OURS = {
    "Pending": "PENDING",
    "Unshipped": "CONFIRMED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
}


async def run(ctx: BenchContext) -> list[Figure]:
    for name, value in stack_sqs.DEV_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    sqs = infra.RunningServer(stack_sqs.sqs_spec(infra.free_port()), ctx.root / "sqs.log")
    sqs.start(timeout=60)
    spec = infra.sandbox_spec(infra.free_port(), str(SCALE))
    spec.env["SANDBOX_SQS_ENDPOINT"] = sqs.spec.url
    sandbox = infra.RunningServer(spec, ctx.root / f"sandbox-{spec.port}.log").start(60)
    try:
        return await _measure(ctx, sandbox.spec.url, sqs.spec.url)
    finally:
        sandbox.stop()
        sqs.stop()


async def _measure(ctx: BenchContext, sandbox: str, endpoint: str) -> list[Figure]:
    connector = await _connector(ctx, sandbox)
    queues = stack_sqs.create_queues(endpoint, f"bench-{uuid.uuid4().hex[:8]}")
    settings = {
        "SQS_ENDPOINT": endpoint,
        "SQS_QUEUE_URL": queues.queue_url,
        "SQS_DEAD_LETTER_QUEUE_URL": queues.dead_letter_url,
        "SQS_REGION": stack_sqs.REGION,
        "BACKFILL_DAYS": "1",
        **connector.amazon,
    }
    orders = await _service(ctx, ORDERS, **settings)
    orders.runtime.component(SpApiClient).limiter = SandboxClockLimiter(DEFAULT_RATE_LIMITS)
    try:
        async with httpx.AsyncClient(base_url=sandbox, timeout=60) as admin:
            # Published as soon as changed: the figures are ours, not Amazon's publication lag.
            lagless = await admin.put("/_sandbox/notifications/faults", json={"eventLagSeconds": 0})
            lagless.raise_for_status()
            latency = await _latency(connector, orders, admin)
            print(f"latency: {len(latency)} changes, max {max(latency):.2f} s", file=sys.stderr)
            burst = await _burst(connector, orders, admin)
        bare = await _bare_loop(endpoint, burst["count"], burst["body_bytes"])
    finally:
        await orders.stop()
        await connector.aclose()
    return _figures(latency, burst, bare)


async def _connected(connector: Connector, orders: Any, seller: str, market: str | None) -> str:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    await _connect_and_backfill(connector.kit, orders, tenant, market, seller)
    pool = orders.runtime.pool
    for _ in range(600):
        if await pool.fetchval(
            "SELECT 1 FROM order_subscriptions WHERE tenant_id = $1 AND status = 'ACTIVE'", tenant
        ):
            return tenant
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{tenant} not subscribed")


async def _published(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await admin.get("/_sandbox/notifications")).json()["sent"])


async def _latency(connector: Connector, orders: Any, admin: httpx.AsyncClient) -> list[float]:
    tenant = await _connected(connector, orders, SMALL, SMALL_MARKETPLACE)
    headers = connector.kit.headers(tenant)
    seconds: list[float] = []
    async with httpx.AsyncClient(base_url=orders.url, timeout=30, headers=headers) as http:
        for _ in range(ROUNDS):
            before = len(await _published(admin))
            start = time.perf_counter()
            answer = await admin.post(f"/_sandbox/sellers/{SMALL}/advance", json={"seconds": 86400})
            answer.raise_for_status()
            changed = {n["orderId"]: n["orderStatus"] for n in (await _published(admin))[before:]}
            seconds += await asyncio.gather(
                *(_visible(http, order, status, start) for order, status in changed.items())
            )
    return seconds


async def _visible(http: httpx.AsyncClient, order_id: str, status: str, start: float) -> float:
    while True:
        answer = await http.get(f"{API}/{order_id}")
        if answer.status_code == 200 and answer.json()["orderStatus"] == OURS[status]:
            return time.perf_counter() - start
        if time.perf_counter() - start > 60:
            raise RuntimeError(f"{order_id} not {status} after 60 s")
        await asyncio.sleep(0.01)


async def _burst(connector: Connector, orders: Any, admin: httpx.AsyncClient) -> dict[str, Any]:
    tenant = await _connected(connector, orders, LARGE, LARGE_MARKETPLACE)
    runtime = orders.runtime
    await runtime.component(QueueConsumer).aclose()  # the queue fills up meanwhile
    handled_before = await runtime.pool.fetchval("SELECT count(*) FROM order_notifications")
    before = len(await _published(admin))
    published = 0
    while published < BURST:
        answer = await admin.post(f"/_sandbox/sellers/{LARGE}/advance", json={"seconds": 86400})
        answer.raise_for_status()
        published = len(await _published(admin)) - before
    while (await admin.get("/_sandbox/notifications")).json()["pending"]:  # noqa: ASYNC110
        await asyncio.sleep(0.2)  # every message on the queue
    consumer = QueueConsumer(runtime, ports_of(runtime))
    start = time.perf_counter()
    consumer.start()
    try:
        while True:
            handled = await runtime.pool.fetchval("SELECT count(*) FROM order_notifications")
            if handled - handled_before >= published:
                break
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - start
    finally:
        await consumer.aclose()
    outcomes = dict(
        await runtime.pool.fetch(
            "SELECT outcome, count(*) FROM order_notifications WHERE tenant_id = $1 GROUP BY outcome",
            tenant,
        )
    )
    pending = await runtime.pool.fetchval("SELECT count(*) FROM order_detail_fetches")
    return {
        "count": published,
        "seconds": seconds,
        "outcomes": outcomes,
        "details_pending": pending,
        "body_bytes": 1500,
    }


async def _bare_loop(endpoint: str, count: int, body_bytes: int) -> float:
    """Messages per second of receive (10) + delete (10) on a queue holding ``count``."""
    name = f"bench-bare-{uuid.uuid4().hex[:8]}"
    session = get_session()
    async with session.create_client(
        "sqs", region_name=stack_sqs.REGION, endpoint_url=endpoint
    ) as client:
        url = (await client.create_queue(QueueName=name))["QueueUrl"]
        body = "x" * body_bytes
        for start in range(0, count, 10):
            entries = [{"Id": str(i), "MessageBody": body} for i in range(min(10, count - start))]
            await client.send_message_batch(QueueUrl=url, Entries=entries)
        received = 0
        begin = time.perf_counter()
        while received < count:
            answer = await client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = answer.get("Messages", [])
            if messages:
                await client.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
            received += len(messages)
        return count / (time.perf_counter() - begin)


def _figures(latency: list[float], burst: dict[str, Any], bare: float) -> list[Figure]:
    cuts = quantiles(latency, n=100)
    rate = burst["count"] / burst["seconds"]
    return [
        {
            "name": "order change → visible over GET /api/v1/orders/{id}, p99",
            "value": cuts[98],
            "unit": "s",
            "baseline": 2.0,
            "note": f"{len(latency)} changes over {ROUNDS} one-day advances of {SMALL}; "
            f"p50 {cuts[49]:.2f} s, max {max(latency):.2f} s; sandbox delivery included; "
            "aim ≤ 2 s (baseline); sync interval 900 s",
        },
        {
            "name": f"burst of {burst['count']} changes ({LARGE}) applied",
            "value": rate,
            "unit": "notifications/s",
            "baseline": bare,
            "note": f"{burst['seconds']:.1f} s, outcomes {burst['outcomes']}; baseline: bare "
            f"SQS receive+delete of as many messages in the same run; aim ratio ≥ 0.5; "
            f"{burst['details_pending']} orders still waiting for getOrder at its quota",
        },
    ]
