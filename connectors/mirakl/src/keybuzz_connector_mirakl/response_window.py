"""The operator's response rule and its own response figure: the ``response_window`` and
``response_figures`` parts of a Mirakl connector (docs/MIRAKL.md).

Mirakl keeps its own clock on each thread (M11's ``shop_reply_needed_since``: since when the
thread waits for the shop, cleared by the shop's reply or the operator's "no reply
needed"), and the operator gives the shop its hours to answer (the catalogue's
``responseHours``): the ticket's deadline runs on that clock for that long, a tenant may set
a shorter goal. The operator's own figure is A21's ``order_messages_response_delay``
(statistics.py), which Mirakl allows once a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from keybuzz_shared.connectors.kit import KitSession
from keybuzz_shared.connectors.seam import (
    MarketplaceMark,
    MarketplaceSession,
    ResponseFigure,
    ResponseRule,
)

from keybuzz_connector_mirakl.catalogue import Operator
from keybuzz_connector_mirakl.client import MiraklClient
from keybuzz_connector_mirakl.credentials import probe
from keybuzz_connector_mirakl.orders import ShopOrders
from keybuzz_connector_mirakl.replies import ThreadReplies
from keybuzz_connector_mirakl.statistics import ResponseDelay, ResponseDelays
from keybuzz_connector_mirakl.threads import ThreadInbox

FIGURE = "order_messages_response_delay"
# A report's window ends when the report is read, A21's periods when the call is made, a
# moment later: the window is matched to A21's period of its length, not the next longer.
CALL_SLACK = timedelta(minutes=1)


class MiraklSession(KitSession):
    """One shop's session on one operator, with the shop's own figure at Mirakl."""

    def __init__(
        self, client: MiraklClient, *, page_size: int, operator_name: str, orders_interval: float
    ) -> None:
        inbox = ThreadInbox(client, operator_name=operator_name, page_size=page_size)
        orders = ShopOrders(
            client, label=f"{client.operator}/{client.shop_id}", interval=orders_interval
        )
        # The credential check's call (credentials.probe): 401/403 for a key or shop
        # Mirakl refuses.
        super().__init__(inbox, ThreadReplies(client, inbox), orders, verify=lambda: probe(client))
        self.client = client
        self.response_delays = ResponseDelays(client)

    async def response_delay(self, start: datetime, end: datetime) -> ResponseDelay | None:
        """A21's ``order_messages_response_delay`` for the window (statistics.py): the
        session's one A21 call a day."""
        return await self.response_delays.for_window(start, end)


class MiraklResponseWindow:
    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self.rule = ResponseRule(
            window=timedelta(hours=operator.response_hours),
            marketplace_clock=True,
            tenant_may_shorten=True,
        )

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        return MarketplaceMark(
            synced=False,
            note=f'only {self.operator.name}\'s staff mark a thread "no reply needed" at Mirakl',
            url=None,
        )


class MiraklResponseFigures:
    # A21 may be called once a day [official]: a figure holds that long.
    cache_seconds = 86_400.0

    async def response_delay(
        self, session: MarketplaceSession, *, since: datetime, until: datetime
    ) -> ResponseFigure | None:
        if not isinstance(session, MiraklSession):
            raise TypeError("not a Mirakl shop's session")
        found = await session.response_delay(min(since + CALL_SLACK, until), until)
        if found is None:
            return None
        return ResponseFigure(
            name=f"{FIGURE} ({found.period})",
            average_response_seconds=float(found.seconds),
            since=found.start,
            until=found.computed_at,
            computed_at=found.computed_at,
        )
