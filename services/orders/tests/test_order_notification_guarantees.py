"""What order notifications guarantee when something fails or arrives out of order.

- a notification whose unit of work fails (PostgreSQL cut mid-apply) stays in the queue,
  comes back after its visibility timeout and is applied once when the database is back;
- the change time kept is Amazon's ``TimeOfOrderChange``, not the notification's
  ``EventTime`` (the sandbox publishes each change a drawn lag after it happened);
- an LWA or SP-API outage while a seller is being subscribed holds ``connection.connected``
  until the seller is subscribed; the event is never acknowledged with the seller left out.

Real SQS (moto), PostgreSQL behind a TCP relay, the sandbox delivering to the queue.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import test_order_notifications
from keybuzz_devstack import sqs as stack_sqs
from keybuzz_devstack.outage import Outage
from keybuzz_devstack.testing import eventually, service_migrations
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_shared.events import ConnectionConnected
from keybuzz_shared.streams import stream_for
from orders_testkit import SELLER, OrdersKit, Sandbox, new_tenant
from test_order_notifications import (
    Since,
    all_handled,
    connected_and_backfilled,
    final_states,
    metric,
    moment,
    queue_settings,
    shows,
    sqs_client,
    subscribed,
)

# That module's fixtures, for this module: a sandbox delivering to the test SQS, the AWS
# SDK's credentials, the notification faults cleared, a tenant connected.
sandbox_url = test_order_notifications.sandbox_url
aws_credentials = test_order_notifications.aws_credentials
notices = test_order_notifications.notices
connected = test_order_notifications.connected

NOTIFIED = "keybuzz_orders_notifications_total"
SHORT_ADVANCE = {"seconds": 5 * 86400}
VISIBILITY_SECONDS = 1  # the test queue's: a message not deleted comes back this soon


def through(relay: Outage, url: str) -> str:
    """``url`` with its host and port replaced by the relay's."""
    parts = urlsplit(url)
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
    return urlunsplit(parts._replace(netloc=netloc))


async def counts(orders: OrdersKit, *outcomes: str) -> dict[str, float]:
    return {o: await metric(orders, f'{NOTIFIED}{{outcome="{o}"') for o in outcomes}


async def queued(sqs: Any, url: str) -> int:
    """Messages in a queue, visible or received and not deleted yet."""
    found = await sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    return sum(int(v) for v in found["Attributes"].values())


async def mid_apply(direct: asyncpg.Connection) -> bool | None:
    """True once a unit of work has claimed a notification (its row inserted, not committed)
    and waits to write the order: it is in the middle of applying it."""
    waiting = await direct.fetchval(
        """
SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
  AND l.relation = 'order_notifications'::regclass AND l.granted
"""
    )
    return True if waiting else None


async def test_a_notification_whose_unit_of_work_fails_stays_queued_and_is_applied_once(
    make_orders: Callable[..., Awaitable[OrdersKit]],
    make_database: Callable[..., Awaitable[str]],
    notices: Sandbox,
    sqs_queues: stack_sqs.Queues,
) -> None:
    url = await make_database("orders-cut", service_migrations(ORDERS))
    relay = Outage(urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 5432)
    await relay.up()
    direct = await asyncpg.connect(url)  # the test's own: not through the relay
    async with sqs_client(sqs_queues.endpoint) as sqs:
        await sqs.set_queue_attributes(
            QueueUrl=sqs_queues.queue_url,
            Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)},
        )
        try:
            orders = await make_orders(
                DATABASE_URL=through(relay, url), **queue_settings(sqs_queues)
            )
            tenant = new_tenant()
            await connected_and_backfilled(orders, tenant)
            before = await counts(orders, "applied", "stale", "duplicate", "failed")

            # Writes to orders wait on the test's lock: the consumer's unit of work stops
            # between claiming the notification and writing the order, and is cut there.
            lock = direct.transaction()
            await lock.start()
            await direct.execute("LOCK TABLE orders IN SHARE MODE")
            since = await Since.now(notices, sqs_queues.queue_arn)
            while not await since.published():
                await notices.http.post(f"/_sandbox/sellers/{SELLER}/advance", json=SHORT_ADVANCE)
            await eventually(lambda: mid_apply(direct))
            await relay.down()
            await lock.rollback()
            published = await since.published()

            # Down for several visibility timeouts: received again and again, never deleted
            # (each time a failure counted: waited for, not a window slept).
            async def received_again() -> bool:
                failed = (await counts(orders, "failed"))["failed"] - before["failed"]
                return failed >= 2 * len(published)

            await eventually(received_again)

            async def all_queued() -> bool | None:
                # The queue's counts are approximate: one in the middle of its receive may
                # be in neither for an instant.
                return await queued(sqs, sqs_queues.queue_url) >= len(published) or None

            await eventually(all_queued)
            ids = [n["notificationId"] for n in published]
            kept = "SELECT count(*) FROM order_notifications WHERE notification_id = ANY($1)"
            assert await direct.fetchval(kept, ids) == 0  # the claim went with its rollback
            failed = (await counts(orders, "failed"))["failed"] - before["failed"]
            assert failed >= 2 * len(published), "each came back after its visibility timeout"

            await relay.up()
            await shows(orders, tenant, since)
            handled = await all_handled(orders, since)  # one row per NotificationId

            async def settled() -> dict[str, float] | None:
                now = await counts(orders, *before)
                delta = {o: now[o] - before[o] for o in before}
                return delta if delta["applied"] + delta["stale"] >= len(handled) else None

            delta = await eventually(settled)
            # Each applied (or found stale) once: a claim rolled back is no duplicate.
            assert delta["applied"] + delta["stale"] == len(handled)
            await eventually(lambda: _empty(sqs, sqs_queues.queue_url))
            # An outage is no poison: nothing dead-lettered (the queue has no redrive policy).
            assert await queued(sqs, sqs_queues.dead_letter_url) == 0
        finally:
            await direct.close()
            with contextlib.suppress(Exception):
                await relay.down()


async def _empty(sqs: Any, url: str) -> bool | None:
    return True if await queued(sqs, url) == 0 else None


def misordered(published: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Orders whose last change (as published: the order of the changes) is not the one
    published last (EventTime): ordering by EventTime would end on an older state. Each
    with its last change."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for n in published:
        changes.setdefault(n["orderId"], []).append(n)
    return {
        order_id: of_order[-1]
        for order_id, of_order in changes.items()
        if max(of_order, key=lambda n: moment(n["sentAt"])) is not of_order[-1]
    }


async def test_the_change_time_kept_is_time_of_order_change_not_event_time(
    connected: tuple[OrdersKit, str], notices: Sandbox
) -> None:
    orders, tenant = connected
    # Amazon publishes a change seconds to minutes after it: here up to 4 s, drawn for each.
    faults = {"eventLagSeconds": 4}
    assert (await notices.http.put("/_sandbox/notifications/faults", json=faults)).is_success
    since = await Since.now(notices)
    published: list[dict[str, Any]] = []
    while not misordered(published):
        assert len(published) < 300, "no order whose changes were published out of order"
        answer = await notices.http.post(f"/_sandbox/sellers/{SELLER}/advance", json=SHORT_ADVANCE)
        assert answer.status_code == 200, answer.text
        published = await since.published()
    await shows(orders, tenant, since)  # each order's latest change, not its latest EventTime
    handled = await all_handled(orders, since)
    kept = {
        r["notification_id"]: r["change_time"]
        for r in await orders.pool.fetch(
            "SELECT notification_id, change_time FROM order_notifications"
            " WHERE notification_id = ANY($1)",
            [n["notificationId"] for n in handled],
        )
    }
    for n in handled:
        assert kept[n["notificationId"]] == moment(n["timeOfOrderChange"]), n
        assert moment(n["sentAt"]) >= moment(n["timeOfOrderChange"]), n
    for order_id, last in misordered(handled).items():
        row = await orders.pool.fetchrow(
            "SELECT marketplace_updated_at FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
            tenant,
            order_id,
        )
        assert row["marketplace_updated_at"] == moment(last["timeOfOrderChange"]), last
    assert final_states(handled)  # the shows() above checked each one's status


# --- subscribing through an outage -----------------------------------------------------------

SUBSCRIBING = "orders-notify-subscribe"
NOTIFICATION_OPERATIONS = [
    "getDestinations",
    "createDestination",
    "getSubscription",
    "createSubscription",
    "deleteSubscriptionById",
]


async def event_outcomes(orders: OrdersKit, consumer: str, outcome: str) -> float:
    async with orders.service.client() as http:
        text = (await http.get("/metrics")).text
    pattern = (
        rf'keybuzz_events_total{{[^}}]*consumer="{consumer}"[^}}]*outcome="{outcome}"[^}}]*}} (\S+)'
    )
    return sum(float(v) for v in re.findall(pattern, text))


async def ours(notices: Sandbox, queue_arn: str) -> list[dict[str, Any]]:
    """The seller's subscriptions at the sandbox delivering to this test's queue."""
    overview = (await notices.http.get("/_sandbox/notifications")).json()
    destinations = {
        d["destinationId"]
        for d in overview["destinations"]
        if d["resource"]["sqs"]["arn"] == queue_arn
    }
    return [
        s
        for s in overview["subscriptions"]
        if s["sellingPartnerId"] == SELLER and s["destinationId"] in destinations
    ]


@pytest.mark.parametrize("down", ["lwa", "spapi"])
async def test_an_outage_while_subscribing_holds_the_event_until_the_seller_is_subscribed(
    down: str,
    make_orders: Callable[..., Awaitable[OrdersKit]],
    notices: Sandbox,
    sqs_queues: stack_sqs.Queues,
) -> None:
    settings = queue_settings(sqs_queues)
    sandbox = urlsplit(notices.url)
    lwa = Outage(sandbox.hostname or "127.0.0.1", sandbox.port or 80)  # not up: refuses
    if down == "lwa":  # orders' LWA unreachable (oauth's is not: the seller connects)
        settings["LWA_ENDPOINT"] = f"{lwa.url}/auth/o2/token"
    orders = await make_orders(**settings)
    if down == "spapi":  # the Notifications API answers 503
        await notices.set_faults(
            errorRate=1.0, errorStatuses=[503], operations=NOTIFICATION_OPERATIONS
        )
    js = orders.runtime.js
    stream = stream_for(ConnectionConnected.SUBJECT)
    tenant = new_tenant()
    # The counters are the test process's (every orders started here): compared to now.
    held_before = await event_outcomes(orders, SUBSCRIBING, "held")
    ok_before = await event_outcomes(orders, SUBSCRIBING, "ok")
    try:
        await orders.connect(tenant)

        async def held() -> Any:
            info = await js.consumer_info(stream, SUBSCRIBING)
            attempts = await event_outcomes(orders, SUBSCRIBING, "held") - held_before
            return info if info.num_ack_pending == 1 and attempts >= 2 else None

        # Held twice: the outage lasts, the event tried again and still held, nothing
        # acknowledged.
        await eventually(held)
        info = await js.consumer_info(stream, SUBSCRIBING)
        assert (info.num_ack_pending, info.num_pending) == (1, 0)
        assert await event_outcomes(orders, SUBSCRIBING, "ok") == ok_before
        assert await ours(notices, sqs_queues.queue_arn) == []
        assert (
            await orders.pool.fetchval(
                "SELECT count(*) FROM order_subscriptions WHERE tenant_id = $1", tenant
            )
            == 0
        )

        if down == "lwa":
            await lwa.up()
        else:
            await notices.clear()
        row = await subscribed(orders, tenant, within=60)  # the held event's back-off: ≤ 30 s
    finally:
        await lwa.down()
    [subscription] = await ours(notices, sqs_queues.queue_arn)
    assert subscription["subscriptionId"] == row["subscription_id"]

    async def acknowledged() -> bool | None:
        info = await js.consumer_info(stream, SUBSCRIBING)
        return True if (info.num_ack_pending, info.num_pending) == (0, 0) else None

    await eventually(acknowledged)
    # Acknowledged once, when it worked.
    assert await event_outcomes(orders, SUBSCRIBING, "ok") == ok_before + 1
    # The backfill the same event started ran once, through the outage.
    job = await orders.job_of(tenant)
    assert (await orders.finished(tenant, job["jobId"], within=60))["status"] == "COMPLETED"
    jobs = "SELECT count(*) FROM order_backfill_jobs WHERE tenant_id = $1"
    assert await orders.pool.fetchval(jobs, tenant) == 1
