"""ticket.response_due and ticket.response_overdue on a real poller: once per deadline,
whatever the number of rounds or instances racing, at the tenant's lead time."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.tickets.alerts import alert_round
from mailkit import (
    get_json,
    headers,
    new_tenant,
    poll_now,
    relay_mail,
    send,
    synced,
    tenant_events,
)


@pytest.fixture(scope="module")
async def alerting_poller(
    start_module_service: Callable[..., Awaitable[RunningService]], dovecot: MailServer
) -> RunningService:
    """The module's poller, its tests' tenants their own: its start is most of a test's time."""
    return await start_module_service(
        DEFINITION,
        POLL_ENABLED="false",
        RESPONSE_ALERT_INTERVAL_SECONDS="0.2",
        **dovecot.settings,
    )


@pytest.fixture
def poller(alerting_poller: RunningService) -> Iterator[RunningService]:
    """The module's poller, on its own clock again after a test that fixed it."""
    ports = ports_of(alerting_poller.runtime)
    yield alerting_poller
    alerting_poller.runtime.provide(ports)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def fix_clock(poller: RunningService, now: datetime) -> None:
    poller.runtime.provide(dataclasses.replace(ports_of(poller.runtime), clock=lambda: now))


async def waiting_ticket(poller: RunningService) -> tuple[str, dict[str, Any]]:
    tenant_id, address = new_tenant()
    await synced(poller, tenant_id, address)
    await send(poller, relay_mail(address), address)
    await poll_now(poller, tenant_id)
    [ticket] = (await get_json(poller, tenant_id, "/api/v1/tickets"))["items"]
    return tenant_id, ticket


async def alerts_of(poller: RunningService, subject: str, tenant_id: str) -> list[dict[str, Any]]:
    return await tenant_events(poller, subject, tenant_id)


async def recorded_after_a_round(poller: RunningService, tenant_id: str) -> list[str]:
    """The tenant's alerts recorded (``poller_response_alerts``: what a round gives, in the
    transaction that emits it) once a round at the poller's clock has run to its end, the
    test's own: an alert due then is recorded by it or by a racing round it waited for."""
    now = ports_of(poller.runtime).clock()
    await alert_round(ports_of(poller.runtime).tickets, lambda: now)
    kinds = await poller.runtime.pool.fetch(
        "SELECT kind FROM poller_response_alerts WHERE tenant_id = $1 ORDER BY kind", tenant_id
    )
    return [r["kind"] for r in kinds]


async def test_due_then_overdue_each_once_per_deadline(poller: RunningService) -> None:
    tenant_id, ticket = await waiting_ticket(poller)
    respond_by = at(ticket["respondBy"])

    fix_clock(poller, respond_by - timedelta(hours=2, seconds=1))
    assert await recorded_after_a_round(poller, tenant_id) == []  # nothing is due yet

    fix_clock(poller, respond_by - timedelta(hours=2))

    async def due() -> bool:
        return bool(await alerts_of(poller, "ticket.response_due", tenant_id))

    await eventually(due)
    # Two instances racing, and more rounds: nothing more.
    await asyncio.gather(
        *(alert_round(ports_of(poller.runtime).tickets, lambda: respond_by) for _ in range(4))
    )

    async def overdue() -> bool:
        return bool(await alerts_of(poller, "ticket.response_overdue", tenant_id))

    await eventually(overdue)
    fix_clock(poller, respond_by + timedelta(hours=5))
    assert await recorded_after_a_round(poller, tenant_id) == ["DUE", "OVERDUE"]
    [due_event] = await alerts_of(poller, "ticket.response_due", tenant_id)
    [overdue_event] = await alerts_of(poller, "ticket.response_overdue", tenant_id)
    assert (due_event["ticketId"], at(due_event["respondBy"])) == (ticket["id"], respond_by)
    assert due_event["leadSeconds"] == 7200
    assert (overdue_event["ticketId"], at(overdue_event["respondBy"])) == (ticket["id"], respond_by)
    rows = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_response_alerts WHERE tenant_id = $1", tenant_id
    )
    assert rows == 2

    async with poller.client() as http:
        metrics = (await http.get("/metrics")).text
    assert 'keybuzz_tickets_by_response_deadline{bucket="OVERDUE"}' in metrics


async def test_the_tenants_lead_time(poller: RunningService) -> None:
    tenant_id, ticket = await waiting_ticket(poller)
    respond_by = at(ticket["respondBy"])
    async with poller.client() as http:
        default = await http.get(
            "/api/v1/poller/response-alerts", headers=headers(poller, tenant_id)
        )
        assert default.json() == {"leadMinutes": 120}
        saved = await http.put(
            "/api/v1/poller/response-alerts",
            json={"leadMinutes": 30},
            headers=headers(poller, tenant_id),
        )
        assert saved.status_code == 200 and saved.json() == {"leadMinutes": 30}
        for bad in (0, 1441, 10**20):  # the last overflows a timedelta: refused, not a 500
            refused = await http.put(
                "/api/v1/poller/response-alerts",
                json={"leadMinutes": bad},
                headers=headers(poller, tenant_id),
            )
            assert refused.status_code == 400, refused.text

    fix_clock(poller, respond_by - timedelta(minutes=31))
    assert await recorded_after_a_round(poller, tenant_id) == []
    fix_clock(poller, respond_by - timedelta(minutes=30))

    async def due() -> bool:
        return bool(await alerts_of(poller, "ticket.response_due", tenant_id))

    await eventually(due)
    [event] = await alerts_of(poller, "ticket.response_due", tenant_id)
    assert event["leadSeconds"] == 1800


async def test_past_the_deadline_only_the_overdue_alert(poller: RunningService) -> None:
    tenant_id, ticket = await waiting_ticket(poller)
    respond_by = at(ticket["respondBy"])
    fix_clock(poller, respond_by + timedelta(minutes=5))  # no round ran in the lead time

    async def overdue() -> bool:
        return bool(await alerts_of(poller, "ticket.response_overdue", tenant_id))

    await eventually(overdue)
    assert await recorded_after_a_round(poller, tenant_id) == ["OVERDUE"]
    assert await alerts_of(poller, "ticket.response_due", tenant_id) == []


async def test_a_deadline_long_past_gives_no_overdue_alert(poller: RunningService) -> None:
    # A ticket left unanswered days before the alerts ran (a first start after a deploy)
    # next to one whose deadline passes now: only the latter is news.
    old_tenant, old_ticket = await waiting_ticket(poller)
    await poller.runtime.pool.execute(
        "UPDATE poller_tickets SET respond_by = respond_by - interval '3 days' WHERE id = $1",
        old_ticket["id"],
    )
    tenant_id, ticket = await waiting_ticket(poller)
    respond_by = at(ticket["respondBy"])
    fix_clock(poller, respond_by + timedelta(seconds=1))

    async def overdue() -> bool:
        return bool(await alerts_of(poller, "ticket.response_overdue", tenant_id))

    await eventually(overdue)
    await asyncio.gather(
        *(alert_round(ports_of(poller.runtime).tickets, lambda: respond_by) for _ in range(3))
    )
    assert await recorded_after_a_round(poller, tenant_id) == ["OVERDUE"]
    assert await recorded_after_a_round(poller, old_tenant) == []
    assert len(await alerts_of(poller, "ticket.response_overdue", tenant_id)) == 1
    assert await alerts_of(poller, "ticket.response_overdue", old_tenant) == []
    assert await alerts_of(poller, "ticket.response_due", old_tenant) == []
    [old] = (await get_json(poller, old_tenant, "/api/v1/tickets"))["items"]
    assert old["responseState"] == "OVERDUE"  # the agent still sees it late
