"""Response deadlines (pure): when a ticket must be answered, and how each buyer message fared.

A marketplace that measures the seller by a rule of its own brings it in its connector
(the ``response_window`` part): ``rules()`` is every such rule, read from the registry at
each call. No tenant can lengthen one, since the marketplace measures the seller by it
whatever the tenant prefers; a rule that says so (``tenant_may_shorten``) takes a tenant's
shorter window. A marketplace without one gets ``DEFAULT_RULE`` (24 hours on the calendar
clock), or the window its tenant set for it (``OVERRIDE_HOURS``).

A marketplace that keeps its own clock on each thread (``marketplace_clock``: since when the
thread waits for the seller, or that it does not) gives a ticket's deadline its start and
end: ``ThreadClock``, as its last listing of the thread said.

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
from keybuzz_shared.connectors.registry import connector_serving, connectors
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


def rules() -> dict[str, ResponseRule]:
    """Every marketplace's own rule, by marketplace, as the registry serves them now."""
    return {
        c.marketplace: c.response_window.rule for c in connectors() if c.response_window is not None
    }


def own_rule(marketplace_name: str) -> ResponseRule | None:
    """The marketplace's own rule, if it has one."""
    window = _response_window(marketplace_name)
    return None if window is None else window.rule


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
    own = rules()
    if marketplace_name not in overridable() and marketplace_name not in own:
        raise InvalidResponseWindow(
            f"marketplace must be one of {', '.join(overridable())} (a marketplace KeyBuzz "
            f"knows, as tickets carry it); {', '.join(own)} measure by a rule of their own"
        )
    rule = own.get(marketplace_name)
    if rule is not None and not rule.tenant_may_shorten:
        raise RuleNotOverridable(
            f"{marketplace_name} measures response times by its own rule "
            f"({_hours(rule):g} h on the {rule.clock.replace('_', ' ')} clock); a tenant "
            "cannot change it"
        )
    if rule is not None and not 1 <= hours <= _hours(rule):
        raise InvalidResponseWindow(
            f"{marketplace_name} gives {_hours(rule):g} h to answer by its own rule: a "
            f"tenant's window there may be shorter, from 1 to {int(_hours(rule))} h, never longer"
        )
    if hours not in OVERRIDE_HOURS:
        raise InvalidResponseWindow(
            f"hours must be between {OVERRIDE_HOURS.start} and {OVERRIDE_HOURS.stop - 1}"
        )


def _hours(rule: ResponseRule) -> float:
    return rule.window.total_seconds() / 3600


def rule_for(marketplace_name: str, override_hours: int | None = None) -> ResponseRule:
    """The marketplace's own rule (the tenant's window instead where the rule lets a tenant
    shorten it and it is shorter); else the tenant's window for it if set; else the default."""
    own = own_rule(marketplace_name)
    if own is not None:
        shorter = None if override_hours is None else timedelta(hours=override_hours)
        if own.tenant_may_shorten and shorter is not None and shorter < own.window:
            return msgspec.structs.replace(own, window=shorter)
        return own
    if override_hours is not None:
        return ResponseRule(window=timedelta(hours=override_hours))
    return DEFAULT_RULE


def _response_window(marketplace_name: str) -> ResponseWindow | None:
    connector = connector_serving(marketplace_name)
    return connector.response_window if connector is not None else None


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


class ThreadClock(msgspec.Struct, frozen=True, kw_only=True):
    """The marketplace's own clock on a ticket's thread, as its last listing gave it."""

    reply_needed_since: datetime | None  # None: the marketplace counts no reply as needed


def deadline(
    messages: Sequence[MessageFacts],
    rule: ResponseRule,
    no_response_needed_at: datetime | None,
    clock: ThreadClock | None = None,
) -> Deadline:
    """From the oldest buyer message no counting reply came after (and not closed by a
    mark); on the marketplace's ``clock`` when it keeps one on the thread."""
    ours = _our_deadline(messages, rule, no_response_needed_at)
    if clock is None:
        return ours
    since = clock.reply_needed_since
    if since is None:
        # Cleared there (a reply it saw, or its staff's "no reply needed"): nothing is due,
        # answered if we know of an answer.
        if ours.state == AWAITING_REPLY:
            return Deadline(state=NO_RESPONSE_NEEDED, respond_by=None)
        return ours
    # Waiting there since ``since``: a counting reply or an agent's mark from then on ends
    # it here before the marketplace's next listing says so.
    if any(at >= since for at in _responses(messages)):
        return Deadline(state=ANSWERED, respond_by=None)
    if no_response_needed_at is not None and no_response_needed_at >= since:
        return Deadline(state=NO_RESPONSE_NEEDED, respond_by=None)
    return Deadline(state=AWAITING_REPLY, respond_by=rule.due(since))


def _our_deadline(
    messages: Sequence[MessageFacts], rule: ResponseRule, no_response_needed_at: datetime | None
) -> Deadline:
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
        return Deadline(state=AWAITING_REPLY, respond_by=rule.due(min(pending)))
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
