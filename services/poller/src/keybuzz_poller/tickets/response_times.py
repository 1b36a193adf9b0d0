"""The response-time report as a marketplace computes it (pure): per buyer message, over a window.

A marketplace's response-time metric (e.g. a Contact Response Time) looks back 7, 30 or 90 days: every buyer message received
in the window counts once, answered in time, late (answered after its deadline, or not
answered and past it), or left out (marked "no response needed"). The late rate is late
over the messages that needed an answer and are decided; the average response time is
over the messages answered. A message still within its deadline is counted as awaiting.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from keybuzz_poller.tickets import deadlines

WINDOWS_DAYS = (7, 30, 90)


class InvalidReportQuery(Exception):
    """A window or marketplace the caller got wrong."""


class LateMessage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    ticket_id: str
    ticket_message_id: str
    received_at: datetime
    respond_by: datetime
    answered_at: datetime | None  # null: not answered yet


class MarketplaceFigure(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The marketplace's own figure for the shop beside ours: its average response time
    over the window it measured, or why it is not available."""

    available: bool
    name: str | None = None  # the marketplace's name for it
    average_response_seconds: float | None = None
    # The window the marketplace measured, [since, until); since null: from the shop's start.
    since: datetime | None = None
    until: datetime | None = None
    computed_at: datetime | None = None  # when the marketplace computed it, if it says
    fetched_at: datetime  # when KeyBuzz asked the marketplace (figures are cached)
    reason: str | None = None  # not available: why


class ResponseTimes(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    marketplace: str
    days: int
    since: datetime  # the window: [since, until)
    until: datetime
    received: int
    answered_in_time: int
    late: int
    no_response_needed: int
    awaiting: int  # still within their deadline
    late_rate: float | None  # late / (answered in time + late); null when neither
    average_response_seconds: float | None  # over the messages answered; null when none
    late_messages: list[LateMessage]
    # The marketplace's own figure for the same window (null: it publishes none, or the
    # report is of one topic).
    marketplace_figure: MarketplaceFigure | None = None
    topic: str | None = None  # the tickets' topic the report is of; null: every ticket


def window(now: datetime, days: int) -> tuple[datetime, datetime]:
    if days not in WINDOWS_DAYS:
        raise InvalidReportQuery(f"days must be one of {list(WINDOWS_DAYS)}")
    return now - timedelta(days=days), now


def report(
    marketplace: str,
    days: int,
    now: datetime,
    outcomes: Iterable[tuple[str, deadlines.MessageOutcome]],
) -> ResponseTimes:
    """``outcomes``: (ticket id, outcome) of every buyer message; those in the window count."""
    since, until = window(now, days)
    counted = [(t, o) for t, o in outcomes if since <= o.received_at < until]
    by_outcome = [o.outcome for _, o in counted]
    late = [(t, o) for t, o in counted if o.outcome == deadlines.LATE]
    in_time = by_outcome.count(deadlines.ANSWERED)
    answered = [o.response_seconds for _, o in counted if o.outcome != deadlines.NO_RESPONSE_NEEDED]
    seconds = [s for s in answered if s is not None]
    decided = in_time + len(late)
    return ResponseTimes(
        marketplace=marketplace,
        days=days,
        since=since,
        until=until,
        received=len(counted),
        answered_in_time=in_time,
        late=len(late),
        no_response_needed=by_outcome.count(deadlines.NO_RESPONSE_NEEDED),
        awaiting=by_outcome.count(deadlines.AWAITING_REPLY),
        late_rate=round(len(late) / decided, 4) if decided else None,
        average_response_seconds=round(sum(seconds) / len(seconds), 1) if seconds else None,
        late_messages=[
            LateMessage(
                ticket_id=t,
                ticket_message_id=o.message_id,
                received_at=o.received_at,
                respond_by=o.respond_by,
                answered_at=o.answered_at,
            )
            for t, o in sorted(late, key=lambda item: item[1].received_at)
        ],
    )
