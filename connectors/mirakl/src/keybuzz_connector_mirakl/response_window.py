"""The operator's response rule and the shop's own response figure: the
``response_window`` and ``response_figures`` parts of a Mirakl connector (docs/MIRAKL.md),
the figure read on the shop's session (the ``KitSession``'s ``figure``).

Mirakl keeps its own clock on each thread (M11's ``shop_reply_needed_since``: since when the
thread waits for the shop, cleared by the shop's reply or the operator's "no reply
needed"), and the operator gives the shop its hours to answer (the catalogue's
``responseHours``): the ticket's deadline runs on that clock for that long, a tenant may set
a shorter goal.

The shop's own figure is A21 ``GET /api/account/statistics``'s
``order_messages_response_delay``, the average seconds the shop takes to answer a
customer's order message [official] (docs/MIRAKL-orders.md, "The shop's response figure
(A21)"), for periods that end when Mirakl last computed them (``last_updated_date``): the
last month, three months, six months, year, or since the beginning. The figure for a
window is the one of the shortest period that holds the window's start, said with its
period. A21 may be called once a day [official] (the client obeys its Retry-After):
``ResponseDelays`` asks for every period in that one call and keeps them a day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
from keybuzz_shared.connectors.kit import KeptFor
from keybuzz_shared.connectors.kit.response_parts import OwnRule, SessionFigures
from keybuzz_shared.connectors.seam import AnswerUnreadable, ResponseFigure, ResponseRule
from keybuzz_shared.times import as_utc

from keybuzz_connector_mirakl.catalogue import Operator
from keybuzz_connector_mirakl.orders import OrderCalls

FIGURE = "order_messages_response_delay"
A21 = "/api/account/statistics"
# A21's periods, shortest first, with how far back each goes (None: since the beginning).
# Mirakl names them by calendar words; the spans are ours (a month as 30 days).
PERIODS: tuple[tuple[str, timedelta | None], ...] = (
    ("LAST_MONTH", timedelta(days=30)),
    ("LAST_THREE_MONTHS", timedelta(days=91)),
    ("LAST_SIX_MONTHS", timedelta(days=182)),
    ("LAST_YEAR", timedelta(days=365)),
    ("ALL_SINCE_BEGINNING", None),
)
EVERY_PERIOD = ",".join(name for name, _ in PERIODS)  # A21's ``periods``: comma-separated
KEPT_SECONDS = 86_400.0  # A21 may be called once a day [official]
# A report's window ends when the report is read, A21's periods when the call is made, a
# moment later: the window is matched to A21's period of its length, not the next longer.
CALL_SLACK = timedelta(minutes=1)


class _Figure(msgspec.Struct, frozen=True):
    period: str
    value: int


class _Statistics(msgspec.Struct, frozen=True):
    order_messages_response_delay: list[_Figure] = []
    last_updated_date: datetime | None = None


def period_for(start: datetime, now: datetime) -> str:
    """The shortest of A21's periods ending ``now`` that holds ``start``."""
    for name, span in PERIODS:
        if span is None or as_utc(now) - span <= as_utc(start):
            return name
    return PERIODS[-1][0]


class ResponseDelays:
    """A shop's ``order_messages_response_delay`` from A21: every period in one call, kept
    ``KEPT_SECONDS`` (``kit.KeptFor``: one call at a time, a failed one keeps nothing);
    each window gets the period holding its start, ended when the call was made."""

    def __init__(
        self, calls: OrderCalls, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.calls = calls
        self.now = now
        self._kept = KeptFor(KEPT_SECONDS, self._statistics)

    async def for_window(self, start: datetime, end: datetime) -> ResponseFigure | None:
        """Mirakl's figure for the window [start, end], named with its period (A21's
        word), over that period: from its start (None: the shop's beginning) to when
        Mirakl computed it; None when Mirakl gives none for the period. The client's
        failures are raised (a caller shows "not available"); AnswerUnreadable for an
        answer that is not A21's."""
        statistics, asked_at = await self._kept.get()
        period = period_for(min(start, end), asked_at)
        delays = statistics.order_messages_response_delay
        figure = next((f for f in delays if f.period == period), None)
        if figure is None:
            return None
        computed = as_utc(statistics.last_updated_date or asked_at)
        span = dict(PERIODS)[period]
        return ResponseFigure(
            name=f"{FIGURE} ({period})",
            average_response_seconds=float(figure.value),
            since=None if span is None else computed - span,
            until=computed,
            computed_at=computed,
        )

    async def figure(self, since: datetime, until: datetime) -> ResponseFigure | None:
        """The session's ``figure``: A21's for the report's window, its start moved
        ``CALL_SLACK`` on."""
        return await self.for_window(min(since + CALL_SLACK, until), until)

    async def _statistics(self) -> tuple[_Statistics, datetime]:
        """A21's every period, and our clock when it was called: its periods end then."""
        asked_at = self.now()
        body = await self.calls.get_json(A21, {"periods": EVERY_PERIOD}, operation="A21")
        try:
            return msgspec.convert(body, _Statistics), asked_at
        except msgspec.ValidationError as exc:
            raise AnswerUnreadable(f"A21 answered no statistics: {exc}") from None


async def order_messages_response_delay(
    calls: OrderCalls,
    start: datetime,
    end: datetime,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ResponseFigure | None:
    """One A21 call's figure for the window [start, end] (``ResponseDelays.for_window``)."""
    return await ResponseDelays(calls, now=now).for_window(start, end)


def response_window(operator: Operator) -> OwnRule:
    """The operator's rule: its hours, on Mirakl's clock of each thread; a tenant may set a
    shorter goal."""
    rule = ResponseRule(
        window=timedelta(hours=operator.response_hours),
        marketplace_clock=True,
        tenant_may_shorten=True,
    )
    return OwnRule(rule, f'only {operator.name}\'s staff mark a thread "no reply needed" at Mirakl')


# A figure holds as long as A21's answer is kept.
RESPONSE_FIGURES = SessionFigures(KEPT_SECONDS, "Mirakl")
