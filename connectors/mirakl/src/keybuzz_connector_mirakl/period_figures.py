"""A marketplace's own response figure computed over named periods that end when it last
computed them (the last month, the last three months … since the beginning), declared: the
periods, shortest first, with how far back each goes, and the one call that answers every
period at once. That answer is kept while the marketplace allows no other call (``KeptFor``:
one call at a time, a failed one keeps nothing); a report's window gets the figure of the
shortest period that holds its start, named with the period, over that period."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from keybuzz_shared.connectors.seam import ResponseFigure
from keybuzz_shared.times import as_utc

from keybuzz_connector_mirakl.call_spacing import KeptFor

# Each period's name as the marketplace gives it, and how far back it goes from when the
# figures were computed (None: since the beginning), shortest first.
Periods = tuple[tuple[str, timedelta | None], ...]


@dataclass(frozen=True)
class Computed:
    """One call's answer: the average seconds of each period it gave a figure for, and
    when the marketplace computed them (None: not said, taken as when it was asked)."""

    seconds: Mapping[str, float]
    computed_at: datetime | None = None


def period_for(periods: Periods, start: datetime, now: datetime) -> str:
    """The shortest of ``periods`` ending ``now`` that holds ``start``."""
    for name, span in periods:
        if span is None or as_utc(now) - span <= as_utc(start):
            return name
    return periods[-1][0]


class PeriodFigures:
    """A shop's figure ``name`` over ``periods``, every period from one ``fetch`` kept
    ``kept_seconds``; ``slack``: how far a report's window start is moved on, since the
    window ends when the report is read and the periods when the call is made, a moment
    later (a window of a period's length is given that period, not the next longer)."""

    def __init__(
        self,
        name: str,
        periods: Periods,
        fetch: Callable[[], Awaitable[Computed]],
        *,
        kept_seconds: float,
        slack: timedelta = timedelta(0),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.periods = periods
        self.slack = slack
        self._fetch = fetch
        self._now = now
        self._kept = KeptFor(kept_seconds, self._asked)

    async def for_window(self, start: datetime, end: datetime) -> ResponseFigure | None:
        """The figure for the window [start, end], named with its period, over that
        period: from its start (None: the shop's beginning) to when the marketplace
        computed it; None when the marketplace gives none for the period. The call's
        failures are raised (a caller shows "not available")."""
        computed, asked_at = await self._kept.get()
        period = period_for(self.periods, min(start, end), asked_at)
        seconds = computed.seconds.get(period)
        if seconds is None:
            return None
        at = as_utc(computed.computed_at or asked_at)
        span = dict(self.periods)[period]
        return ResponseFigure(
            name=f"{self.name} ({period})",
            average_response_seconds=float(seconds),
            since=None if span is None else at - span,
            until=at,
            computed_at=at,
        )

    async def figure(self, since: datetime, until: datetime) -> ResponseFigure | None:
        """A session's ``figure`` (``KitSession``): the one for the report's window, its
        start moved ``slack`` on."""
        return await self.for_window(min(since + self.slack, until), until)

    async def _asked(self) -> tuple[Computed, datetime]:
        """The call's answer, and our clock when it was made: the periods end then."""
        asked_at = self._now()
        return await self._fetch(), asked_at
