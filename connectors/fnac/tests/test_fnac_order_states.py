"""Fnac's order states as orders stores them: every state Fnac's XSD (state.xsd) defines,
through the connector's mapping (``order_states``) and ``domain.connector_order_row``, into
our status and delivery status (docs/FNAC.md, "Order states"); a state Fnac adds later."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

import pytest
from keybuzz_connector_fnac import session as order_states
from keybuzz_orders.domain import DeliveryStatus, OrderStatus, connector_order_row
from keybuzz_shared.connectors.seam import OrderLine, OrderSummary

XS = "{http://www.w3.org/2001/XMLSchema}"
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# docs/FNAC.md's table: Fnac order state -> (order status, delivery status).
EXPECTED = {
    "Created": (OrderStatus.PENDING, None),
    "Accepted": (OrderStatus.PENDING, None),
    "Refused": (OrderStatus.CANCELLED, None),
    "ToShip": (OrderStatus.CONFIRMED, DeliveryStatus.PREPARING),
    "Shipped": (OrderStatus.SHIPPED, DeliveryStatus.SHIPPED),
    "NotReceived": (OrderStatus.SHIPPED, DeliveryStatus.DELAYED),
    "Received": (OrderStatus.DELIVERED, DeliveryStatus.DELIVERED),
    "Cancelled": (OrderStatus.CANCELLED, None),
    "Refunded": (OrderStatus.RETURNED, None),
    "Error": (OrderStatus.PENDING, None),
}
EXPECTED_LINES = {
    "ToAccept": OrderStatus.PENDING,
    "Accepted": OrderStatus.PENDING,
    "Refused": OrderStatus.CANCELLED,
    "ToShip": OrderStatus.CONFIRMED,
    "Shipped": OrderStatus.SHIPPED,
    "NotReceived": OrderStatus.SHIPPED,
    "Received": OrderStatus.DELIVERED,
    "Cancelled": OrderStatus.CANCELLED,
    "Refunded": OrderStatus.RETURNED,
    "Error": OrderStatus.PENDING,
}


def _xsd_states(type_name: str) -> list[str]:
    """The enumeration of one simple type of Fnac's state.xsd, as the connector ships it."""
    xsd = resources.files("keybuzz_connector_fnac").joinpath("xsd/state.xsd")
    root = ET.fromstring(xsd.read_bytes())
    [simple] = [t for t in root.iter(f"{XS}simpleType") if t.get("name") == type_name]
    return [str(e.get("value")) for e in simple.iter(f"{XS}enumeration")]


def _stored(state: str, line_state: str = "Accepted") -> tuple[OrderStatus, str | None]:
    status, delivery = order_states.ORDER_STATES[state]
    line = OrderLine(
        line_id="1",
        state=line_state,
        status=order_states.line_status(line_state),
        product_name="Casque",
        quantity=1,
        unit_price=Decimal("19.90"),
        currency="EUR",
    )
    order = OrderSummary(
        external_id="1A2B3C4D5E6F7",
        state=state,
        status=status,
        delivery_status=delivery,
        created_at=AT,
        updated_at=AT,
        lines=(line,),
    )
    row = connector_order_row(order, "shop-1")
    assert row.marketplace_status == state  # Fnac's own word, kept beside ours
    return row.order_status, row.delivery_status


def test_the_xsd_s_states_are_the_ones_mapped() -> None:
    """A state Fnac's schema adds (or drops) fails here until it is mapped on purpose."""
    assert sorted(_xsd_states("order_state")) == sorted(EXPECTED)
    # Lines: the XSD's states; the mapping knows "Error" (an order state) for lines too.
    assert sorted(_xsd_states("order_detail_state")) == sorted(set(EXPECTED_LINES) - {"Error"})
    assert set(order_states.ORDER_STATES) == set(EXPECTED)
    assert set(order_states.LINE_STATES) == set(EXPECTED_LINES)


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_every_order_state_becomes_our_status_and_delivery(state: str) -> None:
    assert _stored(state) == EXPECTED[state]


@pytest.mark.parametrize("state", sorted(EXPECTED_LINES))
def test_every_line_state_becomes_our_status(state: str) -> None:
    assert OrderStatus(order_states.line_status(state)) is EXPECTED_LINES[state]


def test_a_state_fnac_adds_later_is_shown_pending_never_lost() -> None:
    assert _stored("Disputed", line_state="OnHold") == (OrderStatus.PENDING, None)
    assert order_states.line_status("OnHold") == OrderStatus.PENDING
