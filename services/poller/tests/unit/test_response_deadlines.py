"""Response deadlines on a fixed clock (pure): what opens, stops and closes a ticket's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_poller.tickets.deadlines import (
    ANSWERED,
    AWAITING_REPLY,
    INBOUND,
    LATE,
    NO_RESPONSE_NEEDED,
    OUTBOUND,
    OVERDUE,
    InvalidResponseWindow,
    MessageFacts,
    RuleNotOverridable,
    check_override,
    clock_start,
    deadline,
    marketplace_mark,
    outcomes,
    response_state,
    rule_for,
)

AMAZON = rule_for("AMAZON")
# Friday 2026-10-23 18:00 UTC: Amazon's 24 hours run through the weekend.
FRIDAY = datetime(2026, 10, 23, 18, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def buyer(at: datetime, name: str = "b", *, awaits_reply: bool = True) -> MessageFacts:
    return MessageFacts(id=name, direction=INBOUND, at=at, awaits_reply=awaits_reply)


def reply(
    at: datetime, status: str = "SENT", *, automatic: bool = False, name: str = "r"
) -> MessageFacts:
    return MessageFacts(
        id=name,
        direction=OUTBOUND,
        at=at,
        reply_status=status,
        sent_at=at if status in ("SENT", "BOUNCED") else None,
        automatic=automatic,
    )


def test_amazon_gives_24_calendar_hours_across_a_weekend() -> None:
    stored = deadline([buyer(FRIDAY)], AMAZON, None)
    assert stored.state == AWAITING_REPLY
    assert stored.respond_by == datetime(2026, 10, 24, 18, 0, tzinfo=UTC)  # a Saturday
    assert response_state(stored, stored.respond_by - timedelta(seconds=1)) == AWAITING_REPLY
    assert response_state(stored, stored.respond_by) == OVERDUE


def test_a_marketplace_without_a_rule_gets_the_documented_default() -> None:
    assert rule_for("EBAY").window == timedelta(hours=24)


def test_a_tenants_window_sets_the_deadline_of_a_marketplace_without_a_rule() -> None:
    fnac = rule_for("FNAC", 48)
    assert fnac.window == timedelta(hours=48)
    assert deadline([buyer(FRIDAY)], fnac, None).respond_by == FRIDAY + 48 * HOUR
    outcome = outcomes([buyer(FRIDAY), reply(FRIDAY + 30 * HOUR)], fnac, None, FRIDAY + 50 * HOUR)
    assert [o.outcome for o in outcome] == [ANSWERED]  # late by the default, in time by 48 h


def test_amazons_24_hours_take_no_override() -> None:
    assert rule_for("AMAZON", 48).window == timedelta(hours=24)
    with pytest.raises(RuleNotOverridable, match="AMAZON measures response times by its own"):
        check_override("AMAZON", 48)


def test_a_tenants_window_is_1_to_720_hours_for_a_marketplace_name() -> None:
    check_override("FNAC", 1)
    check_override("FNAC", 720)
    for marketplace, hours in (("FNAC", 0), ("FNAC", 721), ("fnac", 48), ("", 48)):
        with pytest.raises(InvalidResponseWindow):
            check_override(marketplace, hours)


def test_the_oldest_buyer_message_not_answered_sets_the_deadline() -> None:
    messages = [
        buyer(FRIDAY, "1"),
        reply(FRIDAY + HOUR),
        buyer(FRIDAY + 2 * HOUR, "2"),
        buyer(FRIDAY + 3 * HOUR, "3"),
    ]
    assert deadline(messages, AMAZON, None).respond_by == FRIDAY + 2 * HOUR + AMAZON.window


def test_a_sent_reply_answers() -> None:
    stored = deadline([buyer(FRIDAY), reply(FRIDAY + HOUR)], AMAZON, None)
    assert (stored.state, stored.respond_by) == (ANSWERED, None)


def test_queued_failed_and_bounced_replies_do_not_stop_the_clock() -> None:
    for status in ("QUEUED", "FAILED", "BOUNCED"):
        stored = deadline([buyer(FRIDAY), reply(FRIDAY + HOUR, status)], AMAZON, None)
        assert (stored.state, stored.respond_by) == (AWAITING_REPLY, FRIDAY + AMAZON.window)


def test_an_automatic_reply_does_not_stop_the_clock() -> None:
    stored = deadline([buyer(FRIDAY), reply(FRIDAY + HOUR, automatic=True)], AMAZON, None)
    assert (stored.state, stored.respond_by) == (AWAITING_REPLY, FRIDAY + AMAZON.window)


def test_an_automatic_inbound_mail_opens_no_deadline() -> None:
    stored = deadline([buyer(FRIDAY, awaits_reply=False)], AMAZON, None)
    assert (stored.state, stored.respond_by) == (NO_RESPONSE_NEEDED, None)
    answered = deadline(
        [buyer(FRIDAY), reply(FRIDAY + HOUR), buyer(FRIDAY + 2 * HOUR, awaits_reply=False)],
        AMAZON,
        None,
    )
    assert answered.state == ANSWERED


def seller_at_marketplace(at: datetime, name: str = "s") -> MessageFacts:
    """The seller's own message in the marketplace's back office (no reply of ours)."""
    return MessageFacts(id=name, direction=OUTBOUND, at=at, by_seller_at_marketplace=True)


def test_the_sellers_message_in_the_marketplaces_back_office_answers_when_written() -> None:
    fnac = rule_for("FNAC")
    stored = deadline([buyer(FRIDAY), seller_at_marketplace(FRIDAY + HOUR)], fnac, None)
    assert (stored.state, stored.respond_by) == (ANSWERED, None)
    # A buyer writing again after it waits again; one written before it is not answered by it.
    again = [buyer(FRIDAY), seller_at_marketplace(FRIDAY + HOUR), buyer(FRIDAY + 2 * HOUR)]
    assert deadline(again, fnac, None).respond_by == FRIDAY + 2 * HOUR + fnac.window
    [counted] = outcomes(
        [buyer(FRIDAY), seller_at_marketplace(FRIDAY + 30 * HOUR)], fnac, None, FRIDAY + 40 * HOUR
    )
    assert (counted.answered_at, counted.outcome) == (FRIDAY + 30 * HOUR, LATE)
    # Our own reply still answers only once SENT, whoever wrote it.
    queued = deadline([buyer(FRIDAY), reply(FRIDAY + HOUR, "QUEUED")], fnac, None)
    assert queued.state == AWAITING_REPLY


def test_no_response_needed_closes_the_messages_until_the_mark_only() -> None:
    marked = deadline([buyer(FRIDAY)], AMAZON, FRIDAY + HOUR)
    assert (marked.state, marked.respond_by) == (NO_RESPONSE_NEEDED, None)
    later = deadline([buyer(FRIDAY), buyer(FRIDAY + 2 * HOUR)], AMAZON, FRIDAY + HOUR)
    assert (later.state, later.respond_by) == (AWAITING_REPLY, FRIDAY + 2 * HOUR + AMAZON.window)


def test_the_clock_starts_when_our_mx_accepted_the_mail() -> None:
    stored_at = FRIDAY + HOUR
    assert clock_start(FRIDAY, stored_at) == FRIDAY
    assert clock_start(None, stored_at) == stored_at
    assert clock_start(stored_at + HOUR, stored_at) == stored_at  # a clock ahead: ours


def test_each_buyer_message_counted_the_marketplace_way() -> None:
    messages = [
        buyer(FRIDAY, "in-time"),
        reply(FRIDAY + 23 * HOUR, name="r1"),
        buyer(FRIDAY + 30 * HOUR, "late"),
        reply(FRIDAY + 55 * HOUR, name="r2"),
        buyer(FRIDAY + 60 * HOUR, "unanswered"),
        buyer(FRIDAY + 100 * HOUR, "pending"),
    ]
    now = FRIDAY + 110 * HOUR
    result = {o.message_id: o for o in outcomes(messages, AMAZON, None, now)}
    assert result["in-time"].outcome == ANSWERED
    assert result["in-time"].response_seconds == 23 * 3600
    assert result["late"].outcome == LATE
    assert result["unanswered"].outcome == LATE
    assert result["unanswered"].answered_at is None
    assert result["pending"].outcome == AWAITING_REPLY


def test_a_reply_exactly_at_the_deadline_is_in_time() -> None:
    messages = [buyer(FRIDAY), reply(FRIDAY + AMAZON.window)]
    [outcome] = outcomes(messages, AMAZON, None, FRIDAY + 48 * HOUR)
    assert outcome.outcome == ANSWERED


def test_a_marked_message_is_left_out_unless_answered_before_the_mark() -> None:
    marked = outcomes([buyer(FRIDAY)], AMAZON, FRIDAY + HOUR, FRIDAY + 48 * HOUR)
    assert [o.outcome for o in marked] == [NO_RESPONSE_NEEDED]
    answered_then_marked = outcomes(
        [buyer(FRIDAY), reply(FRIDAY + HOUR)], AMAZON, FRIDAY + 2 * HOUR, FRIDAY + 48 * HOUR
    )
    assert [o.outcome for o in answered_then_marked] == [ANSWERED]


def test_amazon_mark_links_to_the_order_in_the_sellers_seller_central() -> None:
    mark = marketplace_mark("AMAZON", "171-1234567-1234567", "FR")
    assert not mark.synced
    assert "no API" in mark.note
    assert mark.url == "https://sellercentral.amazon.fr/orders-v3/order/171-1234567-1234567"
    without_order = marketplace_mark("AMAZON", None, "FR")
    assert without_order.url is None
    assert "order id is unknown" in without_order.note
