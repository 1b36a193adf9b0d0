"""Keeping each ticket's response deadline current, in the unit of work that changes it.

A ticket's deadline depends on its buyer messages, its replies' delivery and the agent's
"no response needed"; whatever changes one of them has it recomputed in the same
transaction, so the stored ``respond_by`` the agent's queue sorts on is never stale.
Whatever stores messages (mail, a shop's API) or a reply's outcome (sent, failed, bounced)
names the tickets it changed on its unit of work's ``Intake`` (``intake.py``); their
deadlines are recomputed once each when the writes end, in that unit of work: the stores
only store.
The rule itself is pure (``deadlines.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import groupby

import msgspec
from keybuzz_shared.ticket_topics import SUBJECTS

from keybuzz_poller.tickets import deadlines, response_times
from keybuzz_poller.tickets.ports import (
    SELLER,
    DeadlineFact,
    DeadlineRow,
    DeadlineStore,
    ResponseFigureSource,
    TicketsPorts,
    TicketStore,
)
from keybuzz_poller.tickets.queries import TicketNotFound


def message_facts(fact: DeadlineFact) -> deadlines.MessageFacts:
    # A marketplace's message (a sender type) was written when the marketplace says; a
    # mail's Date header is only its sender's word.
    written = fact.written_at if fact.sender_type is not None else None
    # The seller's message in the marketplace's back office: outbound, none of our replies.
    by_seller = fact.sender_type == SELLER and fact.reply_status is None
    at = fact.received_at
    if fact.direction == deadlines.INBOUND:
        at = deadlines.clock_start(fact.accepted_at or written, fact.received_at)
    elif by_seller:
        at = deadlines.clock_start(written, fact.received_at)
    return deadlines.MessageFacts(
        id=fact.id,
        direction=fact.direction,
        at=at,
        awaits_reply=fact.awaits_reply,
        reply_status=fact.reply_status,
        sent_at=fact.sent_at,
        automatic=fact.automatic,
        by_seller_at_marketplace=by_seller and fact.direction == deadlines.OUTBOUND,
    )


def _rule(first: DeadlineFact) -> deadlines.ResponseRule:
    return deadlines.rule_for(first.marketplace, first.override_hours)


def _clock(first: DeadlineFact, rule: deadlines.ResponseRule) -> deadlines.ThreadClock | None:
    """The marketplace's clock on the ticket's thread, where it keeps one and listed it."""
    if not (rule.marketplace_clock and first.marketplace_clock):
        return None
    return deadlines.ThreadClock(reply_needed_since=first.reply_needed_since)


def _deadlines(facts: Iterable[DeadlineFact]) -> list[DeadlineRow]:
    result = []
    for ticket_id, group in groupby(facts, key=lambda f: f.ticket_id):
        messages = list(group)
        rule = _rule(messages[0])
        stored = deadlines.deadline(
            [message_facts(m) for m in messages],
            rule,
            messages[0].no_response_needed_at,
            _clock(messages[0], rule),
        )
        result.append(
            DeadlineRow(
                ticket_id=ticket_id, response_state=stored.state, respond_by=stored.respond_by
            )
        )
    return result


def opening_deadline(facts: Sequence[DeadlineFact]) -> DeadlineRow:
    """The deadline of one ticket whose every message is in ``facts``: one that the same
    unit of work creates, so no stored message, reply or mark can change it."""
    (row,) = _deadlines(facts)
    return row


async def refresh_deadlines(tickets: DeadlineStore, ticket_ids: Sequence[str]) -> None:
    """Recompute and store the deadlines of ``ticket_ids`` (each ticket once, in id order:
    concurrent units of work lock them in the same order)."""
    unique = sorted(set(ticket_ids))
    if unique:
        await tickets.save_deadlines(_deadlines(await tickets.deadline_facts(unique)))


async def mark_no_response_needed(
    ports: TicketsPorts, tenant_id: str, ticket_id: str, by: str, at: datetime
) -> None:
    """The agent's "no response needed" (who, when): closes the buyer messages until ``at``."""
    async with ports.unit_of_work() as unit:
        if not await unit.store.mark_no_response_needed(tenant_id, ticket_id, by, at):
            raise TicketNotFound(f"no ticket {ticket_id}")
        await refresh_deadlines(unit.store, [ticket_id])


async def response_times_report(
    tickets: TicketStore,
    tenant_id: str,
    marketplace: str,
    days: int,
    now: datetime,
    figures: ResponseFigureSource | None = None,
    topic: str | None = None,
) -> response_times.ResponseTimes:
    """The tenant's buyer messages of the last ``days`` on ``marketplace``, the marketplace's
    way, with the marketplace's own figure for the same window where it publishes one; only
    those of tickets about ``topic`` when given (then without the marketplace's figure,
    which counts every message)."""
    own = deadlines.rules()
    if marketplace not in own and marketplace not in await tickets.response_windows(tenant_id):
        known = sorted(own)
        raise response_times.InvalidReportQuery(
            f"marketplace must be one of {known} or one the tenant set a response window for"
        )
    if topic is not None and topic not in SUBJECTS:
        raise response_times.InvalidReportQuery(f"topic must be one of {', '.join(SUBJECTS)}")
    since, _ = response_times.window(now, days)
    facts = await tickets.report_facts(tenant_id, marketplace, since, topic)
    found: list[tuple[str, deadlines.MessageOutcome]] = []
    for ticket_id, group in groupby(facts, key=lambda f: f.ticket_id):
        messages = list(group)
        outcomes = deadlines.outcomes(
            [message_facts(m) for m in messages],
            _rule(messages[0]),
            messages[0].no_response_needed_at,
            now,
        )
        found.extend((ticket_id, o) for o in outcomes)
    report = msgspec.structs.replace(
        response_times.report(marketplace, days, now, found), topic=topic
    )
    if figures is None or topic is not None:
        return report
    figure = await figures.figure(tenant_id, marketplace, report.since, report.until)
    return msgspec.structs.replace(report, marketplace_figure=figure)


async def save_response_window(
    ports: TicketsPorts, tenant_id: str, marketplace: str, hours: int
) -> None:
    """Set the tenant's window for ``marketplace`` and move the stored deadlines of its
    tickets there that wait for the seller, in one transaction (the queue sorts on them)."""
    deadlines.check_override(marketplace, hours)
    async with ports.unit_of_work() as unit:
        await unit.store.save_response_window(tenant_id, marketplace, hours)
        await refresh_deadlines(
            unit.store, await unit.store.awaiting_ticket_ids(tenant_id, marketplace)
        )
