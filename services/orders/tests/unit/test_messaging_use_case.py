"""Amazon's templated messages on in-memory ports: the order must be the tenant's (its
marketplace is the one asked), bad input never reaches the marketplace. The Messaging
API's refusals and the HTTP mapping stay in ``test_messaging_actions.py``; the fake is held
to the Messaging client by ``test_order_source_contract.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from keybuzz_connector_amazon.messaging import MessagingAction
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_orders.domain import InvalidOrderId, OrderNotFound
from keybuzz_orders.messaging import InvalidMessage, MessageRequest, OrderMessaging
from orders_fakes import FR, NOW, FakeBuyerMessaging, fake_orders, shipped_order

TENANT, ORDER = "t-shop", "407-1000000-0000001"


async def messaging() -> tuple[OrderMessaging, FakeBuyerMessaging]:
    fake, marketplace = fake_orders(), FakeBuyerMessaging()
    marketplace.allowed[ORDER] = ["confirmOrderDetails"]
    row = shipped_order(ORDER, placed=NOW - timedelta(days=1), updated=NOW)
    await fake.orders.upsert_orders(TENANT, AMAZON, [row])
    return OrderMessaging(fake.ports.orders, marketplace), marketplace


async def test_the_tenant_s_order_is_asked_in_its_marketplace() -> None:
    use_case, marketplace = await messaging()
    assert await use_case.actions(TENANT, ORDER) == ["confirmOrderDetails"]
    text = MessageRequest(MessagingAction.CONFIRM_ORDER_DETAILS, text="Your mug ships today")
    await use_case.send(TENANT, ORDER, text)
    assert marketplace.asked == [(TENANT, ORDER, FR)]
    ((_, _, marketplace_id, action, body),) = marketplace.sent
    assert (marketplace_id, action, body.text) == (FR, text.action, "Your mug ships today")


async def test_another_tenant_s_order_or_bad_input_never_reaches_the_marketplace() -> None:
    use_case, marketplace = await messaging()
    with pytest.raises(OrderNotFound):
        await use_case.actions("t-other", ORDER)
    with pytest.raises(InvalidOrderId):
        await use_case.actions(TENANT, "not-an-order")
    with pytest.raises(InvalidMessage, match="needs a text"):
        await use_case.send(TENANT, ORDER, MessageRequest(MessagingAction.CONFIRM_ORDER_DETAILS))
    assert marketplace.asked == [] and marketplace.sent == []
