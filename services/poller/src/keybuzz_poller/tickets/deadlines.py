"""Response deadlines (pure): when a ticket must be answered, and how each buyer message fared.

A marketplace that measures the seller by a rule of its own brings it in its connector
(the ``response_window`` part): ``RULES`` is every such rule, and no tenant can override
one, since the marketplace measures the seller by it whatever the tenant prefers. A
marketplace without one gets ``DEFAULT_RULE`` (24 hours on the calendar clock), or the
window its tenant set for it (``OVERRIDE_HOURS``).

What counts (docs/POLLER.md, "Response deadlines"): a buyer message opens a deadline
(``awaits_reply``: not an auto-reply, a report or a notification); a reply answers it once
the relay accepted it (``SENT``) and only if it is not marked automatic; a reply QUEUED,
FAILED or BOUNCED does not stop the clock. A message the seller wrote in a marketplace's
back office answers when it was written there. An agent's "no response needed" closes the
messages received up to that moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import msgspec
from keybuzz_shared.connectors.registry import UnknownMarketplace, connector_for, connectors
from keybuzz_shared.connectors.seam import MarketplaceMark as MarketplaceMark
from keybuzz_shared.connectors.seam import ResponseRule as ResponseRule
from keybuzz_shared.connectors.seam import ResponseWindow

AWAITING_REPLY = "AWAITING_REPLY"
ANSWERED = "ANSWERED"
NO_RESPONSE_NEEDED = "NO_RESPONSE_NEEDED"
OVERDUE = "OVERDUE"
LATE = "LATE"  # a buyer message, not a ticket: answered after its deadline, or not at all
RESPONSE_STATES = frozenset({AWAITING_REPLY, ANSWERED, NO_RESPONSE_NEEDED, OVERDUE})
INBOUND = "INBOUND"
OUTBOUND = "OUTBOUND"
SENT = "SENT"


RULES: dict[str, ResponseRule] = {
    c.marketplace: c.response_window.rule for c in connectors() if c.response_window is not None
}
DEFAULT_RULE = ResponseRule(window=timedelta(hours=24))


OVERRIDE_HOURS = range(1, 721)  # a tenant's window for a marketplace without a rule: 1 h to 30 d


class InvalidResponseWindow(Exception):
    """A tenant's response window out of bounds, or for a marketplace name that is none."""


class RuleNotOverridable(Exception):
    """A tenant's response window for a marketplace that measures by its own rule."""


def overridable() -> tuple[str, ...]:
    """The marketplaces a tenant may set a window for: those the registry serves (read at
    each call), without a rule of their own."""
    return tuple(c.marketplace for c in connectors() if c.response_window is None)


def check_override(marketplace_name: str, hours: int) -> None:
    if marketplace_name not in overridable() and marketplace_name not in RULES:
        raise InvalidResponseWindow(
            f"marketplace must be one of {', '.join(overridable())} (a marketplace KeyBuzz "
            f"knows, as tickets carry it); {', '.join(RULES)} measure by a rule of their own"
        )
    if marketplace_name in RULES:
        raise RuleNotOverridable(
            f"{marketplace_name} measures response times by its own rule "
            f"({RULES[marketplace_name].window.total_seconds() / 3600:g} h on the calendar "
            "clock); a tenant cannot change it"
        )
    if hours not in OVERRIDE_HOURS:
        raise InvalidResponseWindow(
            f"hours must be between {OVERRIDE_HOURS.start} and {OVERRIDE_HOURS.stop - 1}"
        )


def rule_for(marketplace_name: str, override_hours: int | None = None) -> ResponseRule:
    """The marketplace's own rule; else the tenant's window for it if set; else the default."""
    own = RULES.get(marketplace_name)
    if own is not None:
        return own
    if override_hours is not None:
        return ResponseRule(window=timedelta(hours=override_hours))
    return DEFAULT_RULE


def _response_window(marketplace_name: str) -> ResponseWindow | None:
    try:
        return connector_for(marketplace_name).response_window
    except UnknownMarketplace:
        return None


def marketplace_mark(
    marketplace_name: str, order_id: str | None, country: str | None
) -> MarketplaceMark:
    """Where the agent marks "no response needed" on the marketplace's side, if it is known."""
    window = _response_window(marketplace_name)
    if window is None:
        return MarketplaceMark(
            synced=False, note="this marketplace's own mark is not known to KeyBuzz", url=None
        )
    return window.mark(order_id, country)


class MessageFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the deadline needs of one ticket message."""

    id: str
    direction: str  # INBOUND (the buyer's side) or OUTBOUND (an agent's reply)
    at: datetime  # INBOUND: when it reached us; OUTBOUND: when it was written
    awaits_reply: bool = False  # INBOUND only: a buyer message, not an automatic mail
    reply_status: str | None = None  # OUTBOUND only: QUEUED, SENT, FAILED, BOUNCED
    sent_at: datetime | None = None  # OUTBOUND only: when the relay accepted it
    automatic: bool = False  # OUTBOUND only: sent by a rule, not by an agent
    # OUTBOUND only: the seller's own message in the marketplace's back office, read back
    # by a poll; it answers at ``at``, when the marketplace says it was written.
    by_seller_at_marketplace: bool = False


class Deadline(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket's stored response state (never OVERDUE: that depends on the clock)."""

    state: str
    respond_by: datetime | None


class MessageOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """One buyer message as the marketplace counts it."""

    message_id: str
    received_at: datetime
    respond_by: datetime
    answered_at: datetime | None
    outcome: str  # ANSWERED (in time), LATE, NO_RESPONSE_NEEDED or AWAITING_REPLY (not yet due)

    @property
    def response_seconds(self) -> float | None:
        if self.answered_at is None:
            return None
        return (self.answered_at - self.received_at).total_seconds()


def clock_start(accepted_at: datetime | None, stored_at: datetime) -> datetime:
    """When a buyer message reached us: the MX's acceptance if known, else when it was stored."""
    if accepted_at is not None and accepted_at <= stored_at:
        return accepted_at
    return stored_at


def answered_at(message: MessageFacts) -> datetime | None:
    """When the message answers the buyer: a reply once SENT and not automatic, the
    seller's message in the marketplace's back office when it was written; else None."""
    if message.direction != OUTBOUND or message.automatic:
        return None
    if message.by_seller_at_marketplace:
        return message.at
    return message.sent_at if message.reply_status == SENT else None


def _buyer_messages(messages: Iterable[MessageFacts]) -> list[MessageFacts]:
    return [m for m in messages if m.direction == INBOUND and m.awaits_reply]


def _responses(messages: Iterable[MessageFacts]) -> list[datetime]:
    return sorted(at for m in messages if (at := answered_at(m)) is not None)


def deadline(
    messages: Sequence[MessageFacts], rule: ResponseRule, no_response_needed_at: datetime | None
) -> Deadline:
    """From the oldest buyer message no counting reply came after (and not closed by a mark)."""
    buyer = _buyer_messages(messages)
    responses = _responses(messages)
    last_response = responses[-1] if responses else None
    pending = [
        m.at
        for m in buyer
        if (last_response is None or m.at > last_response)
        and (no_response_needed_at is None or m.at > no_response_needed_at)
    ]
    if pending:
        return Deadline(state=AWAITING_REPLY, respond_by=min(pending) + rule.window)
    if last_response is not None and (
        no_response_needed_at is None or last_response >= no_response_needed_at
    ):
        return Deadline(state=ANSWERED, respond_by=None)
    # Marked by an agent, or nothing a buyer wrote (auto-replies, notifications only).
    return Deadline(state=NO_RESPONSE_NEEDED, respond_by=None)


def response_state(stored: Deadline, now: datetime) -> str:
    """The state an agent sees: AWAITING_REPLY turns OVERDUE once its deadline has passed."""
    if (
        stored.state == AWAITING_REPLY
        and stored.respond_by is not None
        and now >= stored.respond_by
    ):
        return OVERDUE
    return stored.state


def outcomes(
    messages: Sequence[MessageFacts],
    rule: ResponseRule,
    no_response_needed_at: datetime | None,
    now: datetime,
) -> list[MessageOutcome]:
    """Each buyer message: answered by the first counting reply after it, in time or late."""
    responses = _responses(messages)
    result = []
    for message in _buyer_messages(messages):
        respond_by = message.at + rule.window
        answered_at = next((r for r in responses if r >= message.at), None)
        result.append(
            MessageOutcome(
                message_id=message.id,
                received_at=message.at,
                respond_by=respond_by,
                answered_at=answered_at,
                outcome=_outcome(message.at, respond_by, answered_at, no_response_needed_at, now),
            )
        )
    return result


def _outcome(
    received_at: datetime,
    respond_by: datetime,
    answered_at: datetime | None,
    no_response_needed_at: datetime | None,
    now: datetime,
) -> str:
    marked_at = no_response_needed_at
    marked = marked_at is not None and marked_at >= received_at
    answered_first = answered_at is not None and (marked_at is None or answered_at <= marked_at)
    if answered_at is not None and (not marked or answered_first):
        return ANSWERED if answered_at <= respond_by else LATE
    if marked:
        return NO_RESPONSE_NEEDED
    return LATE if now >= respond_by else AWAITING_REPLY
