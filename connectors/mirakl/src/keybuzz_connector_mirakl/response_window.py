"""The operator's response rule (its hours on Mirakl's clock of each thread) and the
shop's response figure, A21's over Mirakl's periods: docs/MIRAKL-orders.md, "The shop's
response figure (A21)"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
from keybuzz_shared.connectors.kit import Declaration, KitSession, Requester, read_as

from keybuzz_connector_mirakl.catalogue import Operator

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


def response_delays(
    calls: Requester, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> KitSession.PeriodFigures:
    """A shop's figure from A21: every period in one call, kept ``KEPT_SECONDS``."""

    async def a21() -> tuple[dict[str, float], datetime | None]:
        body = await calls.get_json(A21, {"periods": EVERY_PERIOD}, operation="A21")
        statistics = read_as(_Statistics, body, "statistics", call="A21")
        # A period given twice: its first figure.
        given = reversed(statistics.order_messages_response_delay)
        return {f.period: float(f.value) for f in given}, statistics.last_updated_date

    return KitSession.PeriodFigures(
        FIGURE, PERIODS, a21, kept_seconds=KEPT_SECONDS, slack=CALL_SLACK, now=now
    )


def response_window(operator: Operator) -> Declaration.OwnRule:
    note = f'only {operator.name}\'s staff mark a thread "no reply needed" at Mirakl'
    return Declaration.OwnRule.hours(operator.response_hours, note)
