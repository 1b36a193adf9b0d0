"""Alerts before a buyer waits too long: ``ticket.response_due`` and ``ticket.response_overdue``.

Every ``RESPONSE_ALERT_INTERVAL_SECONDS`` an instance records the alerts whose time has
come (the tenant's lead time before the deadline, default 2 h; the deadline itself) in
``poller_response_alerts`` and emits them in the same transaction (the outbox publishes
them once it commits). The row's key (ticket, deadline, kind) makes each alert once per
deadline whichever instance gets there first, and after any restart; a new deadline (a
new buyer message after an answer) alerts again. The round also sets the metrics of
tickets by response state and by time to deadline.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.events import Event, TicketResponseDue, TicketResponseOverdue
from prometheus_client import Gauge

from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.tickets import alerts_store
from keybuzz_poller.tickets.ports import Clock

log = logging.getLogger(__name__)
BATCH = 500
MIN_LEAD = timedelta(minutes=1)
MAX_LEAD = timedelta(hours=24)

TICKETS_BY_DEADLINE = Gauge(
    "keybuzz_tickets_by_response_deadline",
    "Tickets by response state and, for those awaiting a reply, by time to deadline: "
    "OVERDUE, within_1h, within_2h, within_6h, later; ANSWERED, NO_RESPONSE_NEEDED.",
    ["bucket"],
)
BUCKETS = (
    "OVERDUE",
    "within_1h",
    "within_2h",
    "within_6h",
    "later",
    "ANSWERED",
    "NO_RESPONSE_NEEDED",
)


class InvalidLeadTime(Exception):
    """A lead time outside 1 minute to 24 hours."""


def alert_event(row: Any) -> Event:
    if row["kind"] == "OVERDUE":
        return TicketResponseOverdue(
            tenant_id=row["tenant_id"],
            marketplace=row["marketplace"],
            ticket_id=row["ticket_id"],
            respond_by=row["respond_by"],
        )
    return TicketResponseDue(
        tenant_id=row["tenant_id"],
        marketplace=row["marketplace"],
        ticket_id=row["ticket_id"],
        respond_by=row["respond_by"],
        lead_seconds=row["lead_seconds"],
    )


async def alert_round(runtime: PollerRuntime, clock: Clock) -> int:
    """Record and emit every alert whose time has come; how many."""
    given = 0
    while True:
        async with runtime.unit_of_work() as uow:
            rows = await alerts_store.claim_alerts(uow.conn, clock(), BATCH)
            uow.emit_many(alert_event(r) for r in rows)
        given += len(rows)
        if len(rows) < BATCH:
            break
    counts = await alerts_store.deadline_counts(runtime.pool, clock())
    for bucket in BUCKETS:
        TICKETS_BY_DEADLINE.labels(bucket).set(counts.get(bucket, 0))
    return given


class ResponseAlerts:
    """The alert rounds of one instance, every ``interval`` seconds."""

    def __init__(self, runtime: PollerRuntime, clock: Clock, interval: float) -> None:
        self.runtime = runtime
        self.clock = clock
        self.interval = interval
        self.loop = BackgroundLoop(self._run, "response-alerts")

    async def _run(self) -> None:
        while True:
            try:
                await alert_round(self.runtime, self.clock)
            except Exception:  # a round that failed is the next round's work
                log.exception("response alert round failed")
            await asyncio.sleep(self.interval)


async def lead_time(runtime: PollerRuntime, tenant_id: str) -> timedelta:
    return timedelta(seconds=await alerts_store.lead_seconds(runtime.pool, tenant_id))


async def save_lead_time(runtime: PollerRuntime, tenant_id: str, lead: timedelta) -> timedelta:
    if not MIN_LEAD <= lead <= MAX_LEAD:
        raise InvalidLeadTime("leadMinutes must be between 1 and 1440 (24 hours)")
    await alerts_store.save_lead_seconds(runtime.pool, tenant_id, int(lead.total_seconds()))
    return lead
