"""The response-time report on a fixed calendar (pure): a weekend, a daylight-saving change
(Europe/Paris, 2026-10-25) and the window's edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from keybuzz_poller.tickets.deadlines import INBOUND, OUTBOUND, MessageFacts, outcomes, rule_for
from keybuzz_poller.tickets.response_times import InvalidReportQuery, ResponseTimes, report

PARIS = ZoneInfo("Europe/Paris")
AMAZON = rule_for("AMAZON")
HOUR = timedelta(hours=1)


def paris(*args: int) -> datetime:
    year, month, day, hour, minute = args
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def thread(name: str, asked: datetime, answered: datetime | None) -> list[MessageFacts]:
    messages = [MessageFacts(id=name, direction=INBOUND, at=asked, awaits_reply=True)]
    if answered is not None:
        messages.append(
            MessageFacts(
                id=f"{name}-reply",
                direction=OUTBOUND,
                at=answered,
                reply_status="SENT",
                sent_at=answered,
            )
        )
    return messages


def run(
    now: datetime,
    days: int,
    threads: dict[str, list[MessageFacts]],
    marks: dict[str, datetime] | None = None,
) -> ResponseTimes:
    marks = marks or {}
    found = [
        (ticket, o)
        for ticket, messages in threads.items()
        for o in outcomes(messages, AMAZON, marks.get(ticket), now)
    ]
    return report("AMAZON", days, now, found)


def test_a_weekend_counts_like_any_day() -> None:
    friday = paris(2026, 10, 16, 18, 0)
    result = run(
        paris(2026, 10, 21, 12, 0),
        7,
        {
            "in-time": thread("in-time", friday, friday + 23 * HOUR),  # Saturday 17:00
            "late": thread("late", friday, paris(2026, 10, 19, 9, 0)),  # Monday morning
        },
    )
    assert (result.received, result.answered_in_time, result.late) == (2, 1, 1)
    assert result.late_rate == 0.5
    assert [m.ticket_message_id for m in result.late_messages] == ["late"]
    assert result.average_response_seconds == ((23 + 63) * 3600) / 2


def test_across_the_change_to_winter_time_24_hours_are_24_real_hours() -> None:
    # Saturday 12:00 CEST (10:00 UTC); the clocks go back at 03:00 on Sunday 25 October.
    asked = paris(2026, 10, 24, 12, 0)
    # Sunday 11:30 CET reads 23 h 30 later on the wall clock, but is 24 h 30 later.
    late = paris(2026, 10, 25, 11, 30)
    # Sunday 10:30 CET: 23 h 30 later, in time.
    in_time = paris(2026, 10, 25, 10, 30)
    now = paris(2026, 10, 28, 12, 0)
    result = run(now, 7, {"a": thread("a", asked, late), "b": thread("b", asked, in_time)})
    assert (result.answered_in_time, result.late) == (1, 1)
    [message] = result.late_messages
    assert message.ticket_message_id == "a"
    assert message.respond_by == asked + 24 * HOUR
    assert message.respond_by.astimezone(PARIS).hour == 11  # 11:00 CET on Sunday


def test_the_windows_edges() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    since = now - timedelta(days=7)
    result = run(
        now,
        7,
        {
            "first-in": thread("first-in", since, since + HOUR),
            "just-out": thread("just-out", since - timedelta(microseconds=1), since),
            "unanswered-due": thread("unanswered-due", now - 24 * HOUR, None),
            "not-yet-due": thread("not-yet-due", now - 24 * HOUR + timedelta(seconds=1), None),
        },
    )
    assert result.since == since and result.until == now
    assert result.received == 3
    assert (result.answered_in_time, result.late, result.awaiting) == (1, 1, 1)
    assert result.late_rate == 0.5  # the message not yet due is not in the rate
    [late] = result.late_messages
    assert (late.ticket_message_id, late.answered_at) == ("unanswered-due", None)


def test_marked_messages_are_left_out_of_the_rate() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    asked = now - 72 * HOUR
    result = run(now, 7, {"m": thread("m", asked, None)}, {"m": asked + HOUR})
    assert (result.received, result.no_response_needed, result.late) == (1, 1, 0)
    assert result.late_rate is None and result.average_response_seconds is None


@pytest.mark.parametrize("days", [0, 1, 14, 365])
def test_only_the_marketplaces_windows(days: int) -> None:
    with pytest.raises(InvalidReportQuery, match=r"days must be one of \[7, 30, 90\]"):
        report("AMAZON", days, datetime(2026, 11, 23, tzinfo=UTC), [])
