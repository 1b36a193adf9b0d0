"""The marketplace's templated messages for a tenant's order (the order feed's buyer
messaging), free of HTTP.

The order must be the tenant's own (a row of ``orders``): its marketplace id is the one
the marketplace wants, and another tenant's order is refused before the marketplace is
asked. The marketplace decides which actions an order allows; a send it refuses comes
back as one of the feed's ``refusal_statuses`` with its code and message. Nothing is
stored here: the message is the marketplace's to keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keybuzz_shared.connectors.orders import MessageBody, MessagingAction

from keybuzz_orders.domain import (
    InvalidOrderId,
    OrderNotFound,
    as_utc,
    is_order_id,
    messaging_order_ids,
)
from keybuzz_orders.order_source import feed_connector, order_feed
from keybuzz_orders.ports import BuyerMessaging, OrderStore

MESSAGING = feed_connector().display_name  # as sellers call it


class InvalidMessage(ValueError):
    """The request cannot become a message the marketplace accepts (checked before asking it)."""


@dataclass(frozen=True)
class MessageRequest:
    action: MessagingAction
    text: str | None = None
    coverage_start_date: datetime | None = None
    coverage_end_date: datetime | None = None


def message_body(request: MessageRequest) -> MessageBody:
    """The model's body for the action, or InvalidMessage saying what does not fit."""
    action = request.action
    limit = order_feed().text_max_length.get(action)
    if limit is None and request.text is not None:
        raise InvalidMessage(f"{action.value} takes no text ({MESSAGING} sends a fixed template)")
    if limit is not None and not (request.text and request.text.strip()):
        raise InvalidMessage(f"{action.value} needs a text for the buyer")
    if request.text is not None and len(request.text) > (limit or 0):
        raise InvalidMessage(f"text of {action.value} is at most {limit} characters")
    dates = (request.coverage_start_date, request.coverage_end_date)
    if action is not MessagingAction.WARRANTY and any(dates):
        raise InvalidMessage("coverageStartDate/coverageEndDate belong to warranty only")
    start, end = (as_utc(d) for d in dates)
    if start and end and end < start:
        raise InvalidMessage("coverageEndDate is before coverageStartDate")
    return MessageBody(text=request.text, coverage_start_date=start, coverage_end_date=end)


@dataclass(frozen=True)
class OrderMessaging:
    orders: OrderStore
    client: BuyerMessaging

    async def _marketplace_of(self, tenant_id: str, order_id: str) -> str:
        """The order's marketplace id; ``InvalidOrderId``/``OrderNotFound`` before the
        marketplace is asked."""
        if not is_order_id(order_id, messaging_order_ids()):
            raise InvalidOrderId(messaging=True)
        found = await self.orders.marketplace_of(tenant_id, order_id)
        if found is None:  # not the tenant's, or no marketplace id to ask in
            raise OrderNotFound(order_id)
        return found

    async def actions(self, tenant_id: str, order_id: str) -> list[str]:
        marketplace_id = await self._marketplace_of(tenant_id, order_id)
        return await self.client.actions_for_order(tenant_id, order_id, marketplace_id)

    async def send(self, tenant_id: str, order_id: str, request: MessageRequest) -> None:
        body = message_body(request)  # before any I/O: bad input never reaches the marketplace
        marketplace_id = await self._marketplace_of(tenant_id, order_id)
        await self.client.send(tenant_id, order_id, marketplace_id, request.action, body)
