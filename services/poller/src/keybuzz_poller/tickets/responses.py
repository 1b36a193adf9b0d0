"""Keeping each ticket's response deadline current, in the unit of work that changes it.

A ticket's deadline depends on its buyer messages, its replies' delivery and the agent's
"no response needed"; whatever changes one of them calls :func:`refresh_deadlines` in the
same transaction, so the stored ``respond_by`` the agent's queue sorts on is never stale.
The rule itself is pure (``deadlines.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from itertools import groupby
from typing import Any

from keybuzz_shared.db import Executor
from keybuzz_shared.uow import UnitOfWork

from keybuzz_poller.reading.marketplace.domain import SELLER
from keybuzz_poller.tickets import deadlines, response_times, store
from keybuzz_poller.tickets.queries import TicketNotFound


def message_facts(row: Any) -> deadlines.MessageFacts:
    # A marketplace's message (a sender type) was written when the marketplace says; a
    # mail's Date header is only its sender's word.
    written = row["written_at"] if row["sender_type"] is not None else None
    # The seller's message in the marketplace's back office: outbound, none of our replies.
    by_seller = row["sender_type"] == SELLER and row["reply_status"] is None
    at = row["received_at"]
    if row["direction"] == deadlines.INBOUND:
        at = deadlines.clock_start(row["accepted_at"] or written, row["received_at"])
    elif by_seller:
        at = deadlines.clock_start(written, row["received_at"])
    return deadlines.MessageFacts(
        id=row["id"],
        direction=row["direction"],
        at=at,
        awaits_reply=row["awaits_reply"],
        reply_status=row["reply_status"],
        sent_at=row["sent_at"],
        automatic=row["automatic"],
        by_seller_at_marketplace=by_seller and row["direction"] == deadlines.OUTBOUND,
    )


def _deadlines(rows: Iterable[Any]) -> list[store.DeadlineRow]:
    result = []
    for ticket_id, group in groupby(rows, key=lambda r: r["ticket_id"]):
        messages = list(group)
        first = messages[0]
        stored = deadlines.deadline(
            [message_facts(m) for m in messages],
            deadlines.rule_for(first["marketplace"], first["override_hours"]),
            first["no_response_needed_at"],
        )
        result.append(
            store.DeadlineRow(
                ticket_id=ticket_id, response_state=stored.state, respond_by=stored.respond_by
            )
        )
    return result


async def refresh_deadlines(db: Executor, ticket_ids: Sequence[str]) -> None:
    """Recompute and store the deadlines of ``ticket_ids`` (each ticket once, in id order)."""
    unique = sorted(set(ticket_ids))
    if unique:
        await store.save_deadlines(db, _deadlines(await store.deadline_facts(db, unique)))


async def mark_no_response_needed(
    unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    tenant_id: str,
    ticket_id: str,
    by: str,
    at: datetime,
) -> None:
    """The agent's "no response needed" (who, when): closes the buyer messages until ``at``."""
    async with unit_of_work() as uow:
        if not await store.mark_no_response_needed(uow.conn, tenant_id, ticket_id, by, at):
            raise TicketNotFound(f"no ticket {ticket_id}")
        await refresh_deadlines(uow.conn, [ticket_id])


async def response_times_report(
    db: Executor, tenant_id: str, marketplace: str, days: int, now: datetime
) -> response_times.ResponseTimes:
    """The tenant's buyer messages of the last ``days`` on ``marketplace``, the marketplace's way."""
    if marketplace not in deadlines.RULES and marketplace not in await store.response_windows(
        db, tenant_id
    ):
        known = sorted(deadlines.RULES)
        raise response_times.InvalidReportQuery(
            f"marketplace must be one of {known} or one the tenant set a response window for"
        )
    since, _ = response_times.window(now, days)
    rows = await store.report_facts(db, tenant_id, marketplace, since)
    found: list[tuple[str, deadlines.MessageOutcome]] = []
    for ticket_id, group in groupby(rows, key=lambda r: r["ticket_id"]):
        messages = list(group)
        first = messages[0]
        outcomes = deadlines.outcomes(
            [message_facts(m) for m in messages],
            deadlines.rule_for(first["marketplace"], first["override_hours"]),
            first["no_response_needed_at"],
            now,
        )
        found.extend((ticket_id, o) for o in outcomes)
    return response_times.report(marketplace, days, now, found)


async def response_windows(db: Executor, tenant_id: str) -> dict[str, int]:
    """The tenant's response window (hours) per marketplace it set one for."""
    return await store.response_windows(db, tenant_id)


async def save_response_window(
    unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    tenant_id: str,
    marketplace: str,
    hours: int,
) -> None:
    """Set the tenant's window for ``marketplace`` and move the stored deadlines of its
    tickets there that wait for the seller, in one transaction (the queue sorts on them)."""
    deadlines.check_override(marketplace, hours)
    async with unit_of_work() as uow:
        await store.save_response_window(uow.conn, tenant_id, marketplace, hours)
        await refresh_deadlines(
            uow.conn, await store.awaiting_ticket_ids(uow.conn, tenant_id, marketplace)
        )
