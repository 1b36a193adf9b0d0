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

from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.events import Event, TicketResponseDue, TicketResponseOverdue
from prometheus_client import Gauge

from keybuzz_poller.tickets.ports import Clock, DueAlert, TicketsPorts

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


def alert_event(alert: DueAlert) -> Event:
    if alert.kind == "OVERDUE":
        return TicketResponseOverdue(
            tenant_id=alert.tenant_id,
            marketplace=alert.marketplace,
            ticket_id=alert.ticket_id,
            respond_by=alert.respond_by,
        )
    return TicketResponseDue(
        tenant_id=alert.tenant_id,
        marketplace=alert.marketplace,
        ticket_id=alert.ticket_id,
        respond_by=alert.respond_by,
        lead_seconds=alert.lead_seconds,
    )


async def alert_round(ports: TicketsPorts, clock: Clock) -> int:
    """Record and emit every alert whose time has come; how many."""
    given = 0
    while True:
        async with ports.alert_unit_of_work() as unit:
            due = await unit.store.claim_alerts(clock(), BATCH)
            unit.emit_many(alert_event(a) for a in due)
        given += len(due)
        if len(due) < BATCH:
            break
    counts = await ports.alerts.deadline_counts(clock())
    for bucket in BUCKETS:
        TICKETS_BY_DEADLINE.labels(bucket).set(counts.get(bucket, 0))
    return given


class ResponseAlerts:
    """The alert rounds of one instance, every ``interval`` seconds."""

    def __init__(self, ports: TicketsPorts, clock: Clock, interval: float) -> None:
        self.ports = ports
        self.clock = clock
        self.interval = interval
        self.loop = BackgroundLoop(self._run, "response-alerts")

    async def _run(self) -> None:
        while True:
            try:
                await alert_round(self.ports, self.clock)
            except Exception:  # a round that failed is the next round's work
                log.exception("response alert round failed")
            await asyncio.sleep(self.interval)


async def lead_time(ports: TicketsPorts, tenant_id: str) -> timedelta:
    return timedelta(seconds=await ports.alerts.lead_seconds(tenant_id))


async def save_lead_time(ports: TicketsPorts, tenant_id: str, lead: timedelta) -> timedelta:
    if not MIN_LEAD <= lead <= MAX_LEAD:
        raise InvalidLeadTime("leadMinutes must be between 1 and 1440 (24 hours)")
    await ports.alerts.save_lead_seconds(tenant_id, int(lead.total_seconds()))
    return lead
