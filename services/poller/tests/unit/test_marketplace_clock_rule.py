"""A deadline on the marketplace's own clock, and a rule a tenant may shorten (pure, on a
fixed clock): where it starts, what ends it, what a tenant's window does to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_devstack.testing import ThrowawayConnector
from keybuzz_poller.tickets.deadlines import (
    ANSWERED,
    AWAITING_REPLY,
    NO_RESPONSE_NEEDED,
    InvalidResponseWindow,
    ResponseRule,
    ThreadClock,
    check_override,
    deadline,
    rule_for,
)
from keybuzz_shared.connectors.registry import registered
from keybuzz_shared.connectors.seam import MarketplaceMark, ResponseWindow
from test_response_deadlines import buyer, reply

RULE = ResponseRule(window=timedelta(hours=24), marketplace_clock=True, tenant_may_shorten=True)
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class _Window:
    rule = RULE

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        return MarketplaceMark(synced=False, note="at the marketplace", url=None)


class _Shortenable(ThrowawayConnector):
    def __init__(self) -> None:
        self.response_window: ResponseWindow | None = _Window()


@pytest.fixture
def shortenable() -> Iterator[None]:
    with registered(_Shortenable()):
        yield


def test_the_deadline_starts_where_the_marketplace_says_the_thread_waits() -> None:
    since = NOON - 5 * HOUR  # before the message we stored: the marketplace's own start
    stored = deadline([buyer(NOON)], RULE, None, ThreadClock(reply_needed_since=since))
    assert (stored.state, stored.respond_by) == (AWAITING_REPLY, since + 24 * HOUR)
    # Without the marketplace's clock: ours, from the message.
    assert deadline([buyer(NOON)], RULE, None).respond_by == NOON + 24 * HOUR


def test_cleared_by_the_marketplace_nothing_is_due_answered_if_we_know_an_answer() -> None:
    cleared = ThreadClock(reply_needed_since=None)
    assert deadline([buyer(NOON)], RULE, None, cleared).state == NO_RESPONSE_NEEDED
    answered = deadline([buyer(NOON), reply(NOON + HOUR)], RULE, None, cleared)
    assert (answered.state, answered.respond_by) == (ANSWERED, None)


def test_a_reply_or_a_mark_from_the_start_on_ends_it_an_earlier_one_does_not() -> None:
    since = NOON + 2 * HOUR
    clock = ThreadClock(reply_needed_since=since)
    messages = [buyer(NOON), reply(NOON + HOUR)]  # answered, then the marketplace waits again
    assert deadline(messages, RULE, None, clock).state == AWAITING_REPLY
    assert deadline([*messages, reply(since, name="r2")], RULE, None, clock).state == ANSWERED
    assert deadline(messages, RULE, since + HOUR, clock).state == NO_RESPONSE_NEEDED
    assert deadline(messages, RULE, since - HOUR, clock).state == AWAITING_REPLY


def test_a_tenant_may_shorten_a_rule_that_allows_it_never_lengthen_it(shortenable: None) -> None:
    assert rule_for("THROWAWAY", 6).window == 6 * HOUR
    assert rule_for("THROWAWAY", 6).marketplace_clock  # the rule's clock kept
    assert rule_for("THROWAWAY", 48).window == 24 * HOUR  # a longer one stored: the rule's
    assert rule_for("THROWAWAY").window == 24 * HOUR
    check_override("THROWAWAY", 1)
    check_override("THROWAWAY", 24)
    for hours in (0, 25, 720):
        with pytest.raises(InvalidResponseWindow, match="from 1 to 24 h, never longer"):
            check_override("THROWAWAY", hours)
